// A request body larger than a connection's slot, gathered from the reads that carry it without
// copying what need not be: Bun hands each read over in a buffer of its own, never reused, so a
// large piece of a read stays where it is, as a view; small pieces (a slow client's trickle, the
// bytes that were in the slot) are copied together into buffers of ours, so that a body is a
// few parts however it was cut, and a view never holds more than twice its own bytes alive.

/** A piece of a read at least this large, and at least half of that read's memory, is kept as a view. */
const VIEW_AT = 16 * 1024;
/** Small pieces are copied into buffers of up to this size. */
const COPY_BUFFER_BYTES = 64 * 1024;

export class BodyAssembly {
  /** The body's size, from the Size header. */
  readonly size: number;
  #filled = 0;
  readonly #parts: Uint8Array[] = [];
  /** The buffer small pieces are copied into: bytes from #sealed to #copied are not a part yet. */
  #copyBuffer: Uint8Array | undefined;
  #sealed = 0;
  #copied = 0;

  constructor(size: number) {
    this.size = size;
  }

  /** Bytes still to come. */
  get missing(): number {
    return this.size - this.#filled;
  }

  /**
   * Adds `read[from, end)`. `owned`: the read is the reader's to keep (a fresh read from the
   * socket); otherwise (the slot, which the next read overwrites) the bytes are copied.
   */
  add(read: Uint8Array, from: number, end: number, owned: boolean): void {
    const length = end - from;
    if (length <= 0) return;
    this.#filled += length;
    // The view holds all of the read's memory alive: at most twice the bytes it shows.
    if (owned && length >= VIEW_AT && length * 2 >= read.buffer.byteLength) {
      this.#seal();
      this.#parts.push(from === 0 && end === read.byteLength ? read : read.subarray(from, end));
      return;
    }
    while (from < end) {
      let buffer = this.#copyBuffer;
      if (buffer === undefined || this.#copied === buffer.byteLength) {
        this.#seal();
        // Sized for what is still to come at most, so that the last one is no larger than needed.
        buffer = this.#copyBuffer = uninitialized(Math.min(COPY_BUFFER_BYTES, end - from + this.missing));
        this.#sealed = this.#copied = 0;
      }
      const take = Math.min(buffer.byteLength - this.#copied, end - from);
      buffer.set(read.subarray(from, from + take), this.#copied);
      this.#copied += take;
      from += take;
    }
  }

  /** The body, once complete: its parts in order. */
  finish(): readonly Uint8Array[] {
    this.#seal();
    return this.#parts;
  }

  /** Makes the bytes copied since the last part a part; later small pieces go on after them in the same buffer. */
  #seal(): void {
    const buffer = this.#copyBuffer;
    if (buffer === undefined || this.#copied === this.#sealed) return;
    this.#parts.push(this.#sealed === 0 && this.#copied === buffer.byteLength ? buffer : buffer.subarray(this.#sealed, this.#copied));
    this.#sealed = this.#copied;
  }
}

/** `size` bytes not zeroed first (every byte is written before it is read), as a plain Uint8Array. */
function uninitialized(size: number): Uint8Array {
  const memory = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(memory.buffer, memory.byteOffset, size);
}
