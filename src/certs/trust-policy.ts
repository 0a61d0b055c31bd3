// Who may connect, as one value: the thumbprint allow-list, the trusted CAs, their revocation
// lists and the limits on the chains clients send. It travels intact from the server's options (or the settings of
// `gnp serve`) through the server, setTrust and the reload code to CertificateValidator, which
// alone interprets it; a new kind of rule is a new field here and a check in the validator.

import type { CrlInput } from "./revocation-lists.ts";

export const DEFAULT_MAX_CHAIN_DEPTH = 8;
export const DEFAULT_MAX_PRESENTED_CERTIFICATES = 10;
/** The largest limits accepted: Bun turns each certificate a client sends into an object (~30 µs). */
export const MAX_CHAIN_DEPTH = 16;
export const MAX_PRESENTED_CERTIFICATES = 32;

/**
 * The rules a client certificate is admitted by. A field left out takes its default.
 *
 * @example new CertificateValidator({ allow: ["E1BB5A3C0D97216E4F80C219AA73560B38FE9F03"], trustedCas: [caPem] })
 */
export type TrustPolicy = Readonly<{
  /** Thumbprints, SHA-1 or SHA-256, any case, `:` separators allowed. */
  allow: readonly string[];
  /** PEM texts; one text may hold several certificates (intermediates too). */
  trustedCas: readonly string[];
  /** Intermediate CAs a path may have between the client certificate and a trusted CA. Default 8. */
  maxChainDepth?: number;
  /** Certificates a client may send, its own included. Default 10. */
  maxPresentedCertificates?: number;
  /** CRLs of trusted CAs, PEM texts or DER bytes; each must be signed by a CA in trustedCas. */
  crls?: readonly CrlInput[];
  /** Admit clients whose CA's CRL is past its nextUpdate, with a warning, instead of refusing them. Default false. */
  allowStaleCrls?: boolean;
}>;
