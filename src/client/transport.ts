// The seam between the client's logic (client.ts) and a runtime's TLS socket: what a transport
// is given, what it must report, and the three things the client asks of it. Each runtime has
// one implementation (bun-transport.ts, node-transport.ts); neither knows the protocol.
// Invariant: a transport reports exactly one of failed() or closed(), once, and nothing after.

import type { GnpError } from "../errors.ts";

type Pem = string | Uint8Array;

export type TransportOptions = Readonly<{
  host: string;
  port: number;
  cert: Pem;
  key: Pem;
  ca: Pem | readonly Pem[] | undefined;
  insecure: boolean;
  servername: string | undefined;
}>;

export type TransportEvents = {
  /** Bytes from the server, in order; the chunk may be reused once this returns. */
  data(chunk: Uint8Array): void;
  /** The socket takes writes again after one that it took only in part (or not at all). */
  drain(): void;
  /** No connection was made (CONNECT_FAILED) or the server's certificate failed (SERVER_CERT_INVALID). */
  failed(error: GnpError): void;
  /** The connection ended; `cause` is the socket's error when it gave one. */
  closed(cause: Error | undefined): void;
};

export type Transport = {
  /** Bytes taken (all, part, or 0 when the socket wants a drain first); -1 once closed. */
  write(data: string | Uint8Array): number;
  /** Closes the sending side once what was written has gone out. */
  end(): void;
  /** Drops the connection now. Safe to call at any time, more than once. */
  terminate(): void;
};

/** Starts connecting at once; events arrive later, never from inside this call. */
export type OpenTransport = (options: TransportOptions, events: TransportEvents) => Transport;
