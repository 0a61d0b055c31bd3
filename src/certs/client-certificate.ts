// The facts of an admitted client certificate, in one shape from the validator's verdict to a
// handler's `connection.certificate`: who it names, its digests and validity, and how it was
// admitted. The validator makes one frozen value per admission and nothing copies it again.

import type { AltNames } from "./certificate-facts.ts";

/** The admitted client certificate, as the server validated it. */
export type ClientCertificate = Readonly<{
  /** Who it names (docs/protocol.md section 1): subject CN, else SPIFFE ID, else first SAN, else SHA-256 thumbprint. */
  identity: string;
  subject: string;
  commonName: string | undefined;
  sans: readonly string[];
  /** The alternative names by kind (DNS, e-mail, URI, IP): what [[clients]] uri, dns and email rules match. */
  altNames: AltNames;
  /** The SPIFFE ID (a spiffe:// URI SAN), when the certificate has one. */
  spiffeId: string | undefined;
  /** SHA-256 of the SubjectPublicKeyInfo, upper-case hex: what an SPKI pin names. */
  spki: string;
  /** Upper-case hex, no separators. */
  sha1: string;
  sha256: string;
  notBefore: Date;
  notAfter: Date;
  /** True when admitted through a trusted CA, false when through the allow-list. */
  viaCa: boolean;
  /** The trusted CA that vouched for it (`CN=Acme Root`); absent when admitted by the allow-list. */
  trustedCa?: string;
  /** Present when an operator should hear about this admission: a stale CRL served on (allowStaleCrls). */
  warnings?: readonly string[];
}>;
