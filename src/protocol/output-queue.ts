// One connection's outgoing bytes, with the socket's backpressure honoured, for the server
// and the client alike: what is written while corked (a read being processed, a tick of calls)
// is copied into one buffer, replies encoded straight into it, and leaves in one write; a large
// binary chunk goes by reference in a write of its own. What write() did not take is kept and
// sent on drain, in order. The queue counts what it holds, and what work still running has
// reserved in it, so that the server can stop reading from a client before its output grows
// without end. A body the queue owns (ReplyMessage.owned) is freed as soon as the socket took
// its last byte, rather than left to the collector. An allowance may bound what is offered at
// once (the server's turns of the loop). It knows no socket, only write().

import { replyHeadRoom, writeReplyHead, writeText, type ReplyMessage } from "./encoder.ts";
import { free, ownedMemory } from "./owned-memory.ts";

/**
 * The part of Bun's Socket the queue needs; tests may pass anything of this shape. A queue with
 * a pool writes ranges of its buffers with `byteOffset` and `byteLength`, as Bun's write()
 * takes them, rather than making a view of each; without a pool it passes whole views only.
 */
export type Writable = { write(data: string | Uint8Array, byteOffset?: number, byteLength?: number): number };

const encoder = new TextEncoder();

/** A binary chunk this large is written as it is, not copied into one buffer with its neighbours. */
const LARGE_CHUNK = 64 * 1024;
/** The size of the buffers corked output is copied into: one TLS record's worth. */
export const OUTPUT_BUFFER_BYTES = 16 * 1024;

/**
 * A range of corked output: data[from, end), kept by reference if the socket does not take it
 * when `keepable`; `owner`: the memory to free once the socket took the range's last byte.
 */
type Piece = { data: Uint8Array; from: number; end: number; keepable: boolean; owner: ArrayBuffer | undefined };

/** Where a queue adds the bytes the socket took: the server's metrics. */
export type ByteCounter = { bytesOut: number };

/**
 * How much a queue may offer its socket now: the server's share of one turn of the event loop
 * (src/server/write-turns.ts), since a write encrypts what it offers before it returns and one
 * connection taking megabytes would hold every other client up. A queue without one offers all.
 */
export type WriteAllowance = {
  /** Bytes of `wanted` the queue of `slot` may offer now. */
  grant(slot: number, wanted: number): number;
  /**
   * The socket took all that was granted, and less than wanted: the queue of `slot` holds the
   * rest, and no drain will come for it, so the allowance has the queue drained at a later turn.
   */
  holdBack(slot: number): void;
};

/**
 * Output buffers that the queues of one server share. A queue holds one only from the first
 * write of a cork to its uncork, so that an idle connection holds none; the socket must have
 * copied what write() took by the time it returns (Bun's sockets do; the in-memory one too).
 *
 * @example
 * const pool = new BufferPool();
 * const queue = new OutputQueue(metrics, pool);
 */
export class BufferPool {
  readonly #free: Uint8Array[] = [];
  readonly #maxFree: number;

  /** `maxFree`: buffers kept for reuse at most; more are left to the collector. */
  constructor(options: { maxFree?: number } = {}) {
    this.#maxFree = options.maxFree ?? 64;
  }

  /** Buffers waiting to be taken again. */
  get freeBuffers(): number {
    return this.#free.length;
  }

  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(OUTPUT_BUFFER_BYTES);
  }

  give(buffer: Uint8Array): void {
    if (buffer.byteLength === OUTPUT_BUFFER_BYTES && this.#free.length < this.#maxFree) this.#free.push(buffer);
  }
}

export class OutputQueue {
  readonly #counter: ByteCounter;
  /**
   * Without a pool (the client, whose Node.js socket keeps a reference to what it was given),
   * a buffer is only ever appended to, never written over, and left behind once full.
   */
  readonly #pool: BufferPool | undefined;
  /** The buffer being written into, and where its bytes not yet made a piece begin and end. */
  #buffer: Uint8Array | undefined;
  #from = 0;
  #end = 0;
  /** Pool buffers filled during this cork besides #buffer: given back at uncork. */
  #filled: Uint8Array[] | undefined;
  /**
   * Corked output not yet offered to the socket, in order, when it is more than one stretch of
   * #buffer (undefined otherwise: an idle connection's queue holds as little as it can).
   */
  #pieces: Piece[] | undefined;
  /** Corked bytes: the pieces and the open part of #buffer. */
  #corkedBytes = 0;
  #isCorked = false;
  /** What the socket did not take, in order. Non-empty means: wait for drain. */
  #unsent: Uint8Array[] = [];
  /** Beside each of #unsent: the memory to free once the socket took that chunk's last byte. */
  #unsentOwners: (ArrayBuffer | undefined)[] = [];
  #unsentBytes = 0;
  /** Promised to messages not written yet (replies of commands still running). */
  #reservedBytes = 0;

  /** The allowance stopped the last offer: the socket would have taken more. */
  #heldBack = false;
  /** Who says how much may be offered at once, and the slot this queue is asked for by. */
  readonly #allowance: WriteAllowance | undefined;
  readonly #slot: number;

  constructor(counter: ByteCounter = { bytesOut: 0 }, pool?: BufferPool, options: { allowance?: WriteAllowance; slot?: number } = {}) {
    this.#counter = counter;
    this.#pool = pool;
    this.#allowance = options.allowance;
    this.#slot = options.slot ?? 0;
  }

  /** Bytes waiting for the socket (corked bytes not counted until flushed). */
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

  /** What is unsent waits for the allowance (a later turn of the loop), not for the socket to drain. */
  get isHeldBack(): boolean {
    return this.#heldBack && this.#unsent.length > 0;
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
    if (!this.#isCorked) {
      if (this.#unsent.length > 0) {
        // Blocked: straight to the kept bytes, one copy.
        this.#keep(typeof data === "string" ? encoder.encode(data) : shared ? data : data.slice());
        return;
      }
      this.#isCorked = true;
      this.write(socket, data, shared);
      this.uncork(socket);
      return;
    }
    if (typeof data === "string") {
      // A UTF-16 unit is at most 3 bytes of UTF-8; a string too long for a buffer is encoded apart.
      if (data.length * 3 > OUTPUT_BUFFER_BYTES) this.#piece(encoder.encode(data), true);
      else this.#advance(writeText(this.#room(data.length * 3), this.#end, data));
    } else if (data.byteLength >= LARGE_CHUNK) {
      this.#piece(data, shared);
    } else {
      this.#copy(data);
    }
  }

  /**
   * Queues a reply or push, its head encoded into the buffer in place and its body copied after
   * it (a large binary body, or a large part of one, goes by reference: the body of a message
   * is not changed once given).
   */
  writeMessage(socket: Writable, message: ReplyMessage): void {
    if (!this.#isCorked) {
      this.#isCorked = true;
      this.writeMessage(socket, message);
      this.uncork(socket);
      return;
    }
    let body = message.body;
    // One part is written as the buffer it is (a small body given as parts still leaves with its head).
    if (typeof body !== "string" && !(body instanceof Uint8Array) && body.length === 1) body = body[0]!;
    const headRoom = replyHeadRoom(message);
    if (typeof body === "string") {
      if (headRoom + message.size <= OUTPUT_BUFFER_BYTES) {
        // The common reply: head and body in one stretch of the buffer.
        const buffer = this.#room(headRoom + message.size);
        this.#advance(writeText(buffer, writeReplyHead(buffer, this.#end, message), body));
        return;
      }
      this.#advance(writeReplyHead(this.#room(headRoom), this.#end, message));
      this.write(socket, body);
      return;
    }
    if (!(body instanceof Uint8Array)) {
      // Parts (a large request body as it arrived): each goes as a binary chunk would, never joined.
      this.#advance(writeReplyHead(this.#room(headRoom), this.#end, message));
      for (const part of body) this.#binary(part);
      return;
    }
    const owner = message.owned === true ? ownedMemory(body) : undefined;
    if (body.byteLength < LARGE_CHUNK && headRoom + body.byteLength <= OUTPUT_BUFFER_BYTES) {
      const buffer = this.#room(headRoom + body.byteLength);
      const at = writeReplyHead(buffer, this.#end, message);
      buffer.set(body, at);
      this.#advance(at + body.byteLength);
      free(owner);
      return;
    }
    this.#advance(writeReplyHead(this.#room(headRoom), this.#end, message));
    this.#binary(body, owner);
  }

  /**
   * Part of a message's body, which is not changed once given: a large one by reference, a small
   * one copied. `owner`: the body's memory, the queue's to free once the bytes are taken or copied.
   */
  #binary(data: Uint8Array, owner?: ArrayBuffer): void {
    if (data.byteLength >= LARGE_CHUNK) {
      this.#piece(data, true, owner);
    } else {
      this.#copy(data);
      free(owner);
    }
  }

  /**
   * Ends a cork: what was written meanwhile leaves in one write per buffer, a large binary
   * chunk in a write of its own.
   */
  uncork(socket: Writable): void {
    this.#isCorked = false;
    if (this.#pieces === undefined) {
      // The common case: one stretch of one buffer.
      const buffer = this.#buffer;
      if (buffer !== undefined && this.#end > this.#from) {
        const from = this.#from;
        this.#from = this.#end;
        this.#corkedBytes = 0;
        this.#send(socket, { data: buffer, from, end: this.#end, keepable: this.#pool === undefined, owner: undefined });
      }
    } else {
      this.#seal();
      const pieces = this.#pieces;
      this.#pieces = undefined;
      this.#corkedBytes = 0;
      for (const piece of pieces) this.#send(socket, piece);
    }
    this.#giveBack();
  }

  /** Called on drain: offers the kept bytes again. Returns true when nothing is left. */
  drain(socket: Writable): boolean {
    this.#heldBack = false;
    while (this.#unsent.length > 0) {
      const chunk = this.#unsent[0]!;
      const allowed = this.#allowance === undefined ? chunk.byteLength : this.#allowance.grant(this.#slot, chunk.byteLength);
      if (allowed === 0) {
        // This turn's share is spent: the allowance drains the queue again at a later one.
        this.#holdBack();
        return false;
      }
      const written = socket.write(allowed === chunk.byteLength ? chunk : chunk.subarray(0, allowed));
      if (written < 0) return false; // closed: the close handler cleans up
      this.#unsentBytes -= written;
      this.#counter.bytesOut += written;
      if (written < chunk.byteLength) {
        this.#unsent[0] = chunk.subarray(written);
        // Stopped by the allowance, not by the socket (which would say so with a drain).
        if (written === allowed) this.#holdBack();
        return false;
      }
      this.#unsent.shift();
      // The socket copied what it took (test/server/socket-write-copy.test.ts): the memory can go.
      free(this.#unsentOwners.shift());
    }
    return true;
  }

  /** Forgets everything, for a slot that is given back. */
  reset(): void {
    // Owned bodies that will never be sent now: freed rather than left to the collector.
    if (this.#pieces !== undefined) for (const piece of this.#pieces) free(piece.owner);
    for (const owner of this.#unsentOwners) free(owner);
    this.#pieces = undefined;
    this.#corkedBytes = 0;
    this.#isCorked = false;
    this.#giveBack();
    this.#unsent = [];
    this.#unsentOwners = [];
    this.#unsentBytes = 0;
    this.#reservedBytes = 0;
    this.#heldBack = false;
  }

  // ── The buffer ────────────────────────────────────────────────────────────────────────

  /**
   * The buffer to write `bytes` into at #end, taking a fresh one when this one is full: from the
   * pool, or made for the purpose when `bytes` is more than a pool's buffer holds (a head with
   * kilobytes of headers), which the pool then does not take back.
   */
  #room(bytes: number): Uint8Array {
    const buffer = this.#buffer;
    if (buffer !== undefined && buffer.byteLength - this.#end >= bytes) return buffer;
    this.#seal();
    if (buffer !== undefined && this.#pool !== undefined) (this.#filled ??= []).push(buffer);
    const fresh = bytes > OUTPUT_BUFFER_BYTES ? new Uint8Array(bytes) : (this.#pool?.take() ?? new Uint8Array(OUTPUT_BUFFER_BYTES));
    this.#buffer = fresh;
    this.#from = 0;
    this.#end = 0;
    return fresh;
  }

  /** The bytes up to `end` were written into the buffer. */
  #advance(end: number): void {
    this.#corkedBytes += end - this.#end;
    this.#end = end;
  }

  /** Copies bytes into the buffer, across as many buffers as they need. */
  #copy(data: Uint8Array): void {
    let offset = 0;
    while (offset < data.byteLength) {
      const buffer = this.#room(1);
      const take = Math.min(buffer.byteLength - this.#end, data.byteLength - offset);
      buffer.set(offset === 0 && take === data.byteLength ? data : data.subarray(offset, offset + take), this.#end);
      this.#advance(this.#end + take);
      offset += take;
    }
  }

  /** A chunk written as it is, after what the buffer holds; `keepable`: kept by reference if not taken; `owner`: see Piece. */
  #piece(data: Uint8Array, keepable: boolean, owner?: ArrayBuffer): void {
    if (data.byteLength === 0) return;
    this.#seal();
    this.#push({ data, from: 0, end: data.byteLength, keepable, owner });
    this.#corkedBytes += data.byteLength;
  }

  #push(piece: Piece): void {
    (this.#pieces ??= []).push(piece);
  }

  /** Makes the buffer's unsent bytes a piece. A pool's buffer is written over later: its piece is copied if kept. */
  #seal(): void {
    if (this.#buffer === undefined || this.#end === this.#from) return;
    this.#push({ data: this.#buffer, from: this.#from, end: this.#end, keepable: this.#pool === undefined, owner: undefined });
    this.#from = this.#end;
  }

  /** After an uncork: a pool's buffers go back (what was not taken was copied); without a pool, writing goes on after #end. */
  #giveBack(): void {
    const pool = this.#pool;
    if (pool === undefined) {
      this.#from = this.#end;
      return;
    }
    if (this.#filled !== undefined) {
      for (const buffer of this.#filled) pool.give(buffer);
      this.#filled = undefined;
    }
    if (this.#buffer !== undefined) pool.give(this.#buffer);
    this.#buffer = undefined;
    this.#from = 0;
    this.#end = 0;
  }

  // ── The socket ────────────────────────────────────────────────────────────────────────

  /**
   * Offers the piece's bytes; what the socket does not take is kept by reference when
   * `keepable`, else copied. An owned piece's memory is freed once the socket took all of it.
   */
  #send(socket: Writable, piece: Piece): void {
    const { data, from, end, keepable, owner } = piece;
    if (this.#unsent.length > 0) {
      this.#keep(keepable ? data.subarray(from, end) : data.slice(from, end), owner);
      return;
    }
    const allowed = this.#allowance === undefined ? end - from : this.#allowance.grant(this.#slot, end - from);
    let written = 0;
    if (allowed > 0) {
      const whole = from === 0 && end === data.byteLength && allowed === end - from;
      written = whole ? socket.write(data) : this.#pool !== undefined ? socket.write(data, from, allowed) : socket.write(data.subarray(from, from + allowed));
      if (written < 0) {
        free(owner); // closed: nothing will send it
        return;
      }
      this.#counter.bytesOut += written;
    }
    if (from + written >= end) {
      free(owner);
      return;
    }
    // Stopped by the allowance, not by the socket (which would say so with a drain).
    if (written === allowed) this.#holdBack();
    // A copy of what is not the queue's to keep: the caller's buffer, or a pool's.
    this.#keep(keepable ? data.subarray(from + written, end) : data.slice(from + written, end), owner);
  }

  #holdBack(): void {
    this.#heldBack = true;
    this.#allowance!.holdBack(this.#slot);
  }

  #keep(bytes: Uint8Array, owner?: ArrayBuffer): void {
    if (bytes.byteLength === 0) {
      free(owner);
      return;
    }
    this.#unsent.push(bytes);
    this.#unsentOwners.push(owner);
    this.#unsentBytes += bytes.byteLength;
  }
}

