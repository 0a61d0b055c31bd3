// Running the requests the reader finds on a connection: each goes to the dispatcher; a sync
// handler's reply is written at once, an async one (a promise, or a PendingReply) has its
// output reserved while it runs (flow control) and its reply written when it settles, ahead of
// the ERR: line or shutdown line that waits for the connection's last reply. Every command is
// counted in the metrics; the settles of one tick share one clock reading.

import type { Head } from "../protocol/head-scanner.ts";
import { SlotFlag } from "../slab/slab.ts";
import type { Connection } from "./connection.ts";
import type { ConnectionTable } from "./connection-table.ts";
import type { Dispatcher, Outcome } from "./dispatcher.ts";
import type { FlowControl } from "./flow-control.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { PendingReply, ReplyTarget } from "./pending-reply.ts";
import type { ReplyReserves } from "./reply-reserves.ts";
import type { RequestBody } from "./request.ts";

/** An async command in flight: what its settle needs to reply and to give its reserve back (a PendingReply carries the same). */
type Running = { readonly handle: number; readonly command: string; readonly sequence: string; readonly started: number; readonly reserved: number };

export type RunnerParts = {
  table: ConnectionTable;
  dispatcher: Dispatcher;
  flow: FlowControl;
  /** Output set aside for the replies of commands still running. */
  reserves: ReplyReserves;
  metrics: ServerMetrics;
  /** Hears of a reply that could not even be described (a last resort). */
  onError: (error: unknown, connection: Connection) => void;
};

export class CommandRunner implements ReplyTarget {
  readonly #table: ConnectionTable;
  readonly #dispatcher: Dispatcher;
  readonly #flow: FlowControl;
  readonly #reserves: ReplyReserves;
  readonly #metrics: ServerMetrics;
  readonly #onError: (error: unknown, connection: Connection) => void;
  /** The clock reading the settles of this tick share; -1 until the first of them reads it. */
  #settledAt = -1;
  readonly #tickEnded = (): void => {
    this.#settledAt = -1;
  };

  constructor(parts: RunnerParts) {
    this.#table = parts.table;
    this.#dispatcher = parts.dispatcher;
    this.#flow = parts.flow;
    this.#reserves = parts.reserves;
    this.#metrics = parts.metrics;
    this.#onError = parts.onError;
  }

  /** Runs one complete request of the admitted connection in `slot`. */
  run(slot: number, head: Head, body: RequestBody): void {
    const connection = this.#table.connections[slot]!;
    const dispatched = this.#dispatcher.dispatch(slot, connection, head, body);
    if (dispatched.kind === "refused") {
      this.#deliver(slot, dispatched.command, dispatched.reply);
      this.#metrics.countAnswered(dispatched.command, false);
      return;
    }
    const command = dispatched.command;
    if (dispatched.kind !== "ran") {
      const slab = this.#table.slab;
      slab.inflight[slot]!++;
      // Its reply does not exist yet: set aside the output it may need (and its body, held
      // until it settles), so that replies settling together stay within the limit.
      const reserved = this.#reserves.reserveFor(command, Math.max(head.size, 0));
      this.#table.outputs[slot]!.reserve(reserved);
      // Its time runs from the read that carried the request (the turn's one clock reading).
      const started = this.#flow.turnStartedAt;
      if (dispatched.kind === "pending") {
        const reply = dispatched.pending;
        reply.handle = connection.id;
        reply.command = command;
        reply.sequence = dispatched.sequence;
        reply.started = started;
        reply.reserved = reserved;
        reply.attach(this);
        return;
      }
      const running: Running = { handle: connection.id, command, sequence: dispatched.sequence, started, reserved };
      dispatched.pending.then(
        (value) => this.#settle(running, value, false),
        (error: unknown) => this.#settle(running, error, true),
      );
      return;
    }
    let ok = false;
    if (dispatched.threw) this.#deliver(slot, command, this.#dispatcher.outcomeOf(dispatched, connection));
    // A handler that closed its own connection gets no reply after the ERR: line.
    else ok = !(this.#table.slab.flags[slot]! & SlotFlag.CONDEMNED) && this.#deliver(slot, command, this.#dispatcher.outcomeOf(dispatched, connection));
    // Clocked at the end of the read, with the replies of the others answered in it (FlowControl.endTurn).
    this.#metrics.countAnswered(command, ok);
  }

  /** A PendingReply was settled (ReplyTarget). */
  settled(reply: PendingReply, value: unknown, threw: boolean): void {
    this.#settle(reply, value, threw);
  }

  /** An async handler finished. Its connection may be gone or condemned: then nothing is sent. */
  #settle(running: Running, value: unknown, threw: boolean): void {
    const { handle, command, sequence, started } = running;
    const table = this.#table;
    const slab = table.slab;
    const slot = slab.slotOf(handle);
    let succeeded = false;
    if (slot >= 0) {
      slab.inflight[slot]!--;
      table.outputs[slot]!.release(running.reserved);
      const flags = slab.flags[slot]!;
      // A condemned connection still gets the replies of commands received before its fault,
      // ahead of its ERR: line; once that line is out, nothing more is written.
      if (!(flags & SlotFlag.CONDEMNED) || flags & SlotFlag.LINE_PENDING) {
        const connection = table.connections[slot]!;
        this.#flow.corkUntilMicrotask(slot, handle);
        try {
          succeeded = this.#deliver(slot, command, this.#dispatcher.outcomeOf({ command, sequence, value, threw }, connection));
        } catch (failure) {
          // Last resort: a reply that cannot even be described must not become an unhandled rejection.
          this.#onError(failure, connection);
        }
        this.#flow.flushPast(slot);
      }
    }
    this.#metrics.countCommand(command, succeeded, (this.#clock() - started) / 1000);
    if (slot < 0) return;
    if (slab.inflight[slot] === 0) {
      if (slab.flags[slot]! & SlotFlag.LINE_PENDING) table.sendErrorLine(slot);
      // Paused with requests still unread: the resume runs them and sends the line after.
      else if ((slab.flags[slot]! & (SlotFlag.DRAINING | SlotFlag.INPUT_PAUSED)) === SlotFlag.DRAINING) table.finishDraining(slot);
    }
    this.#flow.resumeNextTurn(slot);
  }

  /**
   * performance.now(), read once per tick: a commit round settles hundreds of commands in one
   * go, and their replies leave together at the microtask that flushes them.
   */
  #clock(): number {
    if (this.#settledAt < 0) {
      this.#settledAt = performance.now();
      queueMicrotask(this.#tickEnded);
    }
    return this.#settledAt;
  }

  /** Writes the reply, or condemns the connection; true for an OK reply. */
  #deliver(slot: number, command: string, outcome: Outcome): boolean {
    if (outcome.kind === "abort") {
      this.#table.condemn(slot, outcome.code, outcome.reason);
      return false;
    }
    this.#table.writeMessage(slot, outcome);
    if (outcome.ok) this.#reserves.observe(command, outcome.size);
    return outcome.ok;
  }
}
