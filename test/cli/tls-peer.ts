// A TLS client for tests of the real program: it presents a certificate read from PEM (such as
// the DATA/pki/client.crt a first run writes), checks the server against the given CA, and
// records every byte the server sends. A wait for text that never comes fails when the
// server closes, with what did arrive, instead of hanging until the test's timeout.

import type { Socket } from "bun";

export type TlsPeerOptions = { port: number; cert: string; key: string; ca: string };

type Waiter = { test: (text: string) => boolean; resolve: () => void; reject: (error: Error) => void; what: string };

export class TlsPeer implements AsyncDisposable {
  readonly #socket: Socket<undefined>;
  readonly closed: Promise<void>;
  #received = "";
  #isClosed = false;
  #waiters: Waiter[] = [];

  private constructor(socket: Socket<undefined>, closed: Promise<void>) {
    this.#socket = socket;
    this.closed = closed;
  }

  static async connect(options: TlsPeerOptions): Promise<TlsPeer> {
    const { promise: closed, resolve: onClosed } = Promise.withResolvers<void>();
    // Bun.connect resolves before the TLS handshake, and writes before it are dropped.
    const { promise: handshaken, resolve: onHandshake } = Promise.withResolvers<void>();
    // Bytes can arrive before Bun.connect resolves (the greeting follows the handshake at once).
    const early: string[] = [];
    let closedEarly = false;
    let peer: TlsPeer | undefined;
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: options.port,
      tls: { cert: options.cert, key: options.key, ca: options.ca, serverName: "localhost" },
      socket: {
        data(_socket, chunk) {
          const text = Buffer.from(chunk).toString("latin1");
          if (peer) peer.#onText(text);
          else early.push(text);
        },
        handshake() {
          onHandshake();
        },
        close() {
          if (peer) peer.#onClose();
          else closedEarly = true;
          onClosed();
          onHandshake();
        },
        error() {},
      },
    });
    await handshaken;
    peer = new TlsPeer(socket, closed);
    for (const text of early) peer.#onText(text);
    if (closedEarly) peer.#onClose();
    return peer;
  }

  /** Everything received so far (latin1, so one character per byte). */
  get received(): string {
    return this.#received;
  }

  /** Writes everything or throws: a test must never lose bytes silently. */
  write(data: string): void {
    const written = this.#socket.write(data);
    if (written !== Buffer.byteLength(data) && !this.#isClosed) throw new Error(`socket.write took ${written} of ${Buffer.byteLength(data)} bytes`);
  }

  /** Resolves once the received text contains `text`; rejects if the connection closes first. */
  waitFor(text: string): Promise<void> {
    const test = (received: string) => received.includes(text);
    if (test(this.#received)) return Promise.resolve();
    if (this.#isClosed) return Promise.reject(this.#missing(text));
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiters.push({ test, resolve, reject, what: text });
    return promise;
  }

  /** Resolves with everything received once the server has closed the connection. */
  async untilClosed(): Promise<string> {
    await this.closed;
    return this.#received;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#isClosed) this.#socket.terminate();
    await this.closed;
  }

  #onText(text: string): void {
    this.#received += text;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.test(this.#received)) return true;
      waiter.resolve();
      return false;
    });
  }

  #onClose(): void {
    this.#isClosed = true;
    for (const waiter of this.#waiters) waiter.reject(this.#missing(waiter.what));
    this.#waiters = [];
  }

  #missing(what: string): Error {
    return new Error(`connection closed before ${JSON.stringify(what)} arrived; received ${JSON.stringify(this.#received)}`);
  }
}
