// The verdict on a client certificate: admitted, with who it is, or refused, with a stable
// code and a reason that names the certificate it is about (PROTOCOL.md section 1). Shared
// by the validator, which decides, and the path checks, which supply the reasons.
import type { RefusalCode } from "../errors.ts";
import type { ClientCertificate } from "./client-certificate.ts";

/** The validator's refusals: the catalog's codes with `refusal: "certificate"` (src/errors.ts). */
export type AdmissionCode = RefusalCode<"certificate">;

export type Refusal = { ok: false; code: AdmissionCode; reason: string };

/** Admitted, with the one ClientCertificate value the connection will hold, or refused. */
export type Admission = { ok: true; certificate: ClientCertificate } | Refusal;

export function refuse(code: AdmissionCode, reason: string): Refusal {
  return { ok: false, code, reason };
}
