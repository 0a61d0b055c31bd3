// Certificates and CRLs of any shape, for chain tests: each field the generators in
// src/certs/generate.ts fix (CA flag, path length, key usage, extended key usage, validity,
// extra or critical extensions, the issuer's name and key) can be set or broken here. Also
// the `openssl verify` run that the differential tests compare gnp's verdict with.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { x509 } from "../../src/certs/x509.ts";
import { OPENSSL } from "./pki.ts";
import type * as X509 from "@peculiar/x509";
import type { PeerCertificate } from "../../src/certs/validator.ts";

const DAY_MS = 86_400_000;
const KU = x509.KeyUsageFlags;
export const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
export const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
export const ANY_EKU = "2.5.29.37.0";

export type Forged = {
  cert: X509.X509Certificate;
  keys: CryptoKeyPair;
  der: Uint8Array;
  pem: string;
  /** The private key, PKCS#8 PEM, for a TLS client. */
  keyPem: string;
  sha1: string;
  sha256: string;
  /** Upper-case hex, as gnp prints serials. */
  serial: string;
  name: string;
};

export type ForgeOptions = {
  cn: string;
  /** The issuer; omitted: self-signed. */
  issuer?: Forged;
  /** Write this issuer name instead of the issuer's subject (a wrong issuer name). */
  issuerName?: string;
  /** Sign with this key instead of the issuer's (a forged signature). */
  signingKey?: CryptoKey;
  /** basicConstraints: true/false is cA; undefined leaves the extension out. */
  ca?: boolean;
  pathLength?: number;
  /** keyUsage bits; undefined leaves the extension out. */
  keyUsage?: number;
  /** Extended key usage OIDs; undefined leaves the extension out. */
  eku?: string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Days from now, for short-hand validity. */
  validFromDays?: number;
  validToDays?: number;
  extensions?: X509.Extension[];
  /** DNS alternative names (short for altNames of type dns). */
  sans?: string[];
  /** Alternative names of any kind @peculiar/x509 writes. */
  altNames?: { type: "dns" | "email" | "ip" | "url"; value: string }[];
  /** The whole subject instead of CN=<cn>, e.g. "C=US, O=Acme, CN=carol"; "" for none (a SPIFFE SVID). */
  subject?: string;
  algorithm?: "ecdsa" | "rsa";
  /** Pad the certificate to about this many bytes with a non-critical extension. */
  padTo?: number;
  /** Use this key pair instead of a new one (CAs that share a key). */
  keys?: CryptoKeyPair;
};

const ECDSA = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const RSA = { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" } as const;

/** A CA certificate as gnp makes them: cA, keyCertSign + cRLSign. */
export function forgeCa(cn: string, issuer?: Forged, more: Partial<ForgeOptions> = {}): Promise<Forged> {
  return forge({ cn, issuer, ca: true, keyUsage: KU.keyCertSign | KU.cRLSign, ...more });
}

/** A client certificate as gnp makes them: not a CA, digitalSignature, clientAuth. */
export function forgeLeaf(cn: string, issuer: Forged, more: Partial<ForgeOptions> = {}): Promise<Forged> {
  return forge({ cn, issuer, ca: false, keyUsage: KU.digitalSignature, eku: [CLIENT_AUTH], ...more });
}

export async function forge(options: ForgeOptions): Promise<Forged> {
  const algorithm = options.algorithm === "rsa" ? RSA : ECDSA;
  const keys = options.keys ?? ((await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])) as CryptoKeyPair);
  const now = Date.now();
  const extensions: X509.Extension[] = [];
  if (options.ca !== undefined) extensions.push(new x509.BasicConstraintsExtension(options.ca, options.pathLength, true));
  if (options.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(options.keyUsage, true));
  if (options.eku !== undefined) extensions.push(new x509.ExtendedKeyUsageExtension(options.eku));
  const altNames = [...(options.sans ?? []).map((value) => ({ type: "dns" as const, value })), ...(options.altNames ?? [])];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (options.issuer) {
    const ski = options.issuer.cert.getExtension(x509.SubjectKeyIdentifierExtension)!;
    extensions.push(new x509.AuthorityKeyIdentifierExtension(ski.keyId));
  }
  extensions.push(...(options.extensions ?? []));
  if (options.padTo) extensions.push(new x509.Extension("1.3.6.1.4.1.55555.1", false, new Uint8Array(options.padTo).fill(0x41)));
  const subject = options.subject ?? `CN=${options.cn}`;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: subject === "" ? [] : subject,
    issuer: options.issuerName ?? (options.issuer ? options.issuer.cert.subjectName : subject === "" ? [] : subject),
    publicKey: keys.publicKey,
    signingKey: options.signingKey ?? (options.issuer ? options.issuer.keys.privateKey : keys.privateKey),
    signingAlgorithm: options.issuer ? signingAlgorithmOf(options.issuer) : algorithm,
    notBefore: options.notBefore ?? new Date(now + (options.validFromDays ?? -1) * DAY_MS),
    notAfter: options.notAfter ?? new Date(now + (options.validToDays ?? 365) * DAY_MS),
    extensions,
  });
  const der = new Uint8Array(cert.rawData);
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    cert,
    keys,
    der,
    pem: `${cert.toString("pem")}\n`,
    keyPem: `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`,
    sha1: createHash("sha1").update(der).digest("hex").toUpperCase(),
    sha256: createHash("sha256").update(der).digest("hex").toUpperCase(),
    serial: cert.serialNumber.toUpperCase().replace(/^0+(?=.)/, ""),
    name: subject,
  };
}

/** A subtree of a nameConstraints extension: one name of a kind, as RFC 5280 writes them. */
export type SubtreeBase = { dns: string } | { email: string } | { uri: string } | { ip: string } | { dirName: string } | { registeredId: string };

/**
 * A nameConstraints extension (critical by default, as corporate CAs carry it), encoded here:
 * @peculiar/x509 has no class for it.
 *
 * @example nameConstraints({ permitted: [{ dns: ".acme.example" }], excluded: [{ dns: "secret.acme.example" }] })
 */
export function nameConstraints(subtrees: { permitted?: SubtreeBase[]; excluded?: SubtreeBase[] }, critical = true): X509.Extension {
  const tlv = (tag: number, content: Uint8Array): Uint8Array => {
    const length = content.length < 0x80 ? [content.length] : content.length < 0x100 ? [0x81, content.length] : [0x82, content.length >> 8, content.length & 0xff];
    return new Uint8Array([tag, ...length, ...content]);
  };
  const ascii = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));
  const base = (name: SubtreeBase): Uint8Array => {
    if ("dns" in name) return tlv(0x82, ascii(name.dns));
    if ("email" in name) return tlv(0x81, ascii(name.email));
    if ("uri" in name) return tlv(0x86, ascii(name.uri));
    if ("dirName" in name) return tlv(0xa4, new Uint8Array(new x509.Name(name.dirName).toArrayBuffer()));
    if ("registeredId" in name) return tlv(0x88, new Uint8Array(Buffer.from(name.registeredId, "hex")));
    // "10.0.0.0/8": address then mask.
    const [address, bits] = name.ip.split("/") as [string, string];
    const bytes = address.split(".").map(Number);
    const mask = Array.from({ length: 4 }, (_, i) => (0xff << (8 - Math.min(8, Math.max(0, Number(bits) - 8 * i)))) & 0xff);
    return tlv(0x87, new Uint8Array([...bytes, ...mask]));
  };
  const list = (tag: number, names: SubtreeBase[] | undefined) => (names?.length ? [tlv(tag, concat(names.map((name) => tlv(0x30, base(name)))))] : []);
  const value = tlv(0x30, concat([...list(0xa0, subtrees.permitted), ...list(0xa1, subtrees.excluded)]));
  return new x509.Extension("2.5.29.30", critical, value);
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(parts.flatMap((part) => [...part]));
}

export type CrlOptions = {
  revoked?: { serial: string; at?: Date }[];
  thisUpdate?: Date;
  /** null leaves nextUpdate out. */
  nextUpdate?: Date | null;
  extensions?: X509.Extension[];
};

/** A CRL signed by `ca`. Default: issued an hour ago, next update in 30 days, nothing revoked. */
export async function forgeCrl(ca: Forged, options: CrlOptions = {}): Promise<{ pem: string; der: Uint8Array }> {
  const now = Date.now();
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subjectName,
    thisUpdate: options.thisUpdate ?? new Date(now - 3_600_000),
    nextUpdate: options.nextUpdate === null ? undefined : (options.nextUpdate ?? new Date(now + 30 * DAY_MS)),
    signingAlgorithm: signingAlgorithmOf(ca),
    signingKey: ca.keys.privateKey,
    entries: (options.revoked ?? []).map((entry) => ({ serialNumber: entry.serial, revocationDate: entry.at ?? new Date(now - 60_000) })),
    extensions: options.extensions ?? [],
  });
  // RFC 7468 labels a CRL "X509 CRL"; openssl reads no other label.
  return { pem: `${x509.PemConverter.encode(crl.rawData, "X509 CRL")}\n`, der: new Uint8Array(crl.rawData) };
}

function signingAlgorithmOf(ca: Forged): { name: string; hash: string } {
  return { name: ca.keys.privateKey.algorithm.name === "ECDSA" ? "ECDSA" : "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
}

// Positive (top bit clear) and never starting with a zero byte, so that hex forms agree.
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return Buffer.from(bytes).toString("hex");
}

/**
 * `openssl verify -purpose sslclient` of `leaf` with `roots` as -CAfile, `untrusted` as
 * -untrusted and, when given, `crls` with -crl_check_all: true when openssl says OK.
 */
export async function opensslAdmits(
  dir: string,
  input: { leaf: Forged; roots: Forged[]; untrusted?: Forged[]; crls?: string[]; extraArgs?: string[] },
): Promise<{ ok: boolean; output: string }> {
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    return Bun.write(path, text).then(() => path);
  };
  const args = ["verify", "-purpose", "sslclient", "-CAfile", await file("roots.pem", input.roots.map((c) => c.pem).join(""))];
  if (input.untrusted?.length) args.push("-untrusted", await file("untrusted.pem", input.untrusted.map((c) => c.pem).join("")));
  if (input.crls?.length) args.push("-crl_check_all", "-CRLfile", await file("crls.pem", input.crls.join("")));
  args.push(...(input.extraArgs ?? []), await file("leaf.pem", input.leaf.pem));
  const run = Bun.spawn([OPENSSL ?? "openssl", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
  return { ok: code === 0, output: `${out}${err}`.trim() };
}

/** What Bun's getPeerCertificate(false) gives for a client that sent these, leaf first. */
export function sent(...certs: Forged[]): PeerCertificate {
  return certs.reduceRight<PeerCertificate | undefined>(
    (issuer, cert) => ({ raw: cert.der, fingerprint256: cert.sha256, ...(issuer ? { issuerCertificate: issuer } : {}) }),
    undefined,
  )!;
}
