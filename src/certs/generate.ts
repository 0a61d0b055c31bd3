// Keys and certificates for gnp's own small PKI, made through WebCrypto with
// @peculiar/x509: a CA, server certificates, client certificates and
// self-signed certificates. Every PEM it returns works as-is with Bun.listen,
// Bun.connect, node:tls and `openssl verify`. ECDSA P-256 unless asked for RSA.
import { createPrivateKey, createPublicKey, type webcrypto } from "node:crypto";
import { isIP } from "node:net";
import { thumbprints } from "./thumbprint.ts";
import { x509 } from "./x509.ts";
import type * as X509 from "@peculiar/x509";

export type KeyAlgorithm = "ecdsa" | "rsa";

export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_LEAF_DAYS = 825;
const DAY_MS = 86_400_000;
// notBefore is set a little in the past so that a peer whose clock runs
// slightly behind does not see a fresh certificate as "not yet valid".
const CLOCK_SKEW_MS = 5 * 60_000;

/** A certificate with its private key, in the forms TLS options and signing need. */
export interface IssuedCertificate {
  certificatePem: string;
  /** PKCS#8, "-----BEGIN PRIVATE KEY-----". */
  privateKeyPem: string;
  der: Uint8Array;
  /** Upper-case hex thumbprints of `der`. */
  sha1: string;
  sha256: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  algorithm: KeyAlgorithm;
  keys: CryptoKeyPair;
  certificate: X509.X509Certificate;
}

/** A certificate that may sign others (basicConstraints cA=true, keyCertSign). */
export type CertificateAuthority = IssuedCertificate;

export interface ValidityOptions {
  /** Lifetime counted from notBefore (or now); ignored when notAfter is given. */
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
}

export interface CertificateAuthorityOptions extends ValidityOptions {
  commonName: string;
  algorithm?: KeyAlgorithm;
  /** Makes an intermediate CA signed by this one; self-signed (a root) without it. */
  issuer?: CertificateAuthority;
  /** basicConstraints pathLenConstraint: how many CAs may stand below this one. None by default. */
  pathLength?: number;
}

export interface ServerCertificateOptions extends ValidityOptions {
  /** Defaults to the first name. */
  commonName?: string;
  /** DNS names and IP addresses, written as subjectAltName entries. */
  names: readonly string[];
  algorithm?: KeyAlgorithm;
}

export interface ClientCertificateOptions extends ValidityOptions {
  commonName: string;
  algorithm?: KeyAlgorithm;
  /** DNS names, IP addresses, e-mail addresses (with "@") or URIs (with "://"). */
  sans?: readonly string[];
}

export type SelfSignedCertificateOptions = ClientCertificateOptions;

const KEY_PARAMS = {
  ecdsa: { name: "ECDSA", namedCurve: "P-256" } satisfies webcrypto.EcKeyGenParams,
  rsa: {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  } satisfies webcrypto.RsaHashedKeyGenParams,
} as const;

const EKU = x509.ExtendedKeyUsage;
const KU = x509.KeyUsageFlags;

/**
 * Creates a CA: basicConstraints cA=true, keyCertSign + cRLSign. A root
 * (self-signed) unless `issuer` is given, then an intermediate under it.
 *
 * @example const ca = await createCertificateAuthority({ commonName: "gnp CA" })
 */
export async function createCertificateAuthority(
  options: CertificateAuthorityOptions,
): Promise<CertificateAuthority> {
  const algorithm = options.algorithm ?? "ecdsa";
  const pathLength = options.pathLength;
  if (pathLength !== undefined && (!Number.isInteger(pathLength) || pathLength < 0 || pathLength > 16)) {
    throw new RangeError(`invalid pathLength ${JSON.stringify(pathLength)}: expected a whole number from 0 to 16`);
  }
  return build({
    commonName: requireName(options.commonName),
    algorithm,
    issuer: options.issuer,
    validity: resolveValidity(options, DEFAULT_CA_DAYS),
    extensions: [
      new x509.BasicConstraintsExtension(true, pathLength, true),
      new x509.KeyUsagesExtension(KU.keyCertSign | KU.cRLSign, true),
    ],
  });
}

/**
 * Issues a TLS server certificate for the given DNS names and IP addresses.
 *
 * @example await issueServerCertificate(ca, { names: ["localhost", "127.0.0.1", "::1"] })
 */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  options: ServerCertificateOptions,
): Promise<IssuedCertificate> {
  if (options.names.length === 0) {
    throw new RangeError("invalid server certificate names []: expected at least one DNS name or IP address");
  }
  const algorithm = options.algorithm ?? "ecdsa";
  // RSA key exchange (TLS 1.2 without ECDHE) also needs keyEncipherment.
  const usages = algorithm === "rsa" ? KU.digitalSignature | KU.keyEncipherment : KU.digitalSignature;
  return build({
    commonName: requireName(options.commonName ?? options.names[0]!),
    algorithm,
    issuer: ca,
    validity: resolveValidity(options, DEFAULT_LEAF_DAYS),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension([EKU.serverAuth]),
      new x509.SubjectAlternativeNameExtension(options.names.map(toGeneralName)),
    ],
  });
}

/**
 * Issues a TLS client certificate; its CN is the identity gnp sees.
 *
 * @example await issueClientCertificate(ca, { commonName: "alice" })
 */
export async function issueClientCertificate(
  ca: CertificateAuthority,
  options: ClientCertificateOptions,
): Promise<IssuedCertificate> {
  const algorithm = options.algorithm ?? "ecdsa";
  return build({
    commonName: requireName(options.commonName),
    algorithm,
    issuer: ca,
    validity: resolveValidity(options, DEFAULT_LEAF_DAYS),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(KU.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([EKU.clientAuth]),
      ...sanExtension(options.sans),
    ],
  });
}

/**
 * Creates a self-signed end-entity certificate (not a CA), usable as a client
 * (admitted through the thumbprint allow-list) or as a server.
 *
 * @example await createSelfSignedCertificate({ commonName: "carol" })
 */
export async function createSelfSignedCertificate(
  options: SelfSignedCertificateOptions,
): Promise<IssuedCertificate> {
  const algorithm = options.algorithm ?? "ecdsa";
  return build({
    commonName: requireName(options.commonName),
    algorithm,
    validity: resolveValidity(options, DEFAULT_LEAF_DAYS),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(KU.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([EKU.clientAuth, EKU.serverAuth]),
      ...sanExtension(options.sans),
    ],
  });
}

/**
 * Loads a CA certificate and its private key (PKCS#8, SEC1 or PKCS#1 PEM, as
 * written by gnp or openssl) so it can sign again. Throws when the certificate
 * is not a CA or the key does not belong to it.
 *
 * @example const ca = await loadCertificateAuthority(await Bun.file("ca.crt").text(), await Bun.file("ca.key").text())
 */
export async function loadCertificateAuthority(
  certPem: string,
  keyPem: string,
): Promise<CertificateAuthority> {
  let certificate: X509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(certPem);
  } catch (error) {
    throw new Error(`CA certificate could not be parsed: ${messageOf(error)}`, { cause: error });
  }
  const name = certificate.subject;
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (!constraints?.ca) {
    throw new Error(`certificate ${name} is not a CA: basicConstraints cA is not set`);
  }
  let pkcs8: Uint8Array<ArrayBuffer>;
  try {
    const key = createPrivateKey(keyPem);
    const spki = createPublicKey(key).export({ type: "spki", format: "der" });
    if (!spki.equals(new Uint8Array(certificate.publicKey.rawData))) {
      throw new Error(`it does not belong to the CA certificate ${name}`);
    }
    pkcs8 = new Uint8Array(key.export({ type: "pkcs8", format: "der" }));
  } catch (error) {
    throw new Error(`CA private key is unusable: ${messageOf(error)}`, { cause: error });
  }
  const { algorithm, importParams } = importParamsFor(certificate.publicKey.algorithm, name);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, importParams, true, ["sign"]);
  const publicKey = await certificate.publicKey.export(importParams, ["verify"]);
  certificate.privateKey = privateKey;
  return issued(certificate, { keys: { privateKey, publicKey }, algorithm, privateKeyPem: await pkcs8Pem(privateKey) });
}

// Every argument is checked (by evaluating it) before build() spends time on a key.
type BuildInput = {
  commonName: string;
  algorithm: KeyAlgorithm;
  issuer?: CertificateAuthority;
  validity: { notBefore: Date; notAfter: Date };
  extensions: X509.Extension[];
};

async function build(input: BuildInput): Promise<IssuedCertificate> {
  const { issuer } = input;
  const keys = await generateKeys(input.algorithm);
  const subject = [{ CN: [input.commonName] }];
  const extensions = [...input.extensions, await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)];
  // Issued certificates name their issuer's key, which lets openssl and
  // X509ChainBuilder pick the right CA when several share a name.
  if (issuer) extensions.push(await authorityKeyIdentifier(issuer));
  const certificate = await x509.X509CertificateGenerator.create({
    subject,
    // The CA's own encoded Name, byte for byte, so name chaining matches.
    issuer: issuer ? issuer.certificate.subjectName : subject,
    publicKey: keys.publicKey,
    signingKey: issuer ? issuer.keys.privateKey : keys.privateKey,
    notBefore: input.validity.notBefore,
    notAfter: input.validity.notAfter,
    extensions,
  });
  return issued(certificate, { keys, algorithm: input.algorithm, privateKeyPem: await pkcs8Pem(keys.privateKey) });
}

/** The authorityKeyIdentifier a certificate issued by `ca` carries. */
export async function authorityKeyIdentifier(ca: CertificateAuthority): Promise<X509.Extension> {
  // Reuse the CA's own subjectKeyIdentifier: a CA made by another tool may
  // compute it differently from the SHA-1-of-key default.
  const ski = ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey);
}

/** A made certificate with its key, PEM texts and digests. */
function issued(certificate: X509.X509Certificate, made: { keys: CryptoKeyPair; algorithm: KeyAlgorithm; privateKeyPem: string }): IssuedCertificate {
  const { keys, algorithm, privateKeyPem } = made;
  const der = new Uint8Array(certificate.rawData);
  return {
    certificatePem: withNewline(certificate.toString("pem")),
    privateKeyPem,
    der,
    ...thumbprints(der),
    commonName: certificate.subjectName.getField("CN")[0] ?? certificate.subject,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    algorithm,
    keys,
    certificate,
  };
}

async function generateKeys(algorithm: KeyAlgorithm): Promise<CryptoKeyPair> {
  const params = KEY_PARAMS[algorithm];
  if (!params) {
    throw new RangeError(`invalid key algorithm ${JSON.stringify(algorithm)}: expected "ecdsa" or "rsa"`);
  }
  // Extractable: the private key is written out as PKCS#8 PEM.
  return crypto.subtle.generateKey(params, true, ["sign", "verify"]);
}

function importParamsFor(
  keyAlgorithm: webcrypto.Algorithm,
  name: string,
): { algorithm: KeyAlgorithm; importParams: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams } {
  if (keyAlgorithm.name === "ECDSA" && "namedCurve" in keyAlgorithm) {
    return {
      algorithm: "ecdsa",
      importParams: { name: "ECDSA", namedCurve: String(keyAlgorithm.namedCurve) },
    };
  }
  if (keyAlgorithm.name === "RSASSA-PKCS1-v1_5") {
    return { algorithm: "rsa", importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } };
  }
  throw new Error(`CA certificate ${name} has an unsupported key type: ${keyAlgorithm.name}`);
}

async function pkcs8Pem(privateKey: CryptoKey): Promise<string> {
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", privateKey);
  return withNewline(x509.PemConverter.encode(pkcs8, "PRIVATE KEY"));
}

/** notBefore (a little in the past) and notAfter from `days`, or the dates given; throws RangeError. */
export function resolveValidity(options: ValidityOptions, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const days = options.days ?? defaultDays;
  if (!Number.isInteger(days) || days < 1) {
    throw new RangeError(`invalid days ${JSON.stringify(days)}: expected a positive whole number`);
  }
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - CLOCK_SKEW_MS);
  const notAfter = options.notAfter ?? new Date((options.notBefore?.getTime() ?? now) + days * DAY_MS);
  if (!(notAfter.getTime() > notBefore.getTime())) {
    throw new RangeError(
      `invalid validity ${notBefore.toISOString()} .. ${notAfter.toISOString()}: notAfter must be after notBefore`,
    );
  }
  return { notBefore, notAfter };
}

/** A subjectAltName extension for `sans` (IP, URI with ://, e-mail with @, else DNS), or none. */
export function sanExtension(sans: readonly string[] | undefined): X509.Extension[] {
  return sans && sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans.map(toGeneralName))] : [];
}

function toGeneralName(value: string): X509.JsonGeneralName {
  if (value.length === 0) throw new RangeError(`invalid subjectAltName "": expected a name or address`);
  if (isIP(value)) return { type: "ip", value };
  if (value.includes("://")) return { type: "url", value };
  if (value.includes("@")) return { type: "email", value };
  return { type: "dns", value };
}

function requireName(commonName: string): string {
  if (typeof commonName !== "string" || commonName.length === 0 || commonName.length > 64) {
    throw new RangeError(`invalid commonName ${JSON.stringify(commonName)}: expected 1 to 64 characters`);
  }
  return commonName;
}

function withNewline(pem: string): string {
  return pem.endsWith("\n") ? pem : `${pem}\n`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
