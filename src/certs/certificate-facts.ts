// One X.509 certificate as gnp's checks see it: how reasons name it, who it identifies (its
// subject, alternative names, SPIFFE ID), the names and key identifiers that link it to its
// issuer, its key and its pin, validity and serial, the extensions gnp acts on (name
// constraints among them), and the critical extensions it does not process. Parsing is
// synchronous and independent of the clock, so facts can be cached by SHA-256 and shared by
// every chain a certificate appears in.
import { X509Certificate as NodeX509, createHash, type KeyObject } from "node:crypto";
import type { DistinguishedName } from "./distinguished-name.ts";
import { formatIp, type GeneralName } from "./general-names.ts";
import type { NameConstraints } from "./name-constraints.ts";
import { printable } from "./reason-text.ts";
import { readTbs } from "./tbs-reader.ts";
import { thumbprints } from "./thumbprint.ts";
import { x509 } from "./x509.ts";

/** Alternative names by kind; IP addresses in their usual text. */
export type AltNames = Readonly<{ dns: readonly string[]; email: readonly string[]; uri: readonly string[]; ip: readonly string[] }>;

export type CertificateFacts = Readonly<{
  der: Uint8Array;
  sha1: string;
  sha256: string;
  /** How reasons name it: `CN=<cn>`, else its identity. Printable, at most 200 characters. */
  name: string;
  /** Subject CN, else SPIFFE ID, else first SAN, else SHA-256 (docs/protocol.md section 1). */
  identity: string;
  subject: string;
  commonName: string | undefined;
  /** DNS, IP, e-mail and URI alternative names, as text, in order. */
  sans: readonly string[];
  /** The alternative names by kind (what [[clients]] rules match). */
  altNames: AltNames;
  /** The first URI alternative name that is a SPIFFE ID (spiffe://trust-domain/path). */
  spiffeId: string | undefined;
  /** SHA-256 of the subjectPublicKeyInfo, upper-case hex: what an SPKI pin names. */
  spki: string;
  /** The subject as name constraints compare it. */
  subjectName: DistinguishedName;
  /** Every subjectAltName entry, of every kind; undefined without the extension. */
  generalNames: readonly GeneralName[] | undefined;
  nameConstraints: NameConstraints | undefined;
  /** Canonical subject and issuer names (case and spacing folded), for linking a path. */
  subjectKey: string;
  issuerKey: string;
  /** Subject key identifier and authority key identifier, hex, when present. */
  keyId: string | undefined;
  authorityKeyId: string | undefined;
  /** Upper-case hex without leading zeros, as CRL entries are compared. */
  serial: string;
  notBefore: number;
  notAfter: number;
  /** basicConstraints cA; undefined when the extension is absent. */
  ca: boolean | undefined;
  pathLength: number | undefined;
  /** keyUsage bits (x509.KeyUsageFlags); undefined when the extension is absent. */
  keyUsage: number | undefined;
  /** Extended key usage OIDs; undefined when the extension is absent. */
  extendedKeyUsage: readonly string[] | undefined;
  /** OIDs of critical extensions gnp does not process (RFC 5280 section 4.2: refuse). */
  unknownCritical: readonly string[];
  node: NodeX509;
  key: KeyObject;
}>;

/**
 * Critical extensions gnp acts on, or may accept without acting on. certificatePolicies and
 * cRLDistributionPoints change nothing when no policy is required and CRLs are configured
 * rather than fetched, which is how openssl treats them too. Everything else critical
 * (policy constraints and mappings among them) is refused, not ignored.
 */
const KNOWN_CRITICAL: ReadonlyMap<string, string> = new Map([
  ["2.5.29.15", "keyUsage"],
  ["2.5.29.17", "subjectAltName"],
  ["2.5.29.19", "basicConstraints"],
  ["2.5.29.30", "nameConstraints"],
  ["2.5.29.31", "cRLDistributionPoints"],
  ["2.5.29.32", "certificatePolicies"],
  ["2.5.29.37", "extKeyUsage"],
]);

/** Names of well-known extensions, so that a refusal says what an OID is. */
const EXTENSION_NAMES: ReadonlyMap<string, string> = new Map([
  ...KNOWN_CRITICAL,
  ["2.5.29.14", "subjectKeyIdentifier"],
  ["2.5.29.33", "policyMappings"],
  ["2.5.29.35", "authorityKeyIdentifier"],
  ["2.5.29.36", "policyConstraints"],
  ["2.5.29.54", "inhibitAnyPolicy"],
  ["1.3.6.1.5.5.7.1.1", "authorityInfoAccess"],
]);

/** `2.5.29.30 (nameConstraints)`, or the bare OID when it has no well-known name. */
export function describeExtension(oid: string): string {
  const name = EXTENSION_NAMES.get(oid);
  return name ? `${oid} (${name})` : oid;
}

/**
 * Parses a DER certificate. Every field comes from a direct DER read (tbs-reader.ts); with
 * `identity` (the client's own certificate, configured CAs) @peculiar/x509 also renders its
 * subject as people read it, which costs about a hundred times more and so is never spent on
 * the other certificates a client sends: their subject is the DER read's text.
 * Identity: the subject CN, else the SPIFFE ID, else the first SAN, else the SHA-256.
 * Throws an Error whose message is the parser's detail.
 *
 * @example parseCertificate(peer.raw, { identity: true }).name // "CN=alice"
 */
export function parseCertificate(der: Uint8Array, options: { identity: boolean; digests?: { sha1: string; sha256: string } }): CertificateFacts {
  // @peculiar/x509 reads bytes that do not start with a DER SEQUENCE as PEM/hex/base64
  // text; refuse them so that the parsed certificate is the hashed one.
  if (der[0] !== 0x30) throw new Error("not a DER SEQUENCE");
  const bytes = new Uint8Array(der);
  const digests = options.digests ?? thumbprints(bytes);
  // BoringSSL's parse first: what it accepts is what the TLS layer accepted and what verify() checks.
  const node = new NodeX509(bytes);
  const tbs = readTbs(bytes);
  const altNames = altNamesOf(tbs.altNames);
  const spiffeId = altNames.uri.find(isSpiffeId);
  const sans = (tbs.altNames ?? []).flatMap(sanText);
  const commonName = tbs.commonName || undefined;
  // Only the subject's rendering is left to @peculiar/x509, and only where someone reads it.
  const subject = options.identity ? new x509.X509Certificate(bytes).subject : tbs.subject.text;
  // SPIFFE puts the identity in a URI SAN and leaves CN empty: that ID, then, not the first SAN.
  const who = { identity: commonName ?? spiffeId ?? sans[0] ?? digests.sha256, commonName, sans, subject };
  return Object.freeze({
    der: bytes,
    ...digests,
    name: printable(who.commonName === undefined ? who.identity : `CN=${who.commonName}`),
    identity: who.identity,
    subject: who.subject,
    commonName: who.commonName,
    sans: Object.freeze(who.sans),
    altNames,
    spiffeId,
    spki: createHash("sha256").update(tbs.spki).digest("hex").toUpperCase(),
    subjectName: tbs.subject,
    generalNames: tbs.altNames,
    nameConstraints: tbs.nameConstraints,
    subjectKey: tbs.subjectKey,
    issuerKey: tbs.issuerKey,
    keyId: tbs.keyId,
    authorityKeyId: tbs.authorityKeyId,
    serial: tbs.serial,
    notBefore: tbs.notBefore,
    notAfter: tbs.notAfter,
    ca: tbs.ca,
    pathLength: tbs.pathLength,
    keyUsage: tbs.keyUsage,
    extendedKeyUsage: tbs.extendedKeyUsage === undefined ? undefined : Object.freeze([...tbs.extendedKeyUsage]),
    unknownCritical: Object.freeze([...tbs.extensions].filter(([oid, e]) => e.critical && !KNOWN_CRITICAL.has(oid)).map(([oid]) => oid)),
    node,
    key: node.publicKey,
  });
}

/** A serial number as CRL entries are matched: upper-case hex without leading zeros. */
export function normalizeSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, "");
}

/** Alternative names by kind; other kinds (otherName, X.400, ...) name no one. */
function altNamesOf(names: readonly GeneralName[] | undefined): AltNames {
  const byKind = { dns: [] as string[], email: [] as string[], uri: [] as string[], ip: [] as string[] };
  for (const name of names ?? []) {
    if (name.kind === "ip") byKind.ip.push(formatIp(name.bytes));
    else if (name.kind === "dns" || name.kind === "email" || name.kind === "uri") byKind[name.kind].push(name.value);
  }
  return Object.freeze(byKind);
}

function sanText(name: GeneralName): string[] {
  if (name.kind === "ip") return [formatIp(name.bytes)];
  return name.kind === "dns" || name.kind === "email" || name.kind === "uri" ? [name.value] : [];
}

/**
 * A SPIFFE ID as the X509-SVID standard writes it: `spiffe://` then a trust domain of lower-case
 * letters, digits, ".", "-" and "_", then an optional path.
 */
export function isSpiffeId(uri: string): boolean {
  return /^spiffe:\/\/[a-z0-9._-]+(\/[^?#]*)?$/.test(uri);
}
