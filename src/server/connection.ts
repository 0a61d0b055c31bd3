// The handle a handler or hook gets for one connection: who the client is, which keys it may
// read and write, its 64 bytes of handler data in the slab, push and close. It holds the slab
// handle, not the slot, so once the connection has closed every use is refused
// (STALE_CONNECTION) even after the slot serves another client.

import type { ClientCertificate } from "../certs/client-certificate.ts";
import { GnpError } from "../errors.ts";
import type { HeaderList } from "../protocol/encoder.ts";
import { isValidSequence } from "../protocol/head-scanner.ts";
import { inScope, type KeyAccess, type KeyScope } from "./key-prefixes.ts";

export type { ClientCertificate };

/** How messages name a client: `CN=<common name>` when its certificate has one, else its identity. */
export function describeClient(connection: Connection): string {
  return connection.certificate?.commonName !== undefined ? `CN=${connection.certificate.commonName}` : connection.identity;
}

/** What a Connection asks of the socket side; implemented by the connection engine (connection-engine.ts). */
export interface ConnectionHost {
  isLive(handle: number): boolean;
  userData(handle: number): Uint8Array;
  push(handle: number, sequence: string, body: string | Uint8Array, headers: HeaderList | undefined): boolean;
  abort(handle: number, reason: string): void;
  /** The keys the connection may read or write now; [] once it is closed or no longer admitted. */
  scope(handle: number, access: KeyAccess): KeyScope;
}

export class Connection {
  readonly #host: ConnectionHost;
  /** The slab handle: slot and generation. Stable for the life of the connection. */
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * The client's identity: certificate CN, else its SPIFFE ID, else its first SAN, else its
   * SHA-256 thumbprint (the certificate's own `identity`); on an in-memory connection, the
   * identity it was given.
   */
  identity = "";
  /** Set once the certificate is admitted; undefined on an in-memory connection opened with an identity only. */
  certificate: ClientCertificate | undefined;
  #userData: Uint8Array | undefined;

  constructor(host: ConnectionHost, peer: { id: number; remoteAddress: string; remotePort: number }) {
    this.#host = host;
    this.id = peer.id;
    this.remoteAddress = peer.remoteAddress;
    this.remotePort = peer.remotePort;
  }

  /** False once the connection has closed or been condemned. */
  get isOpen(): boolean {
    return this.#host.isLive(this.id);
  }

  /**
   * The connection's 64 bytes of handler data in the slab, zeroed when the connection
   * opens. Throws STALE_CONNECTION after close.
   *
   * @example
   * new DataView(conn.data.buffer, conn.data.byteOffset, 64).setUint32(0, counter);
   */
  get data(): Uint8Array {
    this.#assertOpen();
    this.#userData ??= this.#host.userData(this.id);
    return this.#userData;
  }

  /**
   * Sends a PUSH carrying `sequence` (the request that asked for it). Returns false when the
   * connection is gone, so a publisher can drop its subscriber.
   *
   * @example
   * conn.push(req.sequence, JSON.stringify(event), [["Key", key]]);
   */
  push(sequence: string, body: string | Uint8Array = "", headers?: HeaderList): boolean {
    // A Sequence is written into the head as is: one with CR or LF could forge a message.
    if (typeof sequence !== "string" || !isValidSequence(sequence)) {
      throw new TypeError(`invalid push Sequence ${JSON.stringify(sequence)}: expected 1 to 64 visible ASCII characters`);
    }
    if (typeof body !== "string" && !(body instanceof Uint8Array)) throw new TypeError("a push body must be a string or a Uint8Array");
    return this.#host.push(this.id, sequence, body, headers);
  }

  /**
   * May this client read (GET, KEYS, WATCH) or write (PUT, DEL) `key`, under the key rules in
   * force (server.scopeKeys; `[[clients]]` read/write)? False once the connection is closed.
   *
   * @example if (!conn.may("write", key)) throw new GnpError("NOT_ALLOWED", `command 'SET' on key '${key}' is not allowed for ${conn.identity}`);
   */
  may(access: KeyAccess, key: string): boolean {
    return inScope(this.#host.scope(this.id, access), key);
  }

  /** The keys this client may read or write: "*" for all, else the key prefixes. */
  scope(access: KeyAccess): KeyScope {
    return this.#host.scope(this.id, access);
  }

  /** Write, then abort: sends `ERR: <reason>` after the replies already queued, then closes. */
  close(reason = "closed by the server"): void {
    this.#host.abort(this.id, reason);
  }

  #assertOpen(): void {
    if (!this.#host.isLive(this.id)) {
      throw new GnpError("STALE_CONNECTION", `connection ${this.identity || this.id} is closed`);
    }
  }
}
