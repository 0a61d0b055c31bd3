// One connection's outgoing bytes, with the socket's backpressure honoured, for the server
// and the client alike: messages made while corked (a read being processed, a tick of calls)
// leave in one write; what write() did not take is kept and sent on drain, in order. The queue
// counts what it holds, and what work still running has reserved in it, so that the server
// can stop reading from a client before its output grows without end. It knows no socket,
// only write().

/** The part of Bun's Socket the queue needs; tests may pass anything of this shape. */
export type Writable = { write(data: string | Uint8Array): number };

const encoder = new TextEncoder();

/** A binary chunk this large is written as it is, not copied into one buffer with its neighbours. */
const LARGE_CHUNK = 64 * 1024;

/** Where a queue adds the bytes the socket took: the server's metrics. */
export type ByteCounter = { bytesOut: number };

export class OutputQueue {
  readonly #counter: ByteCounter;
  /** Chunks produced while corked, not yet offered to the socket. */
  #corked: (string | Uint8Array)[] = [];
  /** The corked chunks the caller gave with `shared`: kept by reference if not taken at once. */
  #sharedCorked = new Set<Uint8Array>();
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

  /**
   * Queues `data`; it leaves at once unless corked or blocked. What the socket does not take is
   * copied, since the caller may reuse its buffer, unless `shared` says the caller will never
   * change it (a reply body a handler returned, a stored value pushed to many watchers).
   */
  write(socket: Writable, data: string | Uint8Array, shared = false): void {
    if (this.#isCorked) {
      this.#corked.push(data);
      if (shared && typeof data !== "string") this.#sharedCorked.add(data);
      this.#corkedBytes += typeof data === "string" ? data.length : data.byteLength;
      return;
    }
    this.#send(socket, data, shared);
  }

  /**
   * Ends a cork: what was written meanwhile leaves in one write, except that a large binary
   * chunk (a big reply body) goes in a write of its own rather than being copied first.
   */
  uncork(socket: Writable): void {
    this.#isCorked = false;
    const chunks = this.#corked;
    if (chunks.length === 0) return;
    const shared = this.#sharedCorked;
    this.#corked = [];
    this.#corkedBytes = 0;
    if (shared.size > 0) this.#sharedCorked = new Set();
    const isShared = (chunk: string | Uint8Array) => typeof chunk !== "string" && shared.has(chunk);
    if (chunks.length === 1) {
      this.#send(socket, chunks[0]!, isShared(chunks[0]!));
      return;
    }
    let run: (string | Uint8Array)[] = [];
    const sendRun = () => {
      if (run.length === 0) return;
      if (run.length === 1) this.#send(socket, run[0]!, isShared(run[0]!));
      else this.#send(socket, join(run), true);
      run = [];
    };
    for (const chunk of chunks) {
      if (typeof chunk !== "string" && chunk.byteLength >= LARGE_CHUNK) {
        sendRun();
        this.#send(socket, chunk, isShared(chunk));
      } else {
        run.push(chunk);
      }
    }
    sendRun();
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
    this.#sharedCorked = new Set();
    this.#corkedBytes = 0;
    this.#isCorked = false;
    this.#unsent = [];
    this.#unsentBytes = 0;
    this.#reservedBytes = 0;
  }

  /** `owned`: the queue made `data` (a join), or the caller shares it: what the socket does not take is kept without a copy. */
  #send(socket: Writable, data: string | Uint8Array, owned: boolean): void {
    if (this.#unsent.length > 0) {
      this.#keep(typeof data === "string" ? encoder.encode(data) : owned ? data : data.slice());
      return;
    }
    const written = socket.write(data);
    if (written < 0) return;
    this.#counter.bytesOut += written;
    const bytes = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
    if (written >= bytes) return;
    // A copy of what the caller gave: it may reuse its buffer once write() returns.
    const rest = typeof data === "string" ? encoder.encode(data).subarray(written) : owned ? data.subarray(written) : data.slice(written);
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
