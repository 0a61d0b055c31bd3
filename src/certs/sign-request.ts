// Signing a certificate signing request (PKCS#10) for someone who keeps their own key: the
// request's signature proves they hold it; the certificate is a client certificate (not a CA,
// digitalSignature, clientAuth) whose subject is the request's or the one given, whose SANs
// and lifetime come from the signer, never from what the request asks for.
import { thumbprints } from "./thumbprint.ts";
import { authorityKeyIdentifier, DEFAULT_LEAF_DAYS, resolveValidity, sanExtension, type CertificateAuthority, type IssuedCertificate } from "./generate.ts";
import { x509 } from "./x509.ts";

export type RequestSigning = {
  /** Replaces the request's subject with CN=<this>. */
  commonName?: string;
  /** DNS names, IP addresses, e-mail addresses (with "@") or URIs (with "://"), e.g. SPIFFE IDs. */
  sans?: readonly string[];
  days?: number;
};

/** A signed request: the certificate, without a private key (its owner has it). */
export type SignedRequest = Omit<IssuedCertificate, "privateKeyPem" | "keys">;

/**
 * Signs the PEM (or DER) request `csr` with `ca`. Throws Error when the request does not parse
 * or its signature does not verify, and RangeError when the certificate would name no one.
 *
 * @example const signed = await signRequest(ca, await Bun.file("bob.csr").text(), { sans: ["spiffe://acme.example/ns/ci/sa/bob"], days: 30 })
 */
export async function signRequest(ca: CertificateAuthority, csr: string | Uint8Array, options: RequestSigning = {}): Promise<SignedRequest> {
  let request: InstanceType<typeof x509.Pkcs10CertificateRequest>;
  try {
    request = new x509.Pkcs10CertificateRequest(typeof csr === "string" ? csr : new Uint8Array(csr));
  } catch (error) {
    throw new Error(`the request could not be parsed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (!(await request.verify())) throw new Error(`the request of ${request.subject || "(empty subject)"} is not signed by the key it carries`);
  const commonName = options.commonName;
  if (commonName !== undefined && (commonName.length === 0 || commonName.length > 64)) {
    throw new RangeError(`invalid commonName ${JSON.stringify(commonName)}: expected 1 to 64 characters`);
  }
  const subject = commonName !== undefined ? [{ CN: [commonName] }] : request.subjectName;
  const sans = options.sans ?? [];
  if (commonName === undefined && request.subject === "" && sans.length === 0) {
    throw new RangeError("the certificate would name no one: the request has an empty subject; give a common name or a SAN");
  }
  const KU = x509.KeyUsageFlags;
  const publicKey = await request.publicKey.export();
  const validity = resolveValidity({ days: options.days }, DEFAULT_LEAF_DAYS);
  const certificate = await x509.X509CertificateGenerator.create({
    subject,
    issuer: ca.certificate.subjectName,
    publicKey,
    signingKey: ca.keys.privateKey,
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(KU.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      ...sanExtension(sans),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await authorityKeyIdentifier(ca),
    ],
  });
  const der = new Uint8Array(certificate.rawData);
  const pem = certificate.toString("pem");
  return {
    certificatePem: pem.endsWith("\n") ? pem : `${pem}\n`,
    der,
    ...thumbprints(der),
    commonName: certificate.subjectName.getField("CN")[0] ?? certificate.subject,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    algorithm: publicKey.algorithm.name === "ECDSA" ? "ecdsa" : "rsa",
    certificate,
  };
}
