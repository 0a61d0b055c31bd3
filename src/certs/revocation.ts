// Revocation in gnp's own small PKI: the CA made by `gnp certs` (or loaded with
// loadCertificateAuthority) signs a new CRL listing what its previous CRL listed plus the
// certificates given. The previous CRL is checked first (this CA's name and signature), so a
// file that is not this CA's CRL is never carried forward; its cRLNumber goes up by one. The
// result is checked the way the server will load it before it is returned.
import { normalizeSerial, parseCertificate } from "./certificate-facts.ts";
import type { CertificateAuthority } from "./generate.ts";
import { readElement } from "./der.ts";
import { printable } from "./reason-text.ts";
import { RevocationLists, crlIssuerKey, type CrlInput } from "./revocation-lists.ts";
import { signedBy, TrustAnchors, type TrustAnchor } from "./trust-anchors.ts";
import { x509 } from "./x509.ts";
import type * as X509 from "@peculiar/x509";

/**
 * How long a CRL made here stays fresh. A server refuses the CA's clients once its CRL is
 * stale, and a CRL that lives in a file is not re-signed by anyone unless asked: a year, so
 * that forgetting costs a warning in the logs long before it costs a lockout.
 */
export const DEFAULT_CRL_DAYS = 365;
const DAY_MS = 86_400_000;
const CRL_NUMBER = "2.5.29.20";

/** A certificate to revoke: its PEM or DER, or its serial (hex) when the file is lost. */
export type RevocationTarget = string | Uint8Array | { serial: string };

export type CrlOptions = {
  /** The CA's current CRL, PEM or DER; its entries are kept. */
  crl?: CrlInput;
  /** Days from thisUpdate to nextUpdate. Default DEFAULT_CRL_DAYS. */
  days?: number;
  /** thisUpdate, and the revocation date of what is revoked now. Default: the clock. */
  now?: Date;
};

export type SignedCrl = {
  /** "-----BEGIN X509 CRL-----", as openssl and the server read it. */
  pem: string;
  der: Uint8Array;
  /** Serials listed, upper-case hex without leading zeros. */
  revoked: string[];
  /** Serials of the targets that the previous CRL already listed. */
  alreadyRevoked: string[];
  crlNumber: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
};

/**
 * Adds `targets` to the CA's CRL and signs the new CRL; with no targets, re-signs the CRL with
 * fresh dates. Throws Error when a target was not issued by this CA, or `crl` is not its CRL.
 *
 * @example
 * const ca = await loadCertificateAuthority(caPem, keyPem)
 * const { pem } = await revokeCertificates(ca, [await Bun.file("bob.crt").text()], { crl: await Bun.file("ca.crl").text() })
 */
export async function revokeCertificates(ca: CertificateAuthority, targets: readonly RevocationTarget[], options: CrlOptions = {}): Promise<SignedCrl> {
  const now = options.now ?? new Date();
  const days = options.days ?? DEFAULT_CRL_DAYS;
  if (!Number.isInteger(days) || days < 1) throw new RangeError(`invalid days ${JSON.stringify(days)}: expected a positive whole number`);
  const anchors = new TrustAnchors([ca.certificatePem]);
  const authority = anchors.all[0]!;
  const previous = options.crl === undefined ? undefined : previousCrl(options.crl, anchors, authority);
  const entries = new Map<string, X509.X509CrlEntryParams>();
  for (const entry of previous?.entries ?? []) {
    entries.set(normalizeSerial(entry.serialNumber), { serialNumber: entry.serialNumber, revocationDate: entry.revocationDate, reason: entry.reason });
  }
  const alreadyRevoked: string[] = [];
  for (const target of targets) {
    const serial = serialOf(target, authority);
    if (entries.has(serial)) alreadyRevoked.push(serial);
    else entries.set(serial, { serialNumber: serial, revocationDate: now });
  }
  const crlNumber = (previous ? crlNumberOf(previous) : 0n) + 1n;
  const nextUpdate = new Date(now.getTime() + days * DAY_MS);
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.certificate.subjectName,
    thisUpdate: now,
    nextUpdate,
    signingAlgorithm: { name: ca.algorithm === "rsa" ? "RSASSA-PKCS1-v1_5" : "ECDSA", hash: "SHA-256" },
    signingKey: ca.keys.privateKey,
    entries: [...entries.values()],
    extensions: [
      authority.keyId ? new x509.AuthorityKeyIdentifierExtension(authority.keyId) : await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
      new x509.Extension(CRL_NUMBER, false, encodeInteger(crlNumber)),
    ],
  });
  const der = new Uint8Array(crl.rawData);
  // What the server will do with it: a CRL it would refuse to load is a bug here, not there.
  new RevocationLists([der], anchors);
  return {
    pem: `${x509.PemConverter.encode(crl.rawData, "X509 CRL")}\n`,
    der,
    revoked: [...entries.keys()],
    alreadyRevoked,
    crlNumber,
    thisUpdate: now,
    nextUpdate,
  };
}

function previousCrl(input: CrlInput, anchors: TrustAnchors, authority: TrustAnchor): X509.X509Crl {
  let crl: X509.X509Crl;
  try {
    crl = new x509.X509Crl(typeof input === "string" ? input : new Uint8Array(input));
  } catch (error) {
    throw new Error(`the given CRL could not be parsed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (crlIssuerKey(new Uint8Array(crl.rawData)) !== authority.subjectKey) {
    throw new Error(`the given CRL is from ${printable(crl.issuer)}, not from ${authority.name}`);
  }
  try {
    // Signature, critical extensions, cRLSign: the checks the server makes.
    new RevocationLists([input], anchors);
  } catch (error) {
    throw new Error(`the given CRL of ${authority.name} is unusable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return crl;
}

function serialOf(target: RevocationTarget, authority: TrustAnchor): string {
  if (typeof target === "object" && !(target instanceof Uint8Array)) {
    const serial = target.serial.replaceAll(":", "").trim();
    if (!/^[0-9a-fA-F]{1,40}$/.test(serial)) throw new RangeError(`invalid serial ${JSON.stringify(target.serial)}: expected 1 to 40 hex digits`);
    return normalizeSerial(serial);
  }
  const der = typeof target === "string" ? new Uint8Array(new x509.X509Certificate(target).rawData) : new Uint8Array(target);
  const cert = parseCertificate(der, { identity: false });
  if (cert.issuerKey !== authority.subjectKey || !signedBy(cert, authority)) {
    throw new Error(`certificate ${cert.name} was not issued by ${authority.name}: it cannot be revoked by this CA`);
  }
  return cert.serial;
}

function crlNumberOf(crl: X509.X509Crl): bigint {
  const extension = crl.extensions.find((e) => e.type === CRL_NUMBER);
  if (!extension) return 0n;
  const bytes = new Uint8Array(extension.value);
  const element = readElement(bytes, 0);
  let value = 0n;
  for (let i = element.contentStart; i < element.end; i++) value = (value << 8n) | BigInt(bytes[i]!);
  return value;
}

/** A non-negative DER INTEGER. */
function encodeInteger(value: bigint): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  const content = Buffer.from(hex, "hex");
  return new Uint8Array([0x02, content.length, ...content]);
}
