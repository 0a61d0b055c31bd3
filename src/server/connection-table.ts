// The engine's objects per slot, beside the slab's columns: the socket, the handlers' Connection,
// the output queue and why the connection is closing; and what every part of the engine does to
// one connection: write to it, and write-then-abort (PROTOCOL.md section 4): condemn it, send
// its ERR: line behind the replies it is owed, and end it once its output has drained.

import type { ErrorCode } from "../errors.ts";
import { encodeErrorLine, type ReplyMessage } from "../protocol/encoder.ts";
import { BufferPool, OutputQueue, type ByteCounter, type WriteAllowance } from "../protocol/output-queue.ts";
import { SlotFlag, type ConnectionSlab } from "../slab/slab.ts";
import type { Presented } from "./admission.ts";
import type { Connection } from "./connection.ts";
import type { TimeLimits } from "./time-limits.ts";

/**
 * The part of Bun's Socket the engine uses: a TLS socket from Bun.listen, or an in-memory one
 * (memory-transport.ts). `data` is the slab handle, or a negative marker (arrivals.ts).
 */
export interface EngineSocket {
  data: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** With `byteOffset` and `byteLength`, writes that range of `data` (as Bun's write() does). */
  write(data: string | Uint8Array, byteOffset?: number, byteLength?: number): number;
  end(data?: string): unknown;
  terminate(): void;
  pause(): unknown;
  resume(): unknown;
  timeout(seconds: number): void;
  /**
   * The client's certificate and, through issuerCertificate, every further certificate it sent,
   * in the order sent. Bun's argument is `abbreviated`, the opposite of Node's `detailed`: only
   * `false` returns the chain (see docs/certificate-chains.md). It makes the TLS library keep
   * memory for the connection's life, so admission reads the next two where they exist
   * (presented-chain.ts); an in-memory socket has only this.
   */
  getPeerCertificate(abbreviated: boolean): Presented | null | undefined;
  getPeerX509Certificate?(): { readonly fingerprint256: string } | undefined;
  getSession?(): unknown;
  getCipher(): { name?: string } | null | undefined;
}

/** Why a condemned connection is closing, for the close hook. */
export type CloseReason = { code: ErrorCode; reason: string };

/** How condemn() ends a connection: `immediate` drops the replies still owed, `silent` sends no ERR: line. */
export type CondemnHow = { immediate?: boolean; silent?: boolean };

export class ConnectionTable {
  readonly slab: ConnectionSlab;
  readonly sockets: (EngineSocket | undefined)[];
  readonly connections: (Connection | undefined)[];
  readonly outputs: (OutputQueue | undefined)[];
  readonly closeReasons: (CloseReason | undefined)[];
  readonly #limits: TimeLimits;
  readonly #counter: ByteCounter;
  /** The output buffers every connection's queue borrows while corked. */
  readonly #pool = new BufferPool();
  readonly #maxOutput: number;
  /** Told when a connection is condemned: the reader drops what it half-read. */
  readonly #onCondemned: (slot: number) => void;

  /** How much each connection may write in a turn of the loop (write-turns.ts); none: all at once. */
  readonly #allowance: WriteAllowance | undefined;

  constructor(slab: ConnectionSlab, limits: TimeLimits, options: { maxOutput: number; counter: ByteCounter; onCondemned: (slot: number) => void; allowance?: WriteAllowance }) {
    this.slab = slab;
    this.#limits = limits;
    this.#counter = options.counter;
    this.#maxOutput = options.maxOutput;
    this.#onCondemned = options.onCondemned;
    this.#allowance = options.allowance;
    this.sockets = new Array(slab.capacity);
    this.connections = new Array(slab.capacity);
    this.outputs = new Array(slab.capacity);
    this.closeReasons = new Array(slab.capacity);
  }

  /** A slot was given a socket; its output queue is kept across connections, emptied. */
  open(slot: number, socket: EngineSocket, connection: Connection): void {
    this.sockets[slot] = socket;
    this.connections[slot] = connection;
    (this.outputs[slot] ??= new OutputQueue(this.#counter, this.#pool, { allowance: this.#allowance, slot })).reset();
  }

  /** The slot's socket closed: forgets it all. */
  close(slot: number): void {
    this.sockets[slot] = undefined;
    this.connections[slot] = undefined;
    this.closeReasons[slot] = undefined;
    this.outputs[slot]!.reset();
  }

  /** Condemned, or already given back (a handler may close its connection mid-read). */
  stopped(slot: number): boolean {
    return (this.slab.flags[slot]! & (SlotFlag.CONDEMNED | SlotFlag.IN_USE)) !== SlotFlag.IN_USE;
  }

  // ── Writing ───────────────────────────────────────────────────────────────────────────

  /** A reply or push, its head encoded into the connection's output buffer (see ReplyMessage). */
  writeMessage(slot: number, message: ReplyMessage): void {
    const socket = this.sockets[slot];
    if (socket !== undefined) this.outputs[slot]!.writeMessage(socket, message);
  }

  write(slot: number, data: string): void {
    const socket = this.sockets[slot];
    if (socket !== undefined) this.outputs[slot]!.write(socket, data);
  }

  /** Output moved (at `now`, performance.now(), when the caller has read the clock): the connection is not idle. */
  afterWrite(slot: number, now?: number): void {
    if (this.sockets[slot] !== undefined) this.#limits.touch(slot, now);
  }

  // ── Write, then abort ─────────────────────────────────────────────────────────────────

  /**
   * Condemns a connection: from now on its input is discarded unread and nothing more
   * runs; `ERR: <reason>` goes out behind the replies already queued, and the socket ends
   * once all of it is written, or is cut at the abort deadline if the peer does not read.
   */
  condemn(slot: number, code: ErrorCode, reason: string, how: CondemnHow = {}): void {
    const slab = this.slab;
    if (slab.flags[slot]! & SlotFlag.CONDEMNED) return;
    slab.flags[slot]! |= SlotFlag.CONDEMNED | (how.silent ? SlotFlag.NO_LINE : 0);
    this.#onCondemned(slot);
    this.closeReasons[slot] = { code, reason };
    this.#limits.startAbort(slot);
    // Commands received before the fault are still running: their replies go first, then the
    // line (see CommandRunner's settle). The abort deadline bounds how long they may take.
    if (slab.inflight[slot]! > 0 && !how.immediate) {
      slab.flags[slot]! |= SlotFlag.LINE_PENDING;
      return;
    }
    this.sendErrorLine(slot);
  }

  /** Writes the condemned connection's `ERR: <reason>` line and ends it once the output drains. */
  sendErrorLine(slot: number): void {
    const slab = this.slab;
    slab.flags[slot]! &= ~SlotFlag.LINE_PENDING;
    const socket = this.sockets[slot];
    const reason = this.closeReasons[slot];
    if (socket === undefined || reason === undefined) return;
    const output = this.outputs[slot]!;
    if (!(slab.flags[slot]! & SlotFlag.NO_LINE)) output.write(socket, encodeErrorLine(reason.reason));
    output.uncork(socket);
    this.endIfCondemned(slot);
  }

  /** Ends a condemned socket once its output has drained. The peer's FIN or the deadline closes it. */
  endIfCondemned(slot: number): void {
    const slab = this.slab;
    const flags = slab.flags[slot]!;
    if ((flags & SlotFlag.CONDEMNED) === 0 || flags & (SlotFlag.ENDED | SlotFlag.LINE_PENDING)) return;
    if (this.outputs[slot]!.isBlocked) return;
    slab.flags[slot] = flags | SlotFlag.ENDED;
    this.sockets[slot]?.end();
  }

  /**
   * The server begins to shut down: a connection still in its handshake is cut; every admitted
   * one stops reading, and ends with the shutdown line once its commands have replied (at once
   * when none is running and none waits behind a pause; otherwise their replies finish it).
   */
  drainAll(): void {
    const slab = this.slab;
    for (let slot = 0; slot < slab.highWater; slot++) {
      const flags = slab.flags[slot]!;
      if ((flags & SlotFlag.IN_USE) === 0 || flags & SlotFlag.CONDEMNED) continue;
      if ((flags & SlotFlag.ADMITTED) === 0) {
        slab.flags[slot] = flags | SlotFlag.CONDEMNED;
        this.sockets[slot]?.terminate();
        continue;
      }
      slab.flags[slot] = flags | SlotFlag.DRAINING;
      if (slab.inflight[slot] === 0 && (flags & SlotFlag.INPUT_PAUSED) === 0) this.finishDraining(slot);
    }
  }

  /** A draining connection whose commands have all replied: the shutdown line goes last. */
  finishDraining(slot: number): void {
    this.condemn(slot, "SHUTTING_DOWN", "server is shutting down");
  }

  /**
   * Cuts a connection at once, with no line: a handshake that failed, timed out or lost its
   * slot, or a subscriber whose output passed the limit. Bun runs the close handler inside
   * terminate(), so the slot is given back on return.
   */
  cut(slot: number, code: ErrorCode, reason: string): void {
    this.closeReasons[slot] = { code, reason };
    this.slab.flags[slot]! |= SlotFlag.CONDEMNED;
    this.slab.deadline[slot] = 0;
    this.sockets[slot]?.terminate();
  }

  /** Cuts off a subscriber whose queued output passed the limit (no line: it is not reading). */
  overflow(slot: number): void {
    this.cut(slot, "OUTPUT_OVERFLOW", `unsent output passed ${this.#maxOutput} bytes`);
  }
}
