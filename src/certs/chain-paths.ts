// Every path from a client certificate, through the certificates the client sent, to a
// configured CA, each as its checks in order (RFC 5280 section 6.1 as openssl applies it
// for `-purpose sslclient`). Names, key identifiers and signatures link a path; CA flags, key
// usage, path length, extended key usage, name constraints, revocation and depth are decided
// once; validity
// periods of certificates and CRLs stay windows, so that the result can be cached while the
// clock is still read at every use.
import { refuse, type AdmissionCode, type Refusal } from "./admission.ts";
import { describeExtension, type CertificateFacts } from "./certificate-facts.ts";
import { formatInstant } from "./reason-text.ts";
import { nameViolation } from "./name-constraints.ts";
import type { RevocationLists } from "./revocation-lists.ts";
import { keyIdsAgree, signedBy, type TrustAnchors } from "./trust-anchors.ts";
import { x509 } from "./x509.ts";

/** One check of a path: a fixed refusal, or a window the clock must fall in. */
export type PathCheck =
  | { kind: "fail"; refusal: Refusal }
  | { kind: "window"; from: number; to: number; early: Refusal; late: Refusal; warnOnly: boolean; source?: string };

export type PathSearch = {
  /** Complete paths, each ending at a configured CA (named as reasons name it), as their checks in order. */
  paths: readonly Readonly<{ anchor: string; checks: readonly PathCheck[] }>[];
  /** When no path is complete: why, to follow the leaf's name in the refusal. */
  deadEnd: string | undefined;
};

export type PathRules = Readonly<{ maxChainDepth: number; allowStaleCrls: boolean }>;

type Link = { facts: CertificateFacts; trusted: boolean };

// A bound on the work one validation may do whatever a client sends: certificates sharing
// names can form many candidate paths, and a signature check costs up to 0.1 ms.
export const MAX_SIGNATURE_CHECKS = 64;

const KU = x509.KeyUsageFlags;
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

/**
 * Finds and checks the paths from `leaf` to the configured CAs. `presented` are the other
 * certificates the client sent, in any order; a configured CA among them counts as configured.
 *
 * @example searchPaths(leaf, [intermediate], anchors, crls, { maxChainDepth: 8, allowStaleCrls: false })
 */
export function searchPaths(
  leaf: CertificateFacts,
  presented: readonly CertificateFacts[],
  anchors: TrustAnchors,
  crls: RevocationLists,
  rules: PathRules,
): PathSearch {
  const search = new Search(presented, anchors, crls, rules);
  try {
    search.walk([{ facts: leaf, trusted: false }]);
  } catch (error) {
    if (error !== GAVE_UP) throw error;
    return { paths: search.paths, deadEnd: `: gave up after ${MAX_SIGNATURE_CHECKS} signature checks among the certificates sent` };
  }
  return { paths: search.paths, deadEnd: search.deadEnd?.text };
}

const GAVE_UP = Symbol("gave up");

class Search {
  readonly paths: { anchor: string; checks: PathCheck[] }[] = [];
  deadEnd: { length: number; text: string | undefined } | undefined;
  readonly #presented: readonly CertificateFacts[];
  readonly #anchors: TrustAnchors;
  readonly #crls: RevocationLists;
  readonly #rules: PathRules;
  readonly #signatures = new Map<string, boolean>();

  constructor(presented: readonly CertificateFacts[], anchors: TrustAnchors, crls: RevocationLists, rules: PathRules) {
    this.#presented = presented;
    this.#anchors = anchors;
    this.#crls = crls;
    this.#rules = rules;
  }

  /** Extends `path` by every issuer of its last certificate, configured CAs first (as openssl tries them). */
  walk(path: Link[]): void {
    const cert = path[path.length - 1]!.facts;
    let extended = false;
    let forgedBy: CertificateFacts | undefined;
    for (const anchor of this.#anchors.issuersOf(cert)) {
      if (onPath(path, anchor)) continue;
      if (!this.#signed(cert, anchor)) {
        forgedBy ??= anchor;
        continue;
      }
      extended = true;
      const next = [...path, { facts: anchor, trusted: true }];
      if (this.#anchors.endsPath(anchor)) this.paths.push({ anchor: anchor.name, checks: this.#check(next) });
      else this.walk(next);
    }
    for (const candidate of this.#presented) {
      if (candidate.subjectKey !== cert.issuerKey || !keyIdsAgree(cert.authorityKeyId, candidate)) continue;
      if (onPath(path, candidate) || this.#anchors.has(candidate.sha256)) continue;
      if (!this.#signed(cert, candidate)) {
        forgedBy ??= candidate;
        continue;
      }
      extended = true;
      this.walk([...path, { facts: candidate, trusted: false }]);
    }
    if (!extended && (this.deadEnd === undefined || path.length > this.deadEnd.length)) {
      this.deadEnd = { length: path.length, text: describeDeadEnd(path, forgedBy) };
    }
  }

  #signed(cert: CertificateFacts, issuer: CertificateFacts): boolean {
    const key = `${cert.sha256}>${issuer.sha256}`;
    let verdict = this.#signatures.get(key);
    if (verdict === undefined) {
      if (this.#signatures.size >= MAX_SIGNATURE_CHECKS) throw GAVE_UP;
      verdict = signedBy(cert, issuer);
      this.#signatures.set(key, verdict);
    }
    return verdict;
  }

  /** The checks of one complete path, leaf first, each certificate's structure before its dates and revocation. */
  #check(path: readonly Link[]): PathCheck[] {
    const checks: PathCheck[] = [];
    const leaf = path[0]!.facts;
    const last = path.length - 1;
    const depth = last - 1;
    if (depth > this.#rules.maxChainDepth) {
      checks.push(fail("CERT_CHAIN_TOO_LONG", `certificate ${leaf.name} is ${depth} intermediate CAs below trusted CA ${path[last]!.facts.name}: at most ${this.#rules.maxChainDepth} are accepted`));
    }
    if (leaf.extendedKeyUsage !== undefined && !leaf.extendedKeyUsage.includes(CLIENT_AUTH)) {
      checks.push(fail("CERT_WRONG_USAGE", `certificate ${leaf.name} is not for client authentication: its extended key usage lacks clientAuth`));
    }
    // A TLS client signs with its key (or, in old suites, agrees on one): openssl asks for either bit.
    if (leaf.keyUsage !== undefined && (leaf.keyUsage & (KU.digitalSignature | KU.keyAgreement)) === 0) {
      checks.push(fail("CERT_WRONG_USAGE", `certificate ${leaf.name} is not for client authentication: its keyUsage lacks digitalSignature`));
    }
    this.#revocation(checks, path, 0);
    // CAs between the one checked and the leaf, as pathLenConstraint counts them (self-issued ones do not).
    let below = 0;
    for (let i = 1; i <= last; i++) {
      const { facts, trusted } = path[i]!;
      // A configured CA that is not the path's end (its issuer is configured too) is an intermediate.
      const role = roleOf(path, i);
      if (!trusted) checks.push(...caStructure(facts, role));
      if (facts.pathLength !== undefined && below > facts.pathLength) {
        const between = below === 1 ? "1 CA stands" : `${below} CAs stand`;
        checks.push(fail("CERT_INVALID", `${role} has pathLenConstraint ${facts.pathLength}, but ${between} between it and ${leaf.name}`));
      }
      // Extended key usage in a CA restricts what it may issue, as openssl reads it for sslclient.
      if (facts.extendedKeyUsage !== undefined && !facts.extendedKeyUsage.includes(CLIENT_AUTH)) {
        checks.push(fail("CERT_WRONG_USAGE", `${role} may not issue client certificates: its extended key usage lacks clientAuth`));
      }
      checks.push(i === last ? anchorWindow(facts, leaf) : intermediateWindow(facts, role));
      this.#revocation(checks, path, i);
      if (facts.subjectKey !== facts.issuerKey) below++;
    }
    checks.push(...nameChecks(path));
    return checks;
  }

  /** Revocation of `path[i]` by its issuer's CRL, when one is loaded: listed, and the CRL's own window. */
  #revocation(checks: PathCheck[], path: readonly Link[], i: number): void {
    const { facts } = path[i]!;
    const next = path[i + 1];
    // The end of a path is checked against its own CRL only when it issued itself (a root).
    const issuer = next?.facts ?? (facts.subjectKey === facts.issuerKey ? facts : undefined);
    const crl = issuer && this.#crls.of(issuer.sha256);
    if (!crl) return;
    const who = i === 0 ? `certificate ${facts.name}` : roleOf(path, i);
    const revokedAt = crl.revoked.get(facts.serial);
    if (revokedAt !== undefined) {
      checks.push(fail("CERT_REVOKED", `${who} (serial 0x${facts.serial}) was revoked at ${formatInstant(revokedAt)}`));
    }
    checks.push({
      kind: "window",
      from: crl.thisUpdate,
      to: crl.nextUpdate,
      early: refuse("CRL_STALE", `${who} cannot be checked for revocation: the CRL of ${crl.issuer} is not valid before ${formatInstant(crl.thisUpdate)}`),
      // A CRL without nextUpdate (Infinity) never goes stale: its late reason is never read.
      late: refuse("CRL_STALE", `${who} cannot be checked for revocation: the CRL of ${crl.issuer} is stale (its nextUpdate was ${Number.isFinite(crl.nextUpdate) ? formatInstant(crl.nextUpdate) : "never"})`),
      warnOnly: this.#rules.allowStaleCrls,
      // One stale CRL can cover several certificates of a path: one warning says it.
      source: crl.issuerSha256,
    });
  }
}

/** What an intermediate must be to issue: a CA that may sign certificates, with nothing critical gnp does not know. */
function caStructure(facts: CertificateFacts, role: string): PathCheck[] {
  const checks: PathCheck[] = [];
  for (const oid of facts.unknownCritical) {
    checks.push(fail("CERT_INVALID", `${role} has a critical extension gnp does not process, ${describeExtension(oid)}`));
  }
  if (facts.ca !== true) {
    const detail = facts.ca === false ? "its basicConstraints cA is false" : "it has no basicConstraints";
    checks.push(fail("CERT_INVALID", `${role} is not a CA: ${detail}`));
  }
  if (facts.keyUsage !== undefined && (facts.keyUsage & KU.keyCertSign) === 0) {
    checks.push(fail("CERT_INVALID", `${role} may not sign certificates: its keyUsage lacks keyCertSign`));
  }
  return checks;
}

/**
 * Each CA's nameConstraints against every certificate below it on the path: the client's own
 * always, an intermediate unless it is self-issued (RFC 5280 section 6.1.3, as openssl skips them).
 */
function nameChecks(path: readonly Link[]): PathCheck[] {
  const checks: PathCheck[] = [];
  for (let j = path.length - 1; j >= 1; j--) {
    const constraints = path[j]!.facts.nameConstraints;
    if (constraints === undefined) continue;
    for (let i = j - 1; i >= 0; i--) {
      const facts = path[i]!.facts;
      if (i > 0 && facts.subjectKey === facts.issuerKey) continue;
      const names = { subject: facts.subjectName, altNames: facts.generalNames, leaf: i === 0 };
      const violation = nameViolation(names, constraints, roleOf(path, j));
      if (violation !== undefined) checks.push(fail("CERT_INVALID", `${i === 0 ? `certificate ${facts.name}` : roleOf(path, i)} ${violation}`));
    }
  }
  return checks;
}

function intermediateWindow(facts: CertificateFacts, role: string): PathCheck {
  return {
    kind: "window",
    from: facts.notBefore,
    to: facts.notAfter,
    early: refuse("CERT_NOT_YET_VALID", `${role} is not valid before ${formatInstant(facts.notBefore)}`),
    late: refuse("CERT_EXPIRED", `${role} expired at ${formatInstant(facts.notAfter)}`),
    warnOnly: false,
  };
}

// A configured CA out of its validity period vouches for no one: the client is unknown, and
// the reason keeps the SHA-1 an operator could allow-list it by.
function anchorWindow(facts: CertificateFacts, leaf: CertificateFacts): PathCheck {
  const unknown = `unknown certificate ${leaf.name}, SHA-1 ${leaf.sha1}: issuer ${facts.name}`;
  return {
    kind: "window",
    from: facts.notBefore,
    to: facts.notAfter,
    early: refuse("CERT_UNKNOWN", `${unknown} is not valid before ${formatInstant(facts.notBefore)}`),
    late: refuse("CERT_UNKNOWN", `${unknown} expired at ${formatInstant(facts.notAfter)}`),
    warnOnly: false,
  };
}

function describeDeadEnd(path: readonly Link[], forgedBy: CertificateFacts | undefined): string | undefined {
  const last = path[path.length - 1]!.facts;
  if (path.length === 1) return forgedBy ? `: its signature does not verify with the key of ${forgedBy.name}` : undefined;
  if (forgedBy) return `: its chain reaches ${last.name}, whose signature does not verify with the key of ${forgedBy.name}`;
  const what = last.subjectKey === last.issuerKey ? "a self-signed CA that is not trusted" : "which no trusted CA issued";
  return `: its chain ends at ${last.name}, ${what}`;
}

function roleOf(path: readonly Link[], i: number): string {
  return `${i === path.length - 1 ? "trusted CA" : "intermediate"} ${path[i]!.facts.name}`;
}

function onPath(path: readonly Link[], cert: CertificateFacts): boolean {
  return path.some((link) => link.facts.sha256 === cert.sha256);
}

function fail(code: AdmissionCode, reason: string): PathCheck {
  return { kind: "fail", refusal: refuse(code, reason) };
}
