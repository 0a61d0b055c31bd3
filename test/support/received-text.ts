// What a test client received, as latin1 text (byte counts equal string lengths), and the
// waits on it: the TLS RawClient (harness.ts) and the in-memory MemoryClient share it, so a
// test reads the same over either.

type Waiter = { predicate: (text: string) => boolean; resolve: () => void; reject: (error: Error) => void; what: string };

export class ReceivedText {
  text = "";
  bytes = 0;
  isClosed = false;
  #waiters: Waiter[] = [];

  append(chunk: Uint8Array): void {
    this.text += Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("latin1");
    this.bytes += chunk.byteLength;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.predicate(this.text)) return true;
      waiter.resolve();
      return false;
    });
  }

  /** The connection closed: every wait still open rejects, with what did arrive. */
  close(): void {
    this.isClosed = true;
    for (const waiter of this.#waiters) waiter.reject(this.#missing(waiter.what));
    this.#waiters = [];
  }

  /** Resolves once the text satisfies `predicate` (or contains the string); rejects if the connection closes first, instead of hanging until the timeout. */
  waitFor(predicate: string | ((text: string) => boolean)): Promise<void> {
    const test = typeof predicate === "string" ? (text: string) => text.includes(predicate) : predicate;
    const what = typeof predicate === "string" ? JSON.stringify(predicate) : "the awaited text";
    if (test(this.text)) return Promise.resolve();
    if (this.isClosed) return Promise.reject(this.#missing(what));
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiters.push({ predicate: test, resolve, reject, what });
    return promise;
  }

  #missing(what: string): Error {
    return new Error(`connection closed before ${what} arrived; received ${JSON.stringify(this.text)}`);
  }
}
