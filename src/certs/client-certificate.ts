// The facts of an admitted client certificate, in one shape from the validator's verdict to a
// handler's `connection.certificate`: who it names and its digests (the parsed facts of
// certificate-facts.ts, declared there once), its validity as Dates, and how it was admitted.
// The validator makes one frozen value per admission and nothing copies it again.

import type { CertificateFacts } from "./certificate-facts.ts";

/** The admitted client certificate, as the server validated it. */
export type ClientCertificate = Readonly<
  Pick<CertificateFacts, "identity" | "subject" | "commonName" | "sans" | "altNames" | "spiffeId" | "spki" | "sha1" | "sha256"> & {
    notBefore: Date;
    notAfter: Date;
    /** True when admitted through a trusted CA, false when through the allow-list. */
    viaCa: boolean;
    /** The trusted CA that vouched for it (`CN=Acme Root`); absent when admitted by the allow-list. */
    trustedCa?: string;
    /** Present when an operator should hear about this admission: a stale CRL served on (allowStaleCrls). */
    warnings?: readonly string[];
  }
>;
