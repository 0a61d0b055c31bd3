// Connections without a socket, for testing commands: the engine serves an in-memory socket
// through the very events a TLS socket raises (a slot, admission, the reader, dispatch,
// authorization, flow control, write-then-abort), with the client's bytes and the server's
// replies held in memory. In the spirit of Hono's app.request() and fastify's inject(); the
// server's own behaviour (TLS, time limits, backpressure) is tested over real sockets.

import { X509Certificate } from "node:crypto";
import type { Presented } from "./admission.ts";
import type { ConnectionEngine, SocketEvents } from "./connection-engine.ts";
import type { EngineSocket } from "./connection-table.ts";
import { describe } from "../wording.ts";

/** Who the in-memory client is: an identity taken on your word, or a certificate the server's trust rules judge. */
export type InMemoryOptions = {
  /** Admitted as this identity, without a certificate (connection.certificate is undefined). Default "in-memory". */
  identity?: string;
  /** A client certificate (PEM), admitted or refused by the server's trust rules as at a TLS handshake. */
  certificate?: string;
};

/** What remoteAddress says of an in-memory connection. */
export const IN_MEMORY_ADDRESS = "in-memory";
/** Who an in-memory client is when it was given neither an identity nor a certificate. */
export const DEFAULT_IN_MEMORY_IDENTITY = "in-memory";

const encoder = new TextEncoder();

/**
 * The client's end of an in-memory connection: write requests, read what the server writes
 * (its greeting first, as a TLS client would), end or drop it. Bytes cross on later turns of
 * the event loop, never inside the call that wrote them, as they would over a socket.
 *
 * @example
 * await using client = server.connectInMemory({ identity: "alice" });
 * client.write("PING\r\nSequence: 1\r\n\r\n");
 */
export class InMemoryConnection implements AsyncDisposable {
  readonly #socket: MemorySocket;
  readonly #listeners = new Set<(chunk: Uint8Array) => void>();
  #received: Uint8Array[] = [];
  #receivedBytes = 0;
  /** Resolves with everything the server wrote, once it has closed the connection. */
  readonly closed: Promise<Uint8Array>;

  constructor(engine: ConnectionEngine, options: InMemoryOptions = {}) {
    if (options.identity !== undefined && (typeof options.identity !== "string" || options.identity === "")) {
      throw new TypeError(`invalid identity ${JSON.stringify(options.identity)}: expected a non-empty string`);
    }
    const presented = options.certificate === undefined ? undefined : presentedBy(options.certificate);
    const { promise, resolve } = Promise.withResolvers<Uint8Array>();
    this.closed = promise;
    this.#socket = new MemorySocket(engine.events, {
      presented,
      received: (chunk) => this.#onData(chunk),
      closed: () => resolve(this.received),
    });
    engine.openInMemory(this.#socket, presented === undefined ? (options.identity ?? DEFAULT_IN_MEMORY_IDENTITY) : undefined);
  }

  /** Sends bytes to the server, as one read of its socket. */
  write(data: string | Uint8Array): void {
    this.#socket.deliver(typeof data === "string" ? encoder.encode(data) : data.slice());
  }

  /** Closes the client's side: what it sent is still answered, then the server closes (a FIN). */
  end(): void {
    this.#socket.deliver("end");
  }

  /** Drops the connection at once, as a reset would. */
  destroy(): void {
    this.#socket.terminate();
  }

  /** Everything the server has written so far. */
  get received(): Uint8Array {
    if (this.#received.length > 1) this.#received = [Buffer.concat(this.#received)];
    return this.#received[0] ?? new Uint8Array(0);
  }

  get receivedBytes(): number {
    return this.#receivedBytes;
  }

  get isClosed(): boolean {
    return this.#socket.isClosed;
  }

  /**
   * Calls `listener` with each chunk the server writes from now on; returns a function that
   * stops it. Chunks are handed over on a microtask, so a listener added right after the
   * connection was made hears its greeting.
   */
  onData(listener: (chunk: Uint8Array) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.isClosed) this.destroy();
    await this.closed;
  }

  #onData(chunk: Uint8Array): void {
    this.#received.push(chunk);
    this.#receivedBytes += chunk.byteLength;
    for (const listener of this.#listeners) listener(chunk);
  }
}

/**
 * Sends `input` over a new in-memory connection, closes the client's side, and resolves with
 * every byte the server wrote (its greeting first) once it has answered and closed.
 */
export function inject(engine: ConnectionEngine, input: string | Uint8Array, options: InMemoryOptions = {}): Promise<Uint8Array> {
  const connection = new InMemoryConnection(engine, options);
  connection.write(input);
  connection.end();
  return connection.closed;
}

/** The server's end: what the engine writes to, pauses and ends, as it would a Bun socket. */
class MemorySocket implements EngineSocket {
  data = -1;
  readonly remoteAddress = IN_MEMORY_ADDRESS;
  readonly remotePort = 0;
  readonly #events: SocketEvents;
  readonly #presented: Presented | undefined;
  readonly #received: (chunk: Uint8Array) => void;
  readonly #closed: () => void;
  /** What the client sent and the engine has not been given yet, in order. */
  readonly #inbox: (Uint8Array | "end")[] = [];
  #delivering = false;
  #paused = false;
  #ended = false;
  #isClosed = false;

  constructor(events: SocketEvents, sides: { presented: Presented | undefined; received: (chunk: Uint8Array) => void; closed: () => void }) {
    this.#events = events;
    this.#presented = sides.presented;
    this.#received = sides.received;
    this.#closed = sides.closed;
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Queues bytes (or the client's FIN) for the engine, given on a later turn of the loop. */
  deliver(item: Uint8Array | "end"): void {
    if (this.#isClosed) return;
    this.#inbox.push(item);
    this.#schedule();
  }

  write(data: string | Uint8Array, byteOffset = 0, byteLength?: number): number {
    if (this.#isClosed || this.#ended) return -1;
    const bytes = typeof data === "string" ? encoder.encode(data) : data.slice(byteOffset, byteLength === undefined ? undefined : byteOffset + byteLength);
    // The client's side is told on a microtask, never inside the engine's own write.
    queueMicrotask(() => this.#received(bytes));
    return bytes.byteLength;
  }

  end(data?: string): void {
    if (data !== undefined) this.write(data);
    if (this.#ended || this.#isClosed) return;
    this.#ended = true;
    // As over TLS, the close event comes after the output left, on a later turn.
    setImmediate(() => this.#close());
  }

  terminate(): void {
    // As in Bun, the close handler runs inside terminate().
    this.#close();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#schedule();
  }

  timeout(): void {}

  getPeerCertificate(): Presented {
    return this.#presented ?? {};
  }

  getCipher(): { name: string } {
    return { name: "in-memory" };
  }

  #schedule(): void {
    if (this.#delivering || this.#paused || this.#inbox.length === 0) return;
    this.#delivering = true;
    setImmediate(() => {
      this.#delivering = false;
      // Each item is one read; a pause taken during one holds back the rest.
      while (this.#inbox.length > 0 && !this.#paused && !this.#isClosed) {
        const item = this.#inbox.shift()!;
        if (item === "end") this.#events.end(this);
        else this.#events.data(this, item);
      }
    });
  }

  #close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#inbox.length = 0;
    this.#events.close(this);
    // After the microtasks that hand over the last writes.
    queueMicrotask(this.#closed);
  }
}

/** A PEM certificate as a TLS socket would present it: its DER, its thumbprints, its subject's CN and its SANs. */
function presentedBy(pem: string): Presented {
  if (typeof pem !== "string") throw new TypeError("the in-memory client's certificate must be a PEM string");
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    throw new TypeError(`the in-memory client's certificate could not be read: ${describe(error)}`);
  }
  const commonName = certificate.subject.split("\n").find((line) => line.startsWith("CN="))?.slice(3);
  return {
    raw: new Uint8Array(certificate.raw),
    fingerprint: certificate.fingerprint,
    fingerprint256: certificate.fingerprint256,
    ...(commonName !== undefined ? { subject: { CN: commonName } } : {}),
    ...(certificate.subjectAltName ? { subjectaltname: certificate.subjectAltName } : {}),
  };
}
