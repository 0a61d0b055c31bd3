// The server's own client-certificate check (PROTOCOL.md section 1): presented, within its
// validity, and admitted by the thumbprint allow-list or by a path through the certificates
// the client sent to a trusted CA, with revocation by the configured CRLs (chain-paths.ts).
// Facts of each certificate and the paths of each presented chain are cached; the clock is
// read at every call, cached or not, so nothing that expires is ever cached as valid.
import { refuse, type Admission, type AdmissionCode, type Refusal } from "./admission.ts";
import type { ClientCertificate } from "./client-certificate.ts";
import { describeExtension, parseCertificate, type CertificateFacts } from "./certificate-facts.ts";
import { searchPaths, type PathSearch } from "./chain-paths.ts";
import { formatInstant, printable } from "./reason-text.ts";
import { RevocationLists, type CrlInput, type RevocationList } from "./revocation-lists.ts";
import { normalizeAllowEntry, spkiPinHex, thumbprints } from "./thumbprint.ts";
import { TrustAnchors } from "./trust-anchors.ts";
import {
  DEFAULT_MAX_CHAIN_DEPTH,
  DEFAULT_MAX_PRESENTED_CERTIFICATES,
  MAX_CHAIN_DEPTH,
  MAX_PRESENTED_CERTIFICATES,
  type TrustPolicy,
} from "./trust-policy.ts";

export { formatInstant } from "./reason-text.ts";
export type { Admission, AdmissionCode, CrlInput, Refusal };

/**
 * The shape of Bun's `socket.getPeerCertificate(false)`: the client's certificate, and through
 * `issuerCertificate` each further certificate it sent, in the order sent. `{}` when none.
 */
export type PeerCertificate = { raw?: Uint8Array; fingerprint?: string; fingerprint256?: string; issuerCertificate?: PeerCertificate };

export type CertificateValidatorOptions = {
  /** Chains whose verdict is kept; 0 turns caching off. */
  cacheSize?: number;
};

export const DEFAULT_CACHE_SIZE = 10_000;
/** Certificate facts kept for reuse by many chains (intermediates, mostly). */
const FACTS_CACHE_LIMIT = 4096;
/** How far a chain is walked to count it; Bun's TLS layer caps it near 100 KiB anyway. */
const COUNT_LIMIT = 1000;

// What is known about one presented chain whatever the clock says.
type Verdict = { refusal: Refusal } | { refusal?: undefined; leaf: LeafSummary; allowed: boolean; search: PathSearch | undefined };
type LeafSummary = Pick<CertificateFacts, "name" | "identity" | "subject" | "commonName" | "sans" | "altNames" | "spiffeId" | "spki" | "sha1" | "sha256" | "notBefore" | "notAfter">;

const MISSING: Refusal = Object.freeze(refuse("CERT_MISSING", "no client certificate was presented"));

/**
 * Decides whether a client certificate (with the certificates sent along) is admitted, and who it is.
 *
 * @example
 * const validator = new CertificateValidator({ allow: [], trustedCas: [rootPem] }, { cacheSize: 1000 })
 * const admission = validator.validate(socket.getPeerCertificate(false))
 * if (!admission.ok) socket.end(`ERR: ${admission.reason}\r\n`)
 */
export class CertificateValidator {
  readonly #allow: ReadonlySet<string>;
  /** SPKI pins of the allow-list, as SHA-256 hex. */
  readonly #pins: ReadonlySet<string>;
  readonly #anchors: TrustAnchors;
  readonly #crls: RevocationLists;
  readonly #rules: { maxChainDepth: number; allowStaleCrls: boolean };
  readonly #maxPresented: number;
  readonly #cacheSize: number;
  readonly #verdicts = new Map<string, Verdict>();
  readonly #facts = new Map<string, CertificateFacts | string>();
  #hits = 0;
  #misses = 0;

  constructor(policy: TrustPolicy, options: CertificateValidatorOptions = {}) {
    this.#cacheSize = whole("cacheSize", options.cacheSize ?? DEFAULT_CACHE_SIZE, 0, Number.MAX_SAFE_INTEGER);
    const maxChainDepth = whole("maxChainDepth", policy.maxChainDepth ?? DEFAULT_MAX_CHAIN_DEPTH, 0, MAX_CHAIN_DEPTH);
    this.#maxPresented = whole("maxPresentedCertificates", policy.maxPresentedCertificates ?? DEFAULT_MAX_PRESENTED_CERTIFICATES, 1, MAX_PRESENTED_CERTIFICATES);
    this.#rules = Object.freeze({ maxChainDepth, allowStaleCrls: policy.allowStaleCrls === true });
    const entries = policy.allow.map(normalizeAllowEntry);
    this.#allow = new Set(entries.filter((entry) => !entry.startsWith("sha256/")));
    this.#pins = new Set(entries.filter((entry) => entry.startsWith("sha256/")).map(spkiPinHex));
    this.#anchors = new TrustAnchors(policy.trustedCas);
    this.#crls = new RevocationLists(policy.crls ?? [], this.#anchors);
  }

  get cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#verdicts.size };
  }

  /** The CRL in use for each CA that has one, and whether it is stale at `now`: for logs and gauges. */
  crlStatus(now: number = Date.now()): { issuer: string; thisUpdate: Date; nextUpdate: Date | undefined; revoked: number; stale: boolean }[] {
    return this.#crls.all.map((crl: RevocationList) => ({
      issuer: crl.issuer,
      thisUpdate: new Date(crl.thisUpdate),
      nextUpdate: crl.nextUpdate === Infinity ? undefined : new Date(crl.nextUpdate),
      revoked: crl.revoked.size,
      stale: now < crl.thisUpdate || now > crl.nextUpdate,
    }));
  }

  /** `now` is in milliseconds since the epoch; it defaults to the clock. */
  validate(peer: PeerCertificate | null | undefined, now: number = Date.now()): Admission {
    const chain = presented(peer);
    if (chain.length === 0) return MISSING;
    if (chain.length > this.#maxPresented) return this.#tooMany(chain);
    const verdict = this.#verdictOf(chain);
    if (verdict.refusal) return verdict.refusal;
    const leaf = verdict.leaf;
    if (now > leaf.notAfter) return refuse("CERT_EXPIRED", `certificate ${leaf.name} expired at ${formatInstant(leaf.notAfter)}`);
    if (now < leaf.notBefore) return refuse("CERT_NOT_YET_VALID", `certificate ${leaf.name} is not valid before ${formatInstant(leaf.notBefore)}`);
    if (verdict.allowed) return admit(leaf, { viaCa: false, warnings: [] });
    const search = verdict.search!;
    let first: Refusal | undefined;
    for (const path of search.paths) {
      const warnings = new Map<string, string>();
      let refusal: Refusal | undefined;
      for (const check of path.checks) {
        if (check.kind === "fail") refusal = check.refusal;
        else if (now < check.from || now > check.to) {
          const failed = now < check.from ? check.early : check.late;
          if (!check.warnOnly) refusal = failed;
          else if (!warnings.has(check.source ?? failed.reason)) warnings.set(check.source ?? failed.reason, failed.reason);
        }
        if (refusal) break;
      }
      if (!refusal) return admit(leaf, { viaCa: true, trustedCa: path.anchor, warnings: [...warnings.values()] });
      first ??= refusal;
    }
    // Reason format: `unknown certificate CN=eve, SHA-1 <40 upper-case hex digits>`, the
    // thumbprint an operator can paste into the allow-list as it is, then any detail.
    return first ?? refuse("CERT_UNKNOWN", `unknown certificate ${leaf.name}, SHA-1 ${leaf.sha1}${search.deadEnd ?? ""}`);
  }

  #tooMany(chain: readonly PeerCertificate[]): Refusal {
    const leaf = this.#factsOf(chain[0]!, true);
    const name = typeof leaf === "string" ? "the client's certificate" : `certificate ${leaf.name}`;
    const count = chain.length >= COUNT_LIMIT ? `${COUNT_LIMIT - 1} or more` : String(chain.length - 1);
    return refuse("CERT_CHAIN_TOO_LONG", `${name} was sent with ${count} more certificates: at most ${this.#maxPresented} in all are accepted`);
  }

  #verdictOf(chain: readonly PeerCertificate[]): Verdict {
    // Bun computes fingerprint256 from these very bytes, so it keys the cache without hashing;
    // anything unexpected falls back to hashing each certificate.
    const quickKey = chain.map((cert) => fingerprintOf(cert) ?? "?").join(",");
    const cached = this.#cached(this.#verdicts, quickKey);
    if (cached) {
      this.#hits++;
      return cached;
    }
    const facts = chain.map((cert, index) => this.#factsOf(cert, index === 0));
    const key = facts.map((fact, i) => (typeof fact === "string" ? thumbprints(chain[i]!.raw!).sha256 : fact.sha256)).join(",");
    const again = key === quickKey ? undefined : this.#cached(this.#verdicts, key);
    if (again) {
      this.#hits++;
      return again;
    }
    this.#misses++;
    const verdict = this.#judge(facts);
    this.#remember(this.#verdicts, key, verdict, this.#cacheSize);
    return verdict;
  }

  /** Everything about the chain that does not depend on the clock. */
  #judge(facts: readonly (CertificateFacts | string)[]): Verdict {
    const [leaf, ...rest] = facts;
    if (typeof leaf === "string") return { refusal: refuse("CERT_INVALID", `certificate could not be parsed: ${leaf}`) };
    if (leaf!.unknownCritical.length > 0) {
      const list = leaf!.unknownCritical.map(describeExtension).join(", ");
      return { refusal: refuse("CERT_INVALID", `certificate ${leaf!.name} has a critical extension gnp does not process, ${list}`) };
    }
    const summary = summarize(leaf!);
    // An allow-listed thumbprint names one certificate on purpose, an SPKI pin one key: no
    // path, CA flag or key usage rule applies (a self-signed certificate from `openssl req
    // -x509` is a CA).
    if (this.#allow.has(leaf!.sha1) || this.#allow.has(leaf!.sha256) || this.#pins.has(leaf!.spki)) return { leaf: summary, allowed: true, search: undefined };
    if (leaf!.ca === true) {
      return { refusal: refuse("CERT_WRONG_USAGE", `certificate ${leaf!.name} is a CA certificate (basicConstraints cA is true): a CA does not log in`) };
    }
    const others: CertificateFacts[] = [];
    for (const [index, fact] of rest.entries()) {
      if (typeof fact === "string") {
        return { refusal: refuse("CERT_INVALID", `certificate ${index + 2} of those sent with ${leaf!.name} could not be parsed: ${fact}`) };
      }
      others.push(fact);
    }
    return { leaf: summary, allowed: false, search: searchPaths(leaf!, others, this.#anchors, this.#crls, this.#rules) };
  }

  /**
   * A certificate's facts, or why it could not be parsed. Only the client's own certificate is
   * parsed for its identity (see parseCertificate), so the two kinds are cached apart.
   */
  #factsOf(cert: PeerCertificate, identity: boolean): CertificateFacts | string {
    const raw = cert.raw!;
    const kind = identity ? "leaf:" : "";
    const quick = fingerprintOf(cert);
    const known = quick && this.#cached(this.#facts, kind + quick);
    if (known) return known;
    const digests = thumbprints(raw);
    const again = digests.sha256 === quick ? undefined : this.#cached(this.#facts, kind + digests.sha256);
    if (again) return again;
    let facts: CertificateFacts | string;
    try {
      facts = parseCertificate(raw, { identity, digests });
    } catch (error) {
      facts = printable(error instanceof Error ? error.message : String(error));
    }
    this.#remember(this.#facts, kind + digests.sha256, facts, Math.min(this.#cacheSize, FACTS_CACHE_LIMIT));
    return facts;
  }

  // Least recently used first out: Map iteration order is insertion order, and a hit re-inserts.
  #cached<T>(cache: Map<string, T>, key: string): T | undefined {
    const value = cache.get(key);
    if (value !== undefined) {
      cache.delete(key);
      cache.set(key, value);
    }
    return value;
  }

  #remember<T>(cache: Map<string, T>, key: string, value: T, limit: number): void {
    if (limit === 0) return;
    if (cache.size >= limit) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(key, value);
  }
}

/** The presented chain as a list, stopping at a certificate without bytes or one seen before. */
function presented(peer: PeerCertificate | null | undefined): PeerCertificate[] {
  const chain: PeerCertificate[] = [];
  for (let cert = peer; cert?.raw && cert.raw.length > 0 && chain.length < COUNT_LIMIT; cert = cert.issuerCertificate) {
    // Node's objects make a self-signed last certificate its own issuer.
    if (chain.includes(cert)) break;
    chain.push(cert);
  }
  return chain;
}

function fingerprintOf(cert: PeerCertificate): string | undefined {
  const hex = cert.fingerprint256?.replaceAll(":", "").toUpperCase();
  return hex && hex.length === 64 ? hex : undefined;
}

function summarize(facts: CertificateFacts): LeafSummary {
  const { name, identity, subject, commonName, sans, altNames, spiffeId, spki, sha1, sha256, notBefore, notAfter } = facts;
  return { name, identity, subject, commonName, sans, altNames, spiffeId, spki, sha1, sha256, notBefore, notAfter };
}

/** One frozen ClientCertificate per admission: its Dates are its own and its lists frozen, so no connection can change another's. */
function admit(leaf: LeafSummary, by: { viaCa: boolean; trustedCa?: string; warnings: string[] }): Admission {
  const { name: _name, notBefore, notAfter, ...facts } = leaf;
  const certificate: ClientCertificate = Object.freeze({
    ...facts,
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    viaCa: by.viaCa,
    ...(by.trustedCa !== undefined ? { trustedCa: by.trustedCa } : {}),
    ...(by.warnings.length > 0 ? { warnings: Object.freeze(by.warnings) } : {}),
  });
  return { ok: true, certificate };
}

function whole(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`invalid ${name} ${JSON.stringify(value)}: expected a whole number from ${min} to ${max}`);
  }
  return value;
}
