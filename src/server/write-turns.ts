// How much every connection may write in one turn of the event loop. A TLS write encrypts what
// it is offered before it returns, and the kernel takes megabytes on a fast link: a client that
// asks for large replies (GET of a 1 MiB value, pipelined) made one drain callback encrypt 4 MiB
// and held every other client's PING up for 50-90 ms. Here one turn writes at most 512 KiB for
// one connection and 2 MiB for all; what is left is kept, and written at the next turn, in the
// order the connections were held back.

import type { WriteAllowance } from "../protocol/output-queue.ts";
import type { ConnectionTable } from "./connection-table.ts";
import { HandleQueue } from "./handle-queue.ts";

/** One connection's writes in one turn of the loop. */
export const CONNECTION_TURN_BYTES = 512 * 1024;
/** All connections' writes in one turn, after which each gets LATE_TURN_BYTES at most. */
export const LOOP_TURN_BYTES = 2 * 1024 * 1024;
/** A connection's share of a turn already spent by others: one TLS record, so that every one goes on. */
export const LATE_TURN_BYTES = 16 * 1024;

/** What the turns need of the server: the connection in a slot, and how to go on writing it. */
export type WriteTurnsHost = {
  readonly table: ConnectionTable;
  /** Offers the slot's kept output again, as a drain of its socket would. */
  writeOn(slot: number): void;
};

export class WriteTurns implements WriteAllowance {
  readonly #host: WriteTurnsHost;
  /** The turn being run, counted from 1, and the bytes granted in it. */
  #turn = 1;
  #turnBytes = 0;
  #turnOpen = false;
  /** Per slot: the turn its bytes were counted in, and the bytes granted to it in that turn. */
  readonly #turnOf: Uint32Array;
  readonly #bytesOf: Float64Array;
  /** Per slot: the handle of the connection waiting in #held, or -1. */
  readonly #heldHandle: Float64Array;
  /** The connections held back, in the order they were. */
  readonly #held = new HandleQueue();

  constructor(capacity: number, host: WriteTurnsHost) {
    this.#host = host;
    this.#turnOf = new Uint32Array(capacity);
    this.#bytesOf = new Float64Array(capacity);
    this.#heldHandle = new Float64Array(capacity).fill(-1);
  }

  grant(slot: number, wanted: number): number {
    if (!this.#turnOpen) this.#open();
    if (this.#turnOf[slot] !== this.#turn) {
      this.#turnOf[slot] = this.#turn;
      this.#bytesOf[slot] = 0;
    }
    const used = this.#bytesOf[slot]!;
    const share = this.#turnBytes >= LOOP_TURN_BYTES ? LATE_TURN_BYTES : CONNECTION_TURN_BYTES;
    const granted = Math.max(0, Math.min(wanted, share - used));
    this.#bytesOf[slot] = used + granted;
    this.#turnBytes += granted;
    return granted;
  }

  holdBack(slot: number): void {
    const connection = this.#host.table.connections[slot];
    if (connection === undefined || this.#heldHandle[slot] === connection.id) return;
    this.#heldHandle[slot] = connection.id;
    this.#held.push(connection.id);
  }

  #open(): void {
    this.#turnOpen = true;
    setImmediate(this.#nextTurn);
  }

  /** A new turn: the connections held back write on, in order, each within the new turn's shares. */
  readonly #nextTurn = (): void => {
    this.#turnOpen = false;
    this.#turn = (this.#turn + 1) >>> 0 || 1;
    this.#turnBytes = 0;
    const table = this.#host.table;
    // Bounded by the connections held when the turn began: one held again goes behind them.
    for (let left = this.#held.length; left > 0; left--) {
      const handle = this.#held.shift()!;
      const slot = table.slab.slotOf(handle);
      // Closed meanwhile, its slot perhaps taken by another connection: nothing to write.
      if (slot < 0 || this.#heldHandle[slot] !== handle) continue;
      this.#heldHandle[slot] = -1;
      this.#host.writeOn(slot);
    }
  };
}
