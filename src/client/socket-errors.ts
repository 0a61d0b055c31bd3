// How the client words a failure to connect, the same on every runtime: the address as it was
// dialled and the socket's error code in plain words. Both transports use it, so a user sees
// one message for ECONNREFUSED whether Bun or Node.js ran the client.

import { GnpError } from "../errors.ts";
import { formatHostPort } from "../wording.ts";

const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused (is the server running?)",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EAI_NONAME: "host not found",
};

/** CONNECT_FAILED for a socket error met before the connection was up. */
export function connectFailure(host: string, port: number, error: Error): GnpError {
  const code = (error as { code?: unknown }).code;
  const known = typeof code === "string" ? SOCKET_ERRORS[code] : undefined;
  const detail = known !== undefined ? `${known} (${code})` : typeof code === "string" ? `${error.message} (${code})` : error.message;
  return new GnpError("CONNECT_FAILED", `could not connect to ${formatHostPort(host, port)}: ${detail}`, { cause: error });
}

/** SERVER_CERT_INVALID, with the TLS library's reason. */
export function serverCertificateRejected(error: Error): GnpError {
  return new GnpError("SERVER_CERT_INVALID", `server certificate rejected: ${error.message}`, { cause: error });
}
