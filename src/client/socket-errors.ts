// How the client words a failure to connect, the same on every runtime: the address as it was
// dialled and the socket's error code in plain words, and for the TLS failures people meet
// most (a port that answers in plain HTTP, a CA certificate given as the client's) what to do.
// Both transports use it, so a user sees one message whether Bun or Node.js ran the client.

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

/** What the TLS library says when the other side answered something that is not TLS. */
const NOT_TLS = /WRONG_VERSION_NUMBER|wrong version number|packet length too long|HTTP_REQUEST/i;

/**
 * The failure a TLS error stands for when it is not about the server's certificate: a port
 * that does not speak TLS (CONNECT_FAILED), or a client certificate whose key usage forbids
 * signing, which a CA certificate's does (CONFIG_INVALID); undefined for any other error.
 *
 * @example tlsFailure("127.0.0.1", 9090, error)?.message // "could not connect to 127.0.0.1:9090: that port does not speak TLS; is it the admin port? (WRONG_VERSION_NUMBER)"
 */
export function tlsFailure(host: string, port: number, error: Error): GnpError | undefined {
  const said = `${(error as { code?: unknown }).code ?? ""} ${error.message}`;
  if (NOT_TLS.test(said)) {
    return new GnpError("CONNECT_FAILED", `could not connect to ${formatHostPort(host, port)}: that port does not speak TLS; is it the admin port? (WRONG_VERSION_NUMBER)`, { cause: error });
  }
  if (said.includes("KEY_USAGE_BIT_INCORRECT")) {
    return new GnpError("CONFIG_INVALID", "the client certificate's key usage does not allow signing a TLS handshake (KEY_USAGE_BIT_INCORRECT): is it a CA certificate? use a client certificate", { cause: error });
  }
  return undefined;
}

/** SERVER_CERT_INVALID, with the TLS library's reason. */
export function serverCertificateRejected(error: Error): GnpError {
  return new GnpError("SERVER_CERT_INVALID", `server certificate rejected: ${error.message}`, { cause: error });
}
