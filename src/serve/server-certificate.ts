// Checks on the server's own certificate before it is served: one that has expired, or is not
// valid yet, is refused (clients would fail the handshake with a less helpful message), and
// one that expires within 14 days earns a warning at start and at every reload.

import { GnpError } from "../errors.ts";
import { formatInstant } from "../certs/validator.ts";
import { x509 } from "../certs/x509.ts";
import type * as X509 from "@peculiar/x509";

export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

export type ServerCertificateCheck = {
  /** CN=..., else the whole subject. */
  name: string;
  notAfter: Date;
  /** Set when the certificate expires within EXPIRY_WARNING_DAYS. */
  warning: string | undefined;
};

/**
 * Checks the first certificate of a PEM chain against `now`. Throws GnpError
 * TLS_CONFIG_INVALID when it is expired, not yet valid, or not a certificate.
 *
 * @example const { warning } = checkServerCertificate(certPem); if (warning) log.warn(warning);
 */
export function checkServerCertificate(pem: string, now: number = Date.now()): ServerCertificateCheck {
  let certificate: X509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(pem);
  } catch (error) {
    throw new GnpError("TLS_CONFIG_INVALID", `server certificate could not be parsed: ${(error as Error).message}`, { cause: error });
  }
  const commonName = certificate.subjectName.getField("CN")[0];
  const name = commonName ? `CN=${commonName}` : certificate.subject;
  const notAfter = certificate.notAfter;
  if (now > notAfter.getTime()) {
    throw new GnpError("TLS_CONFIG_INVALID", `server certificate ${name} expired at ${formatInstant(notAfter)}`);
  }
  if (now < certificate.notBefore.getTime()) {
    throw new GnpError("TLS_CONFIG_INVALID", `server certificate ${name} is not valid before ${formatInstant(certificate.notBefore)}`);
  }
  const left = notAfter.getTime() - now;
  const warning =
    left < EXPIRY_WARNING_DAYS * DAY_MS
      ? `server certificate ${name} expires at ${formatInstant(notAfter)}, in ${describeLeft(left)}: renew it, then reload (SIGHUP or gnp reload)`
      : undefined;
  return { name, notAfter, warning };
}

function describeLeft(ms: number): string {
  const days = Math.floor(ms / DAY_MS);
  if (days >= 1) return `${days} day${days === 1 ? "" : "s"}`;
  const hours = Math.floor(ms / 3_600_000);
  return hours >= 1 ? `${hours} hour${hours === 1 ? "" : "s"}` : "less than an hour";
}
