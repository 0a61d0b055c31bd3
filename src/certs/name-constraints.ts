// nameConstraints (RFC 5280 section 4.2.1.10), read from DER and checked against the names of
// a certificate below the CA that carries them, as openssl checks them: the subject as a
// directoryName, its emailAddress attributes as e-mail, every subjectAltName, and for the
// client's own certificate without a DNS name, a common name that looks like a host name. DNS,
// e-mail, URI, IP and directoryName subtrees are compared; a name of another kind that meets a
// subtree of its kind, or a subtree with a minimum or maximum, refuses and says so.
import { readElement, type DerElement } from "./der.ts";
import type { DistinguishedName } from "./distinguished-name.ts";
import { describeName, elementsIn, readGeneralName, type GeneralName } from "./general-names.ts";

export type Subtree = Readonly<{ base: GeneralName; minimumOrMaximum: boolean }>;
export type NameConstraints = Readonly<{ permitted: readonly Subtree[]; excluded: readonly Subtree[] }>;

/** The names of one certificate that constraints apply to. */
export type ConstrainedNames = {
  subject: DistinguishedName;
  altNames: readonly GeneralName[] | undefined;
  /** The client's own certificate: its host-name-like common names count when it has no DNS name. */
  leaf: boolean;
};

/** A nameConstraints extension's value. */
export function readNameConstraints(der: Uint8Array): NameConstraints {
  const outer = readElement(der, 0);
  if (outer.tag !== 0x30) throw new RangeError("not a SEQUENCE");
  const permitted: Subtree[] = [];
  const excluded: Subtree[] = [];
  for (const part of elementsIn(der, outer)) {
    if (part.tag !== 0xa0 && part.tag !== 0xa1) throw new RangeError(`unexpected element 0x${part.tag.toString(16)}`);
    const into = part.tag === 0xa0 ? permitted : excluded;
    for (const subtree of elementsIn(der, part)) into.push(readSubtree(der, subtree));
  }
  return Object.freeze({ permitted: Object.freeze(permitted), excluded: Object.freeze(excluded) });
}

// GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] DEFAULT 0, maximum [1] OPTIONAL }
function readSubtree(der: Uint8Array, element: DerElement): Subtree {
  if (element.tag !== 0x30) throw new RangeError("a GeneralSubtree is not a SEQUENCE");
  const [base, ...bounds] = elementsIn(der, element);
  if (!base) throw new RangeError("a GeneralSubtree has no base");
  const minimumOrMaximum = bounds.some((bound) => bound.tag === 0x81 || (bound.tag === 0x80 && der.subarray(bound.contentStart, bound.end).some((byte) => byte !== 0)));
  return Object.freeze({ base: readGeneralName(der, base), minimumOrMaximum });
}

/**
 * Why `names` break `constraints` of the CA `authority` (how reasons name it), worded to
 * follow the certificate's name (`has DNS:evil.example outside ...`); undefined when they do not.
 *
 * @example nameViolation({ subject, altNames, leaf: true }, constraints, "intermediate CN=Acme Issuing CA")
 */
export function nameViolation(names: ConstrainedNames, constraints: NameConstraints, authority: string): string | undefined {
  for (const name of constrainedNames(names)) {
    const problem = matchConstraints(name, constraints);
    if (problem === undefined) continue;
    const of = `the nameConstraints of ${authority}`;
    switch (problem.kind) {
      case "outside":
        return `has ${describeName(name)} outside ${of}, which permit ${problem.subtrees.map((s) => describeName(s.base)).join(", ")}`;
      case "excluded":
        return `has ${describeName(name)} within ${of}, which exclude ${describeName(problem.subtree.base)}`;
      case "syntax":
        return `has ${describeName(name)}, which cannot be checked against ${of}: ${problem.detail}`;
      case "unsupported":
        return `has a name checked against ${of}, whose ${problem.what} gnp does not process`;
    }
  }
  return undefined;
}

type Problem =
  | { kind: "outside"; subtrees: readonly Subtree[] }
  | { kind: "excluded"; subtree: Subtree }
  | { kind: "syntax"; detail: string }
  | { kind: "unsupported"; what: string };

/** The names openssl checks, in its order: subject, its e-mail attributes, the SANs, then host-like CNs of a leaf. */
function constrainedNames(names: ConstrainedNames): GeneralName[] {
  const list: GeneralName[] = [];
  const { subject, altNames = [] } = names;
  if (subject.rdns.length > 0) {
    list.push({ kind: "dirName", rdns: subject.rdns, text: subject.text });
    for (const email of subject.emails) list.push({ kind: "email", value: email });
  }
  list.push(...altNames);
  if (names.leaf && !altNames.some((name) => name.kind === "dns")) {
    for (const cn of subject.commonNames) if (looksLikeHostName(cn)) list.push({ kind: "dns", value: cn });
  }
  return list;
}

/** A name's subtrees are those of its kind (an otherName's, those of its type-id). */
function sameKind(name: GeneralName, base: GeneralName): boolean {
  if (name.kind !== base.kind) return false;
  if (name.kind === "other" && base.kind === "other") return name.type === base.type && name.oid === base.oid;
  return true;
}

function matchConstraints(name: GeneralName, constraints: NameConstraints): Problem | undefined {
  const permitted = constraints.permitted.filter((subtree) => sameKind(name, subtree.base));
  let within = permitted.length === 0;
  for (const subtree of permitted) {
    if (subtree.minimumOrMaximum) return { kind: "unsupported", what: "subtree with a minimum or maximum" };
    if (within) continue;
    const verdict = matchOne(name, subtree.base);
    if (verdict === true) within = true;
    else if (verdict !== false) return verdict;
  }
  if (!within) return { kind: "outside", subtrees: permitted };
  for (const subtree of constraints.excluded) {
    if (!sameKind(name, subtree.base)) continue;
    if (subtree.minimumOrMaximum) return { kind: "unsupported", what: "subtree with a minimum or maximum" };
    const verdict = matchOne(name, subtree.base);
    if (verdict === true) return { kind: "excluded", subtree };
    if (verdict !== false) return verdict;
  }
  return undefined;
}

/** True when `name` is within the subtree `base` (of the same kind). */
function matchOne(name: GeneralName, base: GeneralName): boolean | Problem {
  if (name.kind === "dns" && base.kind === "dns") return dnsWithin(name.value, base.value);
  if (name.kind === "email" && base.kind === "email") return emailWithin(name.value, base.value);
  if (name.kind === "uri" && base.kind === "uri") return uriWithin(name.value, base.value);
  if (name.kind === "ip" && base.kind === "ip") return ipWithin(name.bytes, base.bytes);
  if (name.kind === "dirName" && base.kind === "dirName") return base.rdns.every((rdn, i) => name.rdns[i] === rdn);
  return { kind: "unsupported", what: `${describeName(base)} subtree` };
}

// "example.com" holds example.com and its subdomains; ".example.com" only its subdomains.
function dnsWithin(dns: string, base: string): boolean {
  if (base.length === 0) return true;
  if (dns.length < base.length) return false;
  if (dns.length > base.length && !base.startsWith(".") && dns[dns.length - base.length - 1] !== ".") return false;
  return asciiLower(dns.slice(dns.length - base.length)) === asciiLower(base);
}

// "example.com": any mailbox there; ".example.com": any mailbox in a subdomain; "a@example.com": that one.
function emailWithin(email: string, base: string): boolean | Problem {
  const at = email.lastIndexOf("@");
  if (at < 0) return { kind: "syntax", detail: "it is not of the form local@domain" };
  const baseAt = base.lastIndexOf("@");
  if (baseAt < 0 && base.startsWith(".")) return email.length > base.length && asciiLower(email.slice(email.length - base.length)) === asciiLower(base);
  let host = base;
  if (baseAt >= 0) {
    // The local part compares case-sensitively, as RFC 5280 says.
    if (baseAt > 0 && base.slice(0, baseAt) !== email.slice(0, at)) return false;
    host = base.slice(baseAt + 1);
  }
  return asciiLower(email.slice(at + 1)) === asciiLower(host);
}

// The host of scheme://host[:port][/path], compared as a DNS name: "example.org" exactly, ".example.org" subdomains.
function uriWithin(uri: string, base: string): boolean | Problem {
  const colon = uri.indexOf(":");
  if (colon < 1 || uri.slice(colon + 1, colon + 3) !== "//") return { kind: "syntax", detail: "it has no scheme://host" };
  const rest = uri.slice(colon + 3);
  const end = rest.includes(":") ? rest.indexOf(":") : rest.includes("/") ? rest.indexOf("/") : rest.length;
  const host = rest.slice(0, end);
  if (host.length === 0) return { kind: "syntax", detail: "its host is empty" };
  if (base.startsWith(".")) return host.length > base.length && asciiLower(host.slice(host.length - base.length)) === asciiLower(base);
  return asciiLower(host) === asciiLower(base);
}

function ipWithin(ip: Uint8Array, base: Uint8Array): boolean {
  if (ip.length * 2 !== base.length) return false;
  for (let i = 0; i < ip.length; i++) {
    const mask = base[ip.length + i]!;
    if ((ip[i]! & mask) !== (base[i]! & mask)) return false;
  }
  return true;
}

/**
 * openssl's test of a common name for a host name: letters, digits, "_", and "-" or "." inside,
 * no "." next to "." or "-", at least two labels. "carol" is not one; "api.example.org" is.
 */
function looksLikeHostName(cn: string): boolean {
  let dotted = false;
  for (let i = 0; i < cn.length; i++) {
    const c = cn[i]!;
    if (/[A-Za-z0-9_]/.test(c)) continue;
    if (i > 0 && i < cn.length - 1) {
      if (c === "-") continue;
      if (c === "." && cn[i + 1] !== "." && cn[i - 1] !== "-" && cn[i + 1] !== "-") {
        dotted = true;
        continue;
      }
    }
    return false;
  }
  return dotted;
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
