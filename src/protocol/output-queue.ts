// One connection's outgoing bytes, with the socket's backpressure honoured, for the server
// and the client alike: messages made while corked (a read being processed, a tick of calls)
// leave in one write; what write() did not take is kept and sent on drain, in order. The queue
// counts what it holds, and what work still running has reserved in it, so that the server
// can stop reading from a client before its output grows without end. It knows no socket,
// only write().

/** The part of Bun's Socket the queue needs; tests may pass anything of this shape. */
export type Writable = { write(data: string | Uint8Array): number };

const encoder = new TextEncoder();

/** Where a queue adds the bytes the socket took: the server's metrics. */
export type ByteCounter = { bytesOut: number };

export class OutputQueue {
  readonly #counter: ByteCounter;
  /** Chunks produced while corked, not yet offered to the socket. */
  #corked: (string | Uint8Array)[] = [];
  /** Their size; strings counted in UTF-16 units, close enough to bytes for a threshold. */
  #corkedBytes = 0;
  #isCorked = false;
  /** What the socket did not take, in order. Non-empty means: wait for drain. */
  #unsent: Uint8Array[] = [];
  #unsentBytes = 0;
  /** Promised to messages not written yet (replies of commands still running). */
  #reservedBytes = 0;

  constructor(counter: ByteCounter = { bytesOut: 0 }) {
    this.#counter = counter;
  }

  /** Bytes waiting for the socket (corked chunks not counted until flushed). */
  get unsentBytes(): number {
    return this.#unsentBytes;
  }

  /** Bytes held in all: corked and not yet offered, plus offered and not taken. */
  get pendingBytes(): number {
    return this.#corkedBytes + this.#unsentBytes;
  }

  get reservedBytes(): number {
    return this.#reservedBytes;
  }

  /** What the queue holds and has promised: the bound flow control keeps under the limit. */
  get committedBytes(): number {
    return this.#corkedBytes + this.#unsentBytes + this.#reservedBytes;
  }

  /** Promises `bytes` to a message that is not written yet; release() them when it is. */
  reserve(bytes: number): void {
    this.#reservedBytes += bytes;
  }

  release(bytes: number): void {
    this.#reservedBytes = Math.max(0, this.#reservedBytes - bytes);
  }

  get isBlocked(): boolean {
    return this.#unsent.length > 0;
  }

  cork(): void {
    this.#isCorked = true;
  }

  /** Queues `data`; it leaves at once unless corked or blocked. */
  write(socket: Writable, data: string | Uint8Array): void {
    if (this.#isCorked) {
      this.#corked.push(data);
      this.#corkedBytes += typeof data === "string" ? data.length : data.byteLength;
      return;
    }
    this.#send(socket, data);
  }

  /** Ends a cork: everything written meanwhile leaves in one write. */
  uncork(socket: Writable): void {
    this.#isCorked = false;
    const chunks = this.#corked;
    if (chunks.length === 0) return;
    this.#corked = [];
    this.#corkedBytes = 0;
    this.#send(socket, chunks.length === 1 ? chunks[0]! : join(chunks));
  }

  /** Called on drain: offers the kept bytes again. Returns true when nothing is left. */
  drain(socket: Writable): boolean {
    while (this.#unsent.length > 0) {
      const chunk = this.#unsent[0]!;
      const written = socket.write(chunk);
      if (written < 0) return false; // closed: the close handler cleans up
      this.#unsentBytes -= written;
      this.#counter.bytesOut += written;
      if (written < chunk.byteLength) {
        this.#unsent[0] = chunk.subarray(written);
        return false;
      }
      this.#unsent.shift();
    }
    return true;
  }

  /** Forgets everything, for a slot that is given back. */
  reset(): void {
    this.#corked = [];
    this.#corkedBytes = 0;
    this.#isCorked = false;
    this.#unsent = [];
    this.#unsentBytes = 0;
    this.#reservedBytes = 0;
  }

  #send(socket: Writable, data: string | Uint8Array): void {
    if (this.#unsent.length > 0) {
      this.#keep(typeof data === "string" ? encoder.encode(data) : data.slice());
      return;
    }
    const written = socket.write(data);
    if (written < 0) return;
    this.#counter.bytesOut += written;
    const bytes = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
    if (written >= bytes) return;
    // A copy: the caller may reuse its buffer once write() returns.
    const rest = typeof data === "string" ? encoder.encode(data).subarray(written) : data.slice(written);
    this.#keep(rest);
  }

  #keep(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.#unsent.push(bytes);
    this.#unsentBytes += bytes.byteLength;
  }
}

/**
 * One write for many chunks: strings join as strings; with anything binary, everything is
 * copied once into one buffer sized up front (no intermediate buffer per string).
 */
function join(chunks: (string | Uint8Array)[]): string | Uint8Array {
  let total = 0;
  let binary = false;
  for (const chunk of chunks) {
    if (typeof chunk === "string") total += Buffer.byteLength(chunk);
    else {
      total += chunk.byteLength;
      binary = true;
    }
  }
  if (!binary) return chunks.join("");
  const joined = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const chunk of chunks) {
    if (typeof chunk === "string") offset += joined.write(chunk, offset);
    else {
      joined.set(chunk, offset);
      offset += chunk.byteLength;
    }
  }
  return joined;
}
