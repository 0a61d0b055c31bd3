// The one error type of gnp, and the catalog of its codes.
// Every fault the server, the client or the CLI reports has a stable `code`; users match on
// the code, never on the message. The catalog says how each code reaches the wire: as an
// `ERR` reply (the connection stays open), as an `ERR: <reason>` line followed by an abort,
// as a silent close, or not at all (local faults of the library, the client or the CLI); and,
// for a code a connection can be turned away with, which kind of refusal it is.

/** How a fault with this code is reported to the peer. */
export type ErrorKind = "reply" | "abort" | "close" | "local";

/**
 * Why a connection was turned away before its greeting, for codes that can do that: its
 * certificate (the validator's verdicts), the server (no slot, or shutting down), or a TLS
 * handshake that failed or did not finish. Refusals are counted by code for /metrics.
 */
export type RefusalKind = "certificate" | "server" | "handshake";

/** Every code, its kind and what it means. docs/errors.md lists the same table. */
export const ERROR_CATALOG = {
  // Certificate validation (PROTOCOL.md section 1): ERR: <reason>, then close.
  CERT_MISSING: { kind: "abort", refusal: "certificate", summary: "the client presented no certificate" },
  CERT_EXPIRED: { kind: "abort", refusal: "certificate", summary: "the client certificate's notAfter is in the past" },
  CERT_NOT_YET_VALID: { kind: "abort", refusal: "certificate", summary: "the client certificate's notBefore is in the future" },
  CERT_UNKNOWN: { kind: "abort", refusal: "certificate", summary: "the certificate is neither on the allow-list nor linked by a valid path to a trusted CA" },
  CERT_INVALID: { kind: "abort", refusal: "certificate", summary: "a certificate could not be parsed, has a critical extension gnp does not process, or its chain breaks a CA rule (not a CA, no keyCertSign, pathLenConstraint, nameConstraints)" },
  CERT_WRONG_USAGE: { kind: "abort", refusal: "certificate", summary: "a CA-issued certificate not meant for client authentication (extended key usage, key usage, a CA certificate), or a CA on its path that may not issue for it" },
  CERT_REVOKED: { kind: "abort", refusal: "certificate", summary: "the certificate, or a CA on its path, is listed in its issuer's CRL" },
  CERT_CHAIN_TOO_LONG: { kind: "abort", refusal: "certificate", summary: "the client sent more certificates than allowed, or its path to a trusted CA has more intermediates than allowed" },
  CRL_STALE: { kind: "abort", refusal: "certificate", summary: "a CRL needed to check the certificate is past its nextUpdate (or before its thisUpdate), and stale CRLs are not served on" },
  // Framing faults (PROTOCOL.md section 4): ERR: <reason>, then abort.
  HEAD_TOO_LARGE: { kind: "abort", summary: "a request head exceeded 8064 bytes without its CRLF CRLF" },
  EMPTY_COMMAND: { kind: "abort", summary: "a request began with an empty command line" },
  BAD_HEADER: { kind: "abort", summary: "a header line had no ':' or an invalid name" },
  BAD_HEAD_BYTE: { kind: "abort", summary: "a head held a control byte, a bare CR or LF, or invalid UTF-8" },
  MISSING_SEQUENCE: { kind: "abort", summary: "a request had no Sequence header" },
  BAD_SEQUENCE: { kind: "abort", summary: "a Sequence was empty, longer than 64 bytes or not visible ASCII" },
  DUPLICATE_HEADER: { kind: "abort", summary: "Sequence or Size appeared twice in one request" },
  BAD_SIZE: { kind: "abort", summary: "a Size was not decimal digits" },
  BODY_TOO_LARGE: { kind: "abort", summary: "a Size exceeded the configured body limit" },
  // Connection life: ERR: <reason>, then abort; those of kind close (HANDSHAKE_TIMEOUT,
  // HANDSHAKE_FAILED, ADDRESS_LIMIT, HANDSHAKE_EVICTED, CLIENT_CLOSED, OUTPUT_OVERFLOW) end
  // the connection without a line.
  CONNECTION_LIMIT: { kind: "abort", refusal: "server", summary: "every slab slot, or every slot connections in their handshake may hold, was in use" },
  ADDRESS_LIMIT: { kind: "close", refusal: "server", summary: "the client's address already had its limit of connections in their handshake" },
  HANDSHAKE_EVICTED: { kind: "close", refusal: "handshake", summary: "a handshake that had not sent its ClientHello gave its slot to a newer connection" },
  HANDSHAKE_TIMEOUT: { kind: "close", refusal: "handshake", summary: "the TLS handshake did not finish in time" },
  HANDSHAKE_FAILED: { kind: "close", refusal: "handshake", summary: "the TLS handshake failed (protocol version, alert, bad record)" },
  IDLE_TIMEOUT: { kind: "abort", summary: "no traffic in either direction for longer than the idle timeout" },
  REQUEST_TIMEOUT: { kind: "abort", summary: "a request's head and body did not all arrive within the request timeout of its first byte" },
  CLIENT_CLOSED: { kind: "close", summary: "the client closed the connection; replies to what it had sent went out first" },
  OUTPUT_OVERFLOW: { kind: "close", summary: "a push came while the client's queued output was past the limit (it stopped reading)" },
  SHUTTING_DOWN: { kind: "abort", refusal: "server", summary: "the server is shutting down" },
  CLOSED_BY_SERVER: { kind: "abort", summary: "a handler or the application closed the connection" },
  // Command faults: an ERR reply, the connection stays open.
  UNKNOWN_COMMAND: { kind: "reply", summary: "no handler is registered for the command" },
  BAD_ARGUMENTS: { kind: "reply", summary: "the command was given the wrong arguments" },
  NOT_FOUND: { kind: "reply", summary: "the key does not exist" },
  NOT_ALLOWED: { kind: "reply", summary: "the client may not run this command, or not on this key or prefix" },
  CONFLICT: { kind: "reply", summary: "an If-Match version did not match" },
  HANDLER_FAILED: { kind: "reply", summary: "a handler threw something that is not a GnpError" },
  STORE_FAILED: { kind: "reply", summary: "the store could not carry out a read or write (disk full, I/O error, database gone)" },
  NOT_WATCHING: { kind: "reply", summary: "UNWATCH named a Sequence with no watch on this connection" },
  // Library, client and CLI faults: thrown to the caller, never sent.
  STALE_CONNECTION: { kind: "local", summary: "a connection handle was used after its connection closed" },
  REFUSED: { kind: "local", summary: "the server refused the connection with ERR: <reason>" },
  CONNECTION_LOST: { kind: "local", summary: "the connection closed while calls were pending" },
  CONNECT_FAILED: { kind: "local", summary: "the client could not reach the server, or got no greeting in time" },
  SERVER_CERT_INVALID: { kind: "local", summary: "the server's certificate did not verify against the client's CA (or name)" },
  CALL_TIMEOUT: { kind: "local", summary: "a call got no reply within its timeout" },
  REPLY_ERROR: { kind: "local", summary: "the server answered a call with an ERR reply" },
  BAD_REPLY: { kind: "local", summary: "the server sent bytes that are not a valid reply" },
  CONFIG_INVALID: { kind: "local", summary: "an option, flag or configuration value is invalid" },
  FILE_UNREADABLE: { kind: "local", summary: "a configured file could not be read" },
  TLS_CONFIG_INVALID: { kind: "local", summary: "the server certificate or key is unusable, or they do not match" },
  LISTEN_FAILED: { kind: "local", summary: "the listener could not bind its address and port" },
  STORE_UNAVAILABLE: { kind: "local", summary: "the store could not be opened (unreadable directory, corrupt file, no server)" },
  HANDLERS_INVALID: { kind: "local", summary: "a --handlers module failed to load or exports no valid handler" },
  DATA_DIR_IN_USE: { kind: "local", summary: "another gnp serve holds the lock of the same data directory" },
} as const satisfies Record<string, { kind: ErrorKind; refusal?: RefusalKind; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

type Catalog = typeof ERROR_CATALOG;

/** The codes a connection may be refused with; of one kind when `K` says which. */
export type RefusalCode<K extends RefusalKind = RefusalKind> = {
  [C in ErrorCode]: Catalog[C] extends { refusal: K } ? C : never;
}[ErrorCode];

/**
 * The refusal codes of `kind`, in catalog order.
 *
 * @example refusalCodes("handshake") // ["HANDSHAKE_TIMEOUT", "HANDSHAKE_FAILED"]
 */
export function refusalCodes<K extends RefusalKind>(kind: K): RefusalCode<K>[] {
  return (Object.keys(ERROR_CATALOG) as ErrorCode[]).filter((code) => (ERROR_CATALOG[code] as { refusal?: RefusalKind }).refusal === kind) as RefusalCode<K>[];
}

/**
 * The error gnp throws, rejects with, and turns into wire text.
 *
 * @example
 * throw new GnpError("NOT_FOUND", `not found: ${key}`);
 */
export class GnpError extends Error {
  override readonly name = "GnpError";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** How this error reaches the peer, from the catalog. */
  get kind(): ErrorKind {
    return ERROR_CATALOG[this.code].kind;
  }
}

export function isGnpError(value: unknown, code?: ErrorCode): value is GnpError {
  return value instanceof GnpError && (code === undefined || value.code === code);
}
