// One X.509 certificate as gnp's checks see it: how reasons name it, who it identifies, the
// names and key identifiers that link it to its issuer, its key, validity and serial, the
// extensions gnp acts on, and the critical extensions it does not process. Parsing is
// synchronous and independent of the clock, so facts can be cached by SHA-256 and shared by
// every chain a certificate appears in.
import { X509Certificate as NodeX509, type KeyObject } from "node:crypto";
import { printable } from "./reason-text.ts";
import { readTbs } from "./tbs-reader.ts";
import { thumbprints } from "./thumbprint.ts";
import { x509 } from "./x509.ts";
import type * as X509 from "@peculiar/x509";

export type CertificateFacts = Readonly<{
  der: Uint8Array;
  sha1: string;
  sha256: string;
  /** How reasons name it: `CN=<cn>`, else its identity. Printable, at most 200 characters. */
  name: string;
  /** Subject CN, else first SAN, else SHA-256 (PROTOCOL.md section 1). */
  identity: string;
  subject: string;
  commonName: string | undefined;
  sans: readonly string[];
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
 * (nameConstraints, policy constraints and mappings among them) is refused, not ignored.
 */
const KNOWN_CRITICAL: ReadonlyMap<string, string> = new Map([
  ["2.5.29.15", "keyUsage"],
  ["2.5.29.17", "subjectAltName"],
  ["2.5.29.19", "basicConstraints"],
  ["2.5.29.31", "cRLDistributionPoints"],
  ["2.5.29.32", "certificatePolicies"],
  ["2.5.29.37", "extKeyUsage"],
]);

/** Names of well-known extensions, so that a refusal says what an OID is. */
const EXTENSION_NAMES: ReadonlyMap<string, string> = new Map([
  ...KNOWN_CRITICAL,
  ["2.5.29.14", "subjectKeyIdentifier"],
  ["2.5.29.30", "nameConstraints"],
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
 * Parses a DER certificate. Path fields come from a direct DER read (tbs-reader.ts); with
 * `identity` (the client's own certificate, configured CAs) @peculiar/x509 also renders its
 * subject and SANs, which costs about a hundred times more and so is never spent on the
 * other certificates a client sends: those get no SANs, and a subject of just their CN.
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
  let who: { identity: string; commonName: string | undefined; sans: string[]; subject: string };
  if (options.identity) {
    const cert = new x509.X509Certificate(bytes);
    who = { ...certificateIdentity(cert, digests.sha256), subject: cert.subject };
  } else {
    who = { identity: tbs.commonName ?? digests.sha256, commonName: tbs.commonName, sans: [], subject: tbs.commonName === undefined ? "" : `CN=${tbs.commonName}` };
  }
  return Object.freeze({
    der: bytes,
    ...digests,
    name: printable(who.commonName === undefined ? who.identity : `CN=${who.commonName}`),
    identity: who.identity,
    subject: who.subject,
    commonName: who.commonName,
    sans: Object.freeze(who.sans),
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

/**
 * Who a certificate names (PROTOCOL.md section 1): its subject CN, else its first
 * DNS/IP/e-mail/URI subjectAltName, else its SHA-256 thumbprint.
 *
 * @example certificateIdentity(cert, sha256).identity // "alice"
 */
export function certificateIdentity(
  cert: X509.X509Certificate,
  sha256: string,
): { identity: string; commonName: string | undefined; sans: string[] } {
  const commonName = cert.subjectName.getField("CN")[0] || undefined;
  const sans = subjectAltNames(cert);
  return { identity: commonName ?? sans[0] ?? sha256, commonName, sans };
}

/** A serial number as CRL entries are matched: upper-case hex without leading zeros. */
export function normalizeSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, "");
}

// DNS, IP, e-mail and URI values in order; other kinds name no one.
function subjectAltNames(cert: X509.X509Certificate): string[] {
  const extension = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!extension) return [];
  try {
    return extension.names.items.filter((n) => SAN_KINDS.has(n.type)).map((n) => n.value);
  } catch {
    // @peculiar/x509 throws on SAN kinds it cannot render (X.400, EDI, unknown
    // otherName); such a certificate is still valid, it just names no one there.
    return [];
  }
}

const SAN_KINDS: ReadonlySet<string> = new Set(["dns", "ip", "email", "url"]);
