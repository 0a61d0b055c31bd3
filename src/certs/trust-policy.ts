// Who may connect, as one value: the thumbprint allow-list and the trusted CAs. It travels
// intact from the server's options (or the settings of `gnp serve`) through the server,
// setTrust and the reload code to CertificateValidator, which alone interprets it; a new kind
// of rule (revocation lists, chain limits) is a new field here and a check in the validator.

/**
 * The rules a client certificate is admitted by.
 *
 * @example new CertificateValidator({ allow: ["E1BB5A3C0D97216E4F80C219AA73560B38FE9F03"], trustedCas: [caPem] })
 */
export type TrustPolicy = Readonly<{
  /** Thumbprints, SHA-1 or SHA-256, any case, `:` separators allowed. */
  allow: readonly string[];
  /** PEM texts; one text may hold several certificates (intermediates too). */
  trustedCas: readonly string[];
}>;
