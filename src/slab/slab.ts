// Connection state as a struct-of-arrays: slot i owns 64 bytes of private columns and 64 bytes
// of handler data (aligned on 64), in one ArrayBuffer for every slot, and an 8,064-byte message
// buffer, in ArrayBuffers of 128 slots made as slots are first used: 8 KiB in all. Slots are
// taken from a free stack and given back on close; each release bumps the slot's generation, so
// a handle kept past its connection's close can never reach the connection that reuses it.

export const SLOT_BYTES = 8192;
export const PRIVATE_BYTES = 64;
export const USER_DATA_BYTES = 64;
export const MESSAGE_BYTES = SLOT_BYTES - PRIVATE_BYTES - USER_DATA_BYTES; // 8064

/**
 * Message buffers are made this many slots at a time (1 MiB), when the first slot of the group
 * is handed out. Not one buffer for every slot up front: JavaScriptCore counts every
 * ArrayBuffer's bytes, touched or not, in the heap size its collections are paced by, and 77 MiB
 * of untouched message buffers (10,000 slots) let that much garbage pile up between them.
 */
export const MESSAGE_CHUNK_SLOTS = 128;
const CHUNK_SHIFT = 7;

/** Handles pack the slot into the low 21 bits and the generation above them. */
const SLOT_BITS = 21;
const SLOT_SPAN = 2 ** SLOT_BITS;
export const MAX_SLAB_CAPACITY = SLOT_SPAN - 1;

/** Bits of the `flags` column. */
export const SlotFlag = {
  IN_USE: 1 << 0,
  /** The TLS handshake finished and the certificate was admitted. */
  ADMITTED: 1 << 1,
  /** Write, then abort: input is discarded unread, nothing more runs. */
  CONDEMNED: 1 << 2,
  /** A head was parsed and its body is arriving in the message buffer. */
  AWAITING_BODY: 1 << 3,
  /** A head was parsed and its body, larger than the slot, is arriving in a side buffer. */
  BODY_OUTSIDE: 1 << 4,
  /** end() was called once the output drained: only the close is left. */
  ENDED: 1 << 5,
  /** The server is shutting down: input is discarded, in-flight commands may finish. */
  DRAINING: 1 << 6,
  /** Condemned while commands were running: the ERR: line waits for their replies. */
  LINE_PENDING: 1 << 7,
  /** Reading is paused: output backed up or too many commands in flight (flow control). */
  INPUT_PAUSED: 1 << 8,
  /** Condemned without an ERR: line: the client closed its side and everything it sent was answered. */
  NO_LINE: 1 << 9,
  /** Replies of async handlers are corked until a microtask writes them together. */
  FLUSH_SCHEDULED: 1 << 10,
  /**
   * The client closed its side while its input was paused: what it sent is still read and
   * answered, then the connection ends. Not the same as NO_LINE: a fault found in that input
   * still gets its ERR: line.
   */
  PEER_ENDED: 1 << 11,
  /** Counted in the handshake budget: opened, not admitted and not closed yet. */
  HANDSHAKING: 1 << 12,
  /** Input paused until the next turn of the event loop: this connection used up its turn. */
  YIELDED: 1 << 13,
} as const;

/**
 * The slab. Column arrays are public on purpose: the server reads and writes them in its
 * hot path without a call per field. Their layout per slot, 64 bytes in all:
 * deadline, bytesIn, requestDeadline (f64); generation, flags, fill, scanFrom, headEnd,
 * bodyFilled, requests, inflight, trustEpoch (u32); 4 bytes spare.
 */
export class ConnectionSlab {
  readonly capacity: number;
  /** The private columns and the handler data of every slot; message buffers are apart. */
  readonly memory: ArrayBuffer;
  /** When the sweeper acts on this slot (ms on performance.now()'s clock): handshake, idle or abort; 0 = none. */
  readonly deadline: Float64Array;
  readonly bytesIn: Float64Array;
  /** When the request being read must be complete (ms on performance.now()'s clock); 0 = none being read. */
  readonly requestDeadline: Float64Array;
  readonly generation: Uint32Array;
  readonly flags: Uint32Array;
  /** Bytes held in the message buffer, from its start. */
  readonly fill: Uint32Array;
  /** Where the head scan resumes, relative to the message buffer's start. */
  readonly scanFrom: Uint32Array;
  /** End of the parsed head whose body is awaited (AWAITING_BODY), relative. */
  readonly headEnd: Uint32Array;
  /** Body bytes received so far into the side buffer (BODY_OUTSIDE). */
  readonly bodyFilled: Uint32Array;
  readonly requests: Uint32Array;
  /** Handlers started and not yet settled. */
  readonly inflight: Uint32Array;
  /** The trust configuration the connection was last admitted under (see server.setTrust). */
  readonly trustEpoch: Uint32Array;
  /** Every slot's 64 bytes of handler data, slot i at i * 64. */
  readonly userData: Uint8Array;
  /** The message buffers of slots i * 128 to i * 128 + 127, once one of them was used. */
  readonly #messages: Uint8Array[] = [];
  /**
   * The same bytes as Buffers, for parseHead, which reads an ASCII head out of a Buffer without
   * a view. Only for reading: a Buffer's slice() is a view, not the copy a body must be.
   */
  readonly #messageTexts: Buffer[] = [];

  readonly #free: Int32Array;
  #freeTop: number;
  #inUse = 0;
  #highWater = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_SLAB_CAPACITY) {
      throw new RangeError(`slab capacity ${capacity} is out of range: expected 1 to ${MAX_SLAB_CAPACITY}`);
    }
    this.capacity = capacity;
    this.memory = new ArrayBuffer(capacity * (PRIVATE_BYTES + USER_DATA_BYTES));
    let offset = 0;
    const f64 = () => {
      const column = new Float64Array(this.memory, offset, capacity);
      offset += capacity * 8;
      return column;
    };
    const u32 = () => {
      const column = new Uint32Array(this.memory, offset, capacity);
      offset += capacity * 4;
      return column;
    };
    this.deadline = f64();
    this.bytesIn = f64();
    this.requestDeadline = f64();
    this.generation = u32();
    this.flags = u32();
    this.fill = u32();
    this.scanFrom = u32();
    this.headEnd = u32();
    this.bodyFilled = u32();
    this.requests = u32();
    this.inflight = u32();
    this.trustEpoch = u32();
    const privateEnd = capacity * PRIVATE_BYTES; // the 4 spare bytes per slot lie before it
    this.userData = new Uint8Array(this.memory, privateEnd, capacity * USER_DATA_BYTES);
    this.#free = new Int32Array(capacity);
    // Lowest slots on top, so a lightly loaded server makes the fewest message buffers.
    for (let i = 0; i < capacity; i++) this.#free[i] = capacity - 1 - i;
    this.#freeTop = capacity;
  }

  /** Slots in use now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Bytes of memory the slab has made so far: every slot's columns, and the message buffers of the slots used. */
  get bytes(): number {
    let bytes = this.memory.byteLength;
    for (const chunk of this.#messages) bytes += chunk.byteLength;
    return bytes;
  }

  /** One past the highest slot ever used: the sweeper looks no further. */
  get highWater(): number {
    return this.#highWater;
  }

  /** Takes a free slot and returns its handle, or -1 when every slot is in use. */
  allocate(): number {
    if (this.#freeTop === 0) return -1;
    const slot = this.#free[--this.#freeTop]!;
    this.flags[slot] = SlotFlag.IN_USE;
    this.deadline[slot] = 0;
    this.bytesIn[slot] = 0;
    this.requestDeadline[slot] = 0;
    this.fill[slot] = 0;
    this.scanFrom[slot] = 0;
    this.headEnd[slot] = 0;
    this.bodyFilled[slot] = 0;
    this.requests[slot] = 0;
    this.inflight[slot] = 0;
    this.trustEpoch[slot] = 0;
    this.userData.fill(0, slot * USER_DATA_BYTES, (slot + 1) * USER_DATA_BYTES);
    this.#inUse++;
    if (slot >= this.#highWater) {
      this.#highWater = slot + 1;
      while (this.#messages.length <= slot >> CHUNK_SHIFT) this.#addMessageChunk();
    }
    return this.generation[slot]! * SLOT_SPAN + slot;
  }

  /** Gives the slot of `handle` back. A stale handle is ignored and returns false. */
  release(handle: number): boolean {
    const slot = this.slotOf(handle);
    if (slot < 0) return false;
    this.flags[slot] = 0;
    this.deadline[slot] = 0;
    this.requestDeadline[slot] = 0;
    // Wraps after 2^32 reuses of one slot; handles stay below 2^53.
    this.generation[slot] = (this.generation[slot]! + 1) >>> 0;
    this.#free[this.#freeTop++] = slot;
    this.#inUse--;
    return true;
  }

  /** The slot a live handle names, or -1 when the handle is stale or malformed. */
  slotOf(handle: number): number {
    const slot = handle % SLOT_SPAN;
    if (slot < 0 || slot >= this.capacity || !Number.isInteger(handle)) return -1;
    if ((this.flags[slot]! & SlotFlag.IN_USE) === 0) return -1;
    return this.generation[slot] === (handle - slot) / SLOT_SPAN ? slot : -1;
  }

  /** The buffer that holds slot's message buffer, at messageBase(slot); slot must be in use. */
  messagesOf(slot: number): Uint8Array {
    return this.#messages[slot >> CHUNK_SHIFT]!;
  }

  /** The same bytes as messagesOf(slot), as a Buffer, only for reading. */
  messageTextOf(slot: number): Buffer {
    return this.#messageTexts[slot >> CHUNK_SHIFT]!;
  }

  /** Where slot's message buffer starts in messagesOf(slot). */
  messageBase(slot: number): number {
    return (slot & (MESSAGE_CHUNK_SLOTS - 1)) * MESSAGE_BYTES;
  }

  /**
   * Makes the message buffers of the next 128 slots (fewer at the end of the capacity). Slots are
   * handed out lowest first, so chunks are made in order, each when its first slot is.
   */
  #addMessageChunk(): void {
    const first = this.#messages.length * MESSAGE_CHUNK_SLOTS;
    const slots = Math.min(MESSAGE_CHUNK_SLOTS, this.capacity - first);
    const chunk = new Uint8Array(slots * MESSAGE_BYTES);
    this.#messages.push(chunk);
    this.#messageTexts.push(Buffer.from(chunk.buffer, 0, chunk.byteLength));
  }

  /** A view of slot's 64 bytes of handler data. */
  userDataOf(slot: number): Uint8Array {
    return this.userData.subarray(slot * USER_DATA_BYTES, (slot + 1) * USER_DATA_BYTES);
  }
}
