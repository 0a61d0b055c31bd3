// Connections from their TCP accept until their TLS handshake is done: whether they get a slot
// (the handshake gate's budget and per-address cap, eviction of silent handshakes, none while
// the server drains), what one refused a slot is told, a failed or timed-out handshake, and the
// refuse hooks, at most once per address and code per interval. The certificate is judged
// after this, by admission.ts.

import type { RefusalCode } from "../errors.ts";
import { encodeErrorLine } from "../protocol/encoder.ts";
import { SlotFlag } from "../slab/slab.ts";
import type { ConnectionTable, EngineSocket } from "./connection-table.ts";
import { HandshakeGate } from "./handshake-gate.ts";
import type { RefusalInfo } from "./hooks.ts";
import type { ServerMetrics } from "./metrics.ts";
import { RefusalLog } from "./refusal-log.ts";

/** socket.data of a connection refused a slot: it is told why once its handshake is done. */
export const NO_SLOT = -1;
/** socket.data of a connection cut before its handshake began. */
export const REFUSED_AT_OPEN = -2;

type Unslotted = { address: string; code: RefusalCode<"server">; reason: string };

export type ArrivalLimits = { maxHandshakes: number; maxHandshakesPerAddress: number; handshakeTimeoutMs: number };

export class Arrivals {
  readonly #table: ConnectionTable;
  readonly #limits: ArrivalLimits;
  readonly #metrics: ServerMetrics;
  /** Budget and per-address cap of connections still in their handshake. */
  readonly #gate: HandshakeGate;
  /** Connections refused a slot, waiting for their handshake to be told why. */
  readonly #unslotted = new Map<EngineSocket, Unslotted>();
  /** Refuse hooks, at most once per address and code per interval. */
  readonly #refusals: RefusalLog;
  #draining = false;

  constructor(table: ConnectionTable, limits: ArrivalLimits, options: { metrics: ServerMetrics; emitRefuse: (info: RefusalInfo) => void }) {
    this.#table = table;
    this.#limits = limits;
    this.#metrics = options.metrics;
    this.#gate = new HandshakeGate({ maxHandshakes: limits.maxHandshakes, maxPerAddress: limits.maxHandshakesPerAddress });
    this.#refusals = new RefusalLog(options.emitRefuse);
  }

  /** The server is shutting down: no newcomer gets a slot. */
  drain(): void {
    this.#draining = true;
  }

  /**
   * A TCP connection was accepted: its slot, marked HANDSHAKING, or -1 when it got none (then
   * socket.data says whether it waits to be told why or was cut already).
   */
  open(socket: EngineSocket): number {
    const address = socket.remoteAddress;
    if (!this.#gate.allows(address)) {
      // Cut before any TLS work: no line can be sent before a handshake anyway.
      socket.data = REFUSED_AT_OPEN;
      const reason = `${address} has ${this.#limits.maxHandshakesPerAddress} connections in their TLS handshake, its limit`;
      this.refuse({ code: "ADDRESS_LIMIT", reason, remoteAddress: address });
      socket.terminate();
      return -1;
    }
    const slab = this.#table.slab;
    // Full: the oldest handshake that has not sent a ClientHello makes room, if there is one.
    if (!this.#draining && (this.#gate.isFull || slab.inUse >= slab.capacity)) this.#evictStalled();
    const handle = this.#draining || this.#gate.isFull ? NO_SLOT : slab.allocate();
    socket.data = handle;
    if (handle === NO_SLOT) {
      this.#gate.opened(address, undefined);
      this.#unslotted.set(socket, this.#whyNoSlot(address));
      // No slot, so no sweeper deadline: Bun's own timer bounds the handshake.
      socket.timeout(Math.ceil(this.#limits.handshakeTimeoutMs / 1000));
      return -1;
    }
    this.#gate.opened(address, handle);
    const slot = slab.slotOf(handle);
    slab.flags[slot]! |= SlotFlag.HANDSHAKING;
    return slot;
  }

  /** The handshake of a connection without a slot is done: it is told why, then closed. */
  handshakeWithoutSlot(socket: EngineSocket, success: boolean): void {
    if (socket.data === REFUSED_AT_OPEN) return;
    const { code, reason } = this.#unslotted.get(socket) ?? this.#whyNoSlot(socket.remoteAddress);
    this.refuse({ code, reason, remoteAddress: socket.remoteAddress });
    if (success) socket.end(encodeErrorLine(reason));
    else socket.terminate();
  }

  /** The TLS layer failed the handshake (a protocol version refused, a bad ClientHello). */
  handshakeFailed(slot: number, error: Error | null): void {
    const reason = `TLS handshake failed: ${error?.message ?? "unknown error"}`;
    this.refuse({ code: "HANDSHAKE_FAILED", reason, remoteAddress: this.#table.sockets[slot]!.remoteAddress });
    this.#table.cut(slot, "HANDSHAKE_FAILED", reason);
  }

  /** The handshake did not finish within --handshake-timeout. */
  handshakeTimedOut(slot: number, reason: string): void {
    this.refuse({ code: "HANDSHAKE_TIMEOUT", reason, remoteAddress: this.#table.sockets[slot]!.remoteAddress });
    this.#table.cut(slot, "HANDSHAKE_TIMEOUT", reason);
  }

  /** The slot leaves the handshake budget (admitted, or closing): once, whichever comes first. */
  ended(slot: number, address: string): void {
    const slab = this.#table.slab;
    if (!(slab.flags[slot]! & SlotFlag.HANDSHAKING)) return;
    slab.flags[slot]! &= ~SlotFlag.HANDSHAKING;
    this.#gate.ended(address, true);
  }

  /** A connection without a slot closed. */
  closedWithoutSlot(socket: EngineSocket): void {
    const unslotted = this.#unslotted.get(socket);
    this.#unslotted.delete(socket);
    if (unslotted !== undefined) this.#gate.ended(unslotted.address, false);
  }

  /** Counts a refusal, and tells the refuse hooks unless this address and code were told of lately. */
  refuse(info: RefusalInfo): void {
    this.#metrics.countRefusal(info.code);
    this.#refusals.refuse(info, Date.now());
  }

  /** From the sweeper: the refusal summaries that are due, and a shorter list of eviction candidates. */
  sweep(now: number): void {
    this.#refusals.flush(now);
    this.#gate.prune((handle) => this.#handshakeState(handle));
  }

  /** Why a newcomer gets no slot: told once its handshake is done, if it gets that far. */
  #whyNoSlot(address: string): Unslotted {
    if (this.#draining) return { address, code: "SHUTTING_DOWN", reason: "server is shutting down" };
    const slab = this.#table.slab;
    if (slab.inUse < slab.capacity) {
      return { address, code: "CONNECTION_LIMIT", reason: `server is at its limit of ${this.#limits.maxHandshakes} connections in their TLS handshake` };
    }
    return { address, code: "CONNECTION_LIMIT", reason: "server is at its connection limit" };
  }

  /** Cuts the oldest handshake that has made no progress, if any; its slot is free on return. */
  #evictStalled(): void {
    const victim = this.#gate.victim((handle) => this.#handshakeState(handle));
    if (victim === undefined) return;
    const slot = this.#table.slab.slotOf(victim);
    const reason = "TLS handshake made no progress (no ClientHello) and its slot went to a newer connection";
    this.refuse({ code: "HANDSHAKE_EVICTED", reason, remoteAddress: this.#table.sockets[slot]!.remoteAddress });
    this.#table.cut(slot, "HANDSHAKE_EVICTED", reason);
  }

  #handshakeState(handle: number): "pending" | "gone" | "progressing" {
    const slab = this.#table.slab;
    const slot = slab.slotOf(handle);
    if (slot < 0 || !(slab.flags[slot]! & SlotFlag.HANDSHAKING) || slab.flags[slot]! & SlotFlag.CONDEMNED) return "gone";
    const socket = this.#table.sockets[slot];
    if (socket === undefined) return "gone";
    // TLS picks a cipher as soon as it has read the ClientHello: from then on the handshake is under way.
    return socket.getCipher()?.name ? "progressing" : "pending";
  }
}
