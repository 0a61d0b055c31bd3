// When a connection's input is read: paused while the client does not take its replies, has
// too many commands running, or has commands running whose replies could take its output past
// --max-output; resumed when all of that has eased (hysteresis), at the next turn of the event
// loop. One turn of the loop runs at most 2 ms or 1,024 requests, shared by every connection;
// a read that finds it spent runs one request and waits, in arrival order, for the next, and
// replies settling in one tick leave in one write.

import { SlotFlag } from "../slab/slab.ts";
import type { ConnectionTable } from "./connection-table.ts";
import { HandleQueue } from "./handle-queue.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { RequestReader } from "./request-reader.ts";

/** Corked replies past this size are written at once, so one read cannot build a huge buffer. */
const FLUSH_AT = 64 * 1024;

/**
 * How long the requests of all connections together may run in one turn of the event loop:
 * a client that pipelines 100,000 requests at once (Bun hands over up to 512 KiB per read), or
 * fifty that each send a few hundred in the same turn, would otherwise hold the loop for a long
 * time, and every other client with it. What is left waits unread for the next turn.
 */
const TURN_BUDGET_MS = 2;
/** And at most this many requests per turn, whatever their cost. */
export const TURN_REQUESTS = 1024;
/**
 * While other connections wait for their turn, one connection runs at most this many requests
 * before it goes behind them: a client's one PING waits for a slice of each flood, not for
 * all of it. More than a usual pipeline's depth, so a read of 16 requests is never cut.
 */
export const WAITING_SLICE = 32;
/** The clock is read after every this many requests of a turn, not after each (a power of two). */
const TURN_CLOCK_EVERY = 8;

/** Commands of one connection running at once before its input is paused. */
export const MAX_INFLIGHT = 1024;

export class FlowControl {
  readonly #table: ConnectionTable;
  readonly #reader: RequestReader;
  readonly #maxOutput: number;
  readonly #metrics: ServerMetrics;
  /** Unsent output past which input is paused, and under which it resumes. */
  readonly #pauseAt: number;
  readonly #resumeAt: number;
  /** When the read being run began, and its requests so far (see WAITING_SLICE). */
  #turnStartedAt = 0;
  #turnRequests = 0;
  /** The loop's turn, shared by every connection: when it began and its requests so far (see TURN_BUDGET_MS). */
  #loopStartedAt = 0;
  #loopRequests = 0;
  /** A turn is open: its end (#nextTurn) is scheduled. */
  #loopOpen = false;
  /** This turn's budget is used up: from now on every read runs one request, then waits. */
  #loopSpent = false;
  /** The connections waiting for a turn, in the order they began to wait. */
  readonly #waiting = new HandleQueue();

  constructor(table: ConnectionTable, reader: RequestReader, options: { maxOutput: number; metrics: ServerMetrics }) {
    this.#table = table;
    this.#reader = reader;
    this.#maxOutput = options.maxOutput;
    this.#metrics = options.metrics;
    this.#pauseAt = Math.min(256 * 1024, Math.floor(options.maxOutput / 2));
    this.#resumeAt = Math.floor(this.#pauseAt / 2);
  }

  /** A read of one connection begins at `now` (performance.now()); the loop's turn opens if none is. */
  startTurn(now: number): void {
    this.#turnStartedAt = now;
    this.#turnRequests = 0;
    this.#openLoopTurn(now);
  }


  /** When the turn being run began: the time its requests were read. */
  get turnStartedAt(): number {
    return this.#turnStartedAt;
  }

  /**
   * The read is done and its replies written: returns the time (performance.now()), which starts
   * the connection's idle clock, and clocks the commands the read answered at once, all with the
   * turn's time, since their replies left together. Two clock readings a read, none a command.
   */
  endTurn(): number {
    const now = performance.now();
    if (this.#metrics.unclocked > 0) this.#metrics.clockAnswered((now - this.#turnStartedAt) / 1000);
    return now;
  }

  /**
   * After each command is started: writes corked replies past FLUSH_AT at once, and pauses
   * input while the client is not taking its replies, has too many commands running, or has
   * commands running whose replies could take its output past --max-output. One check for sync
   * and async handlers alike: a sync reply is already in the queue, an async one is reserved in
   * it, so what a connection makes the server hold stays near the limit plus one reply.
   */
  throttle(slot: number): void {
    const table = this.#table;
    const socket = table.sockets[slot];
    if (socket === undefined || table.stopped(slot)) return;
    this.flushPast(slot);
    const output = table.outputs[slot]!;
    const owed = output.reservedBytes > 0 && output.committedBytes >= this.#maxOutput;
    // Output held back for a later turn of the loop (write-turns.ts) is not a client that does not
    // read: it may reach half the limit before input pauses, so that large replies keep flowing.
    const backedUp = output.unsentBytes > (output.isHeldBack ? this.#maxOutput / 2 : this.#pauseAt);
    if (owed || backedUp || table.slab.inflight[slot]! >= MAX_INFLIGHT) {
      table.slab.flags[slot]! |= SlotFlag.INPUT_PAUSED;
      socket.pause();
    } else if (this.#spent()) {
      // This turn is used up, or others wait and this connection had its slice: it goes behind them.
      table.slab.flags[slot]! |= SlotFlag.INPUT_PAUSED;
      socket.pause();
      this.resumeNextTurn(slot);
    }
  }

  /**
   * Counts a request against the turn; true when the connection must now yield. Once the turn
   * is spent, a read that arrives still runs its first request (a lone PING is answered at
   * once, at the cost of one request per ready connection), then waits behind the others.
   */
  #spent(): boolean {
    const requests = ++this.#turnRequests;
    const loopRequests = ++this.#loopRequests;
    if (this.#loopSpent) return true;
    if (requests >= WAITING_SLICE && this.#waiting.length > 0) return true;
    if (loopRequests < TURN_REQUESTS && ((loopRequests & (TURN_CLOCK_EVERY - 1)) !== 0 || performance.now() - this.#loopStartedAt <= TURN_BUDGET_MS)) return false;
    this.#loopSpent = true;
    return true;
  }

  /** Opens the loop's turn at `now` unless one is open; its end is the next turn of the loop. */
  #openLoopTurn(now: number): void {
    if (this.#loopOpen) return;
    this.#loopOpen = true;
    this.#loopSpent = false;
    this.#loopStartedAt = now;
    this.#loopRequests = 0;
    setImmediate(this.#nextTurn);
  }

  /**
   * A new turn of the loop: the connections waiting resume in the order they began to wait,
   * until its budget is spent; those left wait on, ahead of any that begin to wait after them.
   */
  readonly #nextTurn = (): void => {
    this.#loopOpen = false;
    if (this.#waiting.length === 0) return;
    this.#openLoopTurn(performance.now());
    const slab = this.#table.slab;
    // Bounded by the connections waiting when the turn began: one that waits again goes behind them.
    for (let left = this.#waiting.length; left > 0; left--) {
      if (this.#loopSpent || performance.now() - this.#loopStartedAt > TURN_BUDGET_MS) break;
      const slot = slab.slotOf(this.#waiting.shift()!);
      if (slot < 0) continue;
      slab.flags[slot]! &= ~SlotFlag.YIELDED;
      this.maybeResume(slot);
    }
  };

  /**
   * Resumes a paused connection at a later turn of the loop, not now, behind the connections
   * already waiting. Settles run as microtasks: resuming there would read and run more
   * requests, whose writes the store commits in the same microtask checkpoint, and so on,
   * without the loop ever reading anyone else.
   */
  resumeNextTurn(slot: number): void {
    const slab = this.#table.slab;
    if ((slab.flags[slot]! & (SlotFlag.INPUT_PAUSED | SlotFlag.CONDEMNED | SlotFlag.YIELDED)) !== SlotFlag.INPUT_PAUSED) return;
    slab.flags[slot]! |= SlotFlag.YIELDED;
    this.#waiting.push(this.#table.connections[slot]!.id);
    if (!this.#loopOpen) this.#openLoopTurn(performance.now());
  }

  /** Writes corked output at once when it passed FLUSH_AT, so one burst cannot build one huge buffer. */
  flushPast(slot: number): void {
    const output = this.#table.outputs[slot]!;
    const socket = this.#table.sockets[slot];
    if (socket === undefined || output.pendingBytes - output.unsentBytes <= FLUSH_AT) return;
    output.uncork(socket);
    output.cork();
  }

  /**
   * Resumes a paused connection once its output has drained, its commands have caught up and
   * what they may still reply fits in half the limit (hysteresis: no pause after every reply).
   */
  maybeResume(slot: number): void {
    const table = this.#table;
    const slab = table.slab;
    if ((slab.flags[slot]! & (SlotFlag.INPUT_PAUSED | SlotFlag.CONDEMNED | SlotFlag.YIELDED)) !== SlotFlag.INPUT_PAUSED) return;
    const output = table.outputs[slot]!;
    const socket = table.sockets[slot];
    if (socket === undefined || output.unsentBytes > (output.isHeldBack ? this.#maxOutput / 4 : this.#resumeAt) || slab.inflight[slot]! >= MAX_INFLIGHT / 2) return;
    if (output.reservedBytes > 0 && output.committedBytes >= this.#maxOutput / 2) return;
    slab.flags[slot]! &= ~SlotFlag.INPUT_PAUSED;
    output.cork();
    this.startTurn(performance.now());
    try {
      this.#reader.resume(slot);
    } finally {
      output.uncork(socket);
      table.afterWrite(slot, this.endTurn());
    }
    const flags = slab.flags[slot]!;
    if (flags & SlotFlag.INPUT_PAUSED || flags & SlotFlag.CONDEMNED) return;
    // The client closed its side while paused: everything it sent is answered now.
    if (flags & SlotFlag.PEER_ENDED) table.condemn(slot, "CLIENT_CLOSED", "the client closed its side", { silent: true });
    // Shutting down: what was received before it has now been run; nothing more is read.
    else if (flags & SlotFlag.DRAINING) {
      if (slab.inflight[slot] === 0) table.finishDraining(slot);
    } else socket.resume();
  }

  /** Async replies finishing in one tick (a group commit) leave in one write. */
  corkUntilMicrotask(slot: number, handle: number): void {
    const table = this.#table;
    const slab = table.slab;
    if (slab.flags[slot]! & SlotFlag.FLUSH_SCHEDULED) return;
    slab.flags[slot]! |= SlotFlag.FLUSH_SCHEDULED;
    table.outputs[slot]!.cork();
    queueMicrotask(() => {
      const current = slab.slotOf(handle);
      if (current < 0) return;
      slab.flags[current]! &= ~SlotFlag.FLUSH_SCHEDULED;
      const socket = table.sockets[current];
      if (socket === undefined) return;
      table.outputs[current]!.uncork(socket);
      table.afterWrite(current);
      this.resumeNextTurn(current);
    });
  }
}
