// The verdict on a client certificate: admitted, with who it is, or refused, with a stable
// code and a reason that names the certificate it is about (PROTOCOL.md section 1). Shared
// by the validator, which decides, and the path checks, which supply the reasons.
import type { RefusalCode } from "../errors.ts";
import type { AltNames } from "./certificate-facts.ts";

/** The validator's refusals: the catalog's codes with `refusal: "certificate"` (src/errors.ts). */
export type AdmissionCode = RefusalCode<"certificate">;

export type Refusal = { ok: false; code: AdmissionCode; reason: string };

export type Admission =
  | {
      ok: true;
      /** Subject CN, else the SPIFFE ID, else first SAN value, else SHA-256 thumbprint. */
      identity: string;
      subject: string;
      commonName: string | undefined;
      sans: string[];
      /** The alternative names by kind: what [[clients]] uri, dns and email rules match. */
      altNames: AltNames;
      /** The certificate's SPIFFE ID (its first spiffe:// URI), if it has one. */
      spiffeId: string | undefined;
      /** SHA-256 of the SubjectPublicKeyInfo, upper-case hex: what an SPKI pin names. */
      spki: string;
      sha1: string;
      sha256: string;
      notBefore: Date;
      notAfter: Date;
      /** True when admitted by a trusted CA, false when by the allow-list. */
      viaCa: boolean;
      /** The trusted CA the path ended at, as reasons name it (`CN=Acme Root`); absent for the allow-list. */
      trustedCa?: string;
      /** Present when admitted in spite of something an operator should hear about (a stale CRL served on). */
      warnings?: string[];
    }
  | Refusal;

export function refuse(code: AdmissionCode, reason: string): Refusal {
  return { ok: false, code, reason };
}
