// A connection's time limits, as deadlines in the slab's columns that a sweep every 250 ms
// enforces: the TLS handshake (--handshake-timeout), the client's silence (--idle-timeout), a
// request begun but not complete (--request-timeout; the reader keeps that clock), and the
// last output of a condemned connection (the abort deadline). Limits on the client count only
// time the server was listening, never a stall of its own or a command it is still running.
// Deadlines are on the monotonic clock of performance.now(), which a change of the wall clock
// does not move; a read passes the one clock reading it took (see FlowControl.startTurn).

import type { ErrorCode } from "../errors.ts";
import { SlotFlag, type ConnectionSlab } from "../slab/slab.ts";

/** How often the server runs sweep(): the resolution of every time limit. */
export const SWEEP_INTERVAL_MS = 250;
/**
 * A sweep this late after the one before means the event loop was blocked (a slow handler):
 * input that arrived meanwhile has not been read yet, so no client is judged on that sweep.
 */
const STALLED_SWEEP_MS = SWEEP_INTERVAL_MS * 1.5;

/** The limits, in milliseconds; an idle or request timeout of 0 is no limit. */
export type TimeoutSettings = { handshakeTimeoutMs: number; idleTimeoutMs: number; requestTimeoutMs: number; abortTimeoutMs: number };

/** What a sweep does to the connections whose time is up; the engine implements it. */
export interface SweepHost {
  /** The slot's socket, or undefined once it is closing. */
  socketOf(slot: number): { terminate(): void } | undefined;
  /** Write, then abort, with `reason`. */
  condemn(slot: number, code: ErrorCode, reason: string): void;
  /** The TLS handshake did not finish in time: refuse the connection and cut it. */
  handshakeTimedOut(slot: number, reason: string): void;
}

export class TimeLimits {
  readonly #slab: ConnectionSlab;
  readonly #settings: TimeoutSettings;
  /** When sweep() last ran, to tell a late sweep (a blocked loop) from one on time. */
  #lastSweep = performance.now();
  /** No client is judged before this: after a stall, the input it held up must be read first. */
  #judgeFrom = 0;

  constructor(slab: ConnectionSlab, settings: TimeoutSettings) {
    this.#slab = slab;
    this.#settings = settings;
  }

  /** A connection opened: its handshake must finish in time. */
  startHandshake(slot: number): void {
    this.#slab.deadline[slot] = performance.now() + this.#settings.handshakeTimeoutMs;
  }

  /** A connection was condemned: its last output must be gone by the abort deadline. */
  startAbort(slot: number): void {
    this.#slab.deadline[slot] = performance.now() + this.#settings.abortTimeoutMs;
  }

  /**
   * Input arrived, output moved, or the client took output at `now` (performance.now()): the
   * idle clock starts again (a condemned connection keeps its abort deadline).
   */
  touch(slot: number, now = performance.now()): void {
    this.#slab.deadline[slot] = this.#idleDeadline(slot, now);
  }

  #idleDeadline(slot: number, now: number): number {
    if (this.#slab.flags[slot]! & SlotFlag.CONDEMNED) return this.#slab.deadline[slot]!;
    return this.#settings.idleTimeoutMs === 0 ? 0 : now + this.#settings.idleTimeoutMs;
  }

  /**
   * Runs from a timer: enforces handshake, idle, request and abort deadlines of every slot. A
   * sweep that comes late, after the loop was blocked, judges nobody, since what the clients
   * sent meanwhile is still unread; and a connection with a command running is waiting for the
   * server, not idle. `now`: performance.now().
   */
  sweep(now: number, host: SweepHost): void {
    const slab = this.#slab;
    const high = slab.highWater;
    // A timer that fires twice to catch up after a stall must not judge on its second call.
    if (now - this.#lastSweep > STALLED_SWEEP_MS) this.#judgeFrom = now + SWEEP_INTERVAL_MS / 2;
    this.#lastSweep = now;
    const stalled = now < this.#judgeFrom;
    for (let slot = 0; slot < high; slot++) {
      const deadline = slab.deadline[slot]!;
      const requestDeadline = slab.requestDeadline[slot]!;
      const due = deadline !== 0 && deadline <= now;
      if (!due && (requestDeadline === 0 || requestDeadline > now)) continue;
      const flags = slab.flags[slot]!;
      if ((flags & SlotFlag.IN_USE) === 0) continue;
      const socket = host.socketOf(slot);
      if (socket === undefined) continue;
      if (flags & SlotFlag.CONDEMNED) {
        if (due) {
          slab.deadline[slot] = 0;
          socket.terminate();
        }
      } else if (stalled) {
        continue;
      } else if (!due) {
        // Only the request clock ran out. Input held back by flow control is not the client's delay.
        if (!(flags & (SlotFlag.INPUT_PAUSED | SlotFlag.DRAINING))) {
          host.condemn(slot, "REQUEST_TIMEOUT", `request did not arrive in full within ${this.#settings.requestTimeoutMs / 1000} s of its first byte`);
        }
      } else if ((flags & SlotFlag.ADMITTED) === 0) {
        host.handshakeTimedOut(slot, `TLS handshake did not finish within ${this.#settings.handshakeTimeoutMs / 1000} s`);
      } else if (slab.inflight[slot]! > 0) {
        slab.deadline[slot] = this.#idleDeadline(slot, now);
      } else if (!(flags & SlotFlag.DRAINING)) {
        host.condemn(slot, "IDLE_TIMEOUT", `connection was idle for more than ${this.#settings.idleTimeoutMs / 1000} s`);
      }
    }
  }
}
