// The socket handler behind Bun.listen and the in-memory transport: it turns each socket event
// into the work of the parts beside it: arrivals (a slot, the handshake), admission (the
// certificate, again after a trust change), the reader (requests out of the slot), the command
// runner (dispatch and replies), flow control, time limits, and the connection table (writes,
// write-then-abort). It answers what a Connection asks of its socket side, and shuts down.

import type { SocketHandler } from "bun";
import type { CertificateValidator } from "../certs/validator.ts";
import { GnpError } from "../errors.ts";
import { bodyBytes, encodeHeaderLines, type HeaderList } from "../protocol/encoder.ts";
import type { Head } from "../protocol/head-scanner.ts";
import type { ResolvedOptions } from "../options.ts";
import { ConnectionSlab, SlotFlag } from "../slab/slab.ts";
import { Admissions, refusalInfo } from "./admission.ts";
import { Arrivals } from "./arrivals.ts";
import { CommandRunner } from "./command-runner.ts";
import { Connection, type ClientCertificate, type ConnectionHost } from "./connection.ts";
import type { RequestBody } from "./request.ts";
import { ConnectionTable, type EngineSocket } from "./connection-table.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { FlowControl } from "./flow-control.ts";
import type { ServerHooks } from "./hooks.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { KeyAccess, KeyScope } from "./permissions.ts";
import { ReplyReserves } from "./reply-reserves.ts";
import { RequestReader } from "./request-reader.ts";
import { TimeLimits, type SweepHost } from "./time-limits.ts";
import { WriteTurns } from "./write-turns.ts";

const GREETING = "OK\r\n";

/** A socket's events past its handshake. */
export type SocketEvents = {
  data(socket: EngineSocket, chunk: Uint8Array): void;
  drain(socket: EngineSocket): void;
  end(socket: EngineSocket): void;
  close(socket: EngineSocket): void;
};

/**
 * The parts an engine is made of, beside its options: the dispatcher (the commands and who may
 * run them, which the server sets), the reply bounds the commands declared, the trust rules
 * to admit by, the hooks and the counters.
 */
export type EngineParts = { dispatcher: Dispatcher; replyBounds: ReadonlyMap<string, number>; validator: CertificateValidator; hooks: ServerHooks; metrics: ServerMetrics };

export class ConnectionEngine implements ConnectionHost {
  readonly slab: ConnectionSlab;
  readonly metrics: ServerMetrics;
  readonly #hooks: ServerHooks;
  readonly #table: ConnectionTable;
  readonly #limits: TimeLimits;
  readonly #arrivals: Arrivals;
  readonly #admissions: Admissions;
  readonly #dispatcher: Dispatcher;
  /** Reads requests out of the slots; owns what is half-read. */
  readonly #reader: RequestReader;
  readonly #flow: FlowControl;
  readonly #runner: CommandRunner;
  /** What sweep() does to a connection whose time is up. */
  readonly #sweepHost: SweepHost;
  readonly #maxOutput: number;
  /** The socket events past the handshake, for a transport that is not Bun's (memory-transport.ts). */
  readonly events: SocketEvents;

  constructor(options: ResolvedOptions, parts: EngineParts) {
    this.metrics = parts.metrics;
    this.#hooks = parts.hooks;
    this.#maxOutput = options.maxOutput;
    const slab = (this.slab = new ConnectionSlab(options.maxConnections));
    const onError = (error: unknown, connection: Connection | undefined) => this.#hooks.emitError(error, connection);
    this.#limits = new TimeLimits(slab, options);
    const engine = this;
    const writeTurns = new WriteTurns(slab.capacity, {
      get table() {
        return engine.#table;
      },
      writeOn: (slot) => this.#writeOn(slot),
    });
    this.#table = new ConnectionTable(slab, this.#limits, { maxOutput: options.maxOutput, counter: this.metrics, onCondemned: (slot) => this.#reader.forget(slot), allowance: writeTurns });
    this.#arrivals = new Arrivals(this.#table, options, { metrics: this.metrics, emitRefuse: (info) => this.#hooks.emitRefuse(info) });
    this.#admissions = new Admissions(parts.validator, slab.trustEpoch);
    this.#dispatcher = parts.dispatcher;
    this.#reader = new RequestReader(
      slab,
      {
        dispatch: (slot, head, body) => {
          this.#dispatch(slot, head, body);
          this.#flow.throttle(slot);
        },
        condemn: (slot, code, message) => this.#table.condemn(slot, code, message),
        stopped: (slot) => this.#table.stopped(slot),
      },
      { maxBody: options.maxBody, requestTimeoutMs: options.requestTimeoutMs },
    );
    this.#flow = new FlowControl(this.#table, this.#reader, { maxOutput: options.maxOutput, metrics: this.metrics });
    const reserves = new ReplyReserves(parts.replyBounds, options.maxOutput);
    this.#runner = new CommandRunner({ table: this.#table, dispatcher: this.#dispatcher, flow: this.#flow, reserves, metrics: this.metrics, onError });
    this.events = {
      data: (socket, chunk) => this.#onData(socket, chunk),
      drain: (socket) => this.#onDrain(socket),
      end: (socket) => this.#onEnd(socket),
      close: (socket) => this.#onClose(socket),
    };
    this.#sweepHost = {
      socketOf: (slot) => this.#table.sockets[slot],
      condemn: (slot, code, reason) => this.#table.condemn(slot, code, reason),
      handshakeTimedOut: (slot, reason) => this.#arrivals.handshakeTimedOut(slot, reason),
    };
  }

  /** The handler object for Bun.listen. */
  socketHandler(): SocketHandler<number, "buffer"> {
    return {
      open: (socket) => this.#onOpen(socket),
      handshake: (socket, success, authorizationError) => this.#onHandshake(socket, success, authorizationError),
      ...this.events,
      // A handler of ours threw, or an established TLS session failed: report it, and cut the
      // connection rather than leave it in a state nobody reasoned about.
      error: (socket, error) => {
        this.#hooks.emitError(error, this.#connectionOf(socket));
        socket.terminate();
      },
      timeout: (socket) => socket.terminate(),
    };
  }

  /**
   * Opens a connection over an in-memory socket (memory-transport.ts): its arrival and, at once,
   * its handshake. With `vouched`, the client is admitted as that identity without a
   * certificate; without it, what the socket presents is judged like any handshake's.
   */
  openInMemory(socket: EngineSocket, vouched: string | undefined): void {
    this.#onOpen(socket);
    const slot = this.slab.slotOf(socket.data);
    if (vouched === undefined || slot < 0) {
      this.#onHandshake(socket, true, null);
      return;
    }
    this.#admissions.vouch(slot);
    this.#welcome(slot, { identity: vouched, certificate: undefined });
  }

  // ── ConnectionHost ────────────────────────────────────────────────────────────────────

  isLive(handle: number): boolean {
    const slot = this.slab.slotOf(handle);
    return slot >= 0 && (this.slab.flags[slot]! & SlotFlag.CONDEMNED) === 0;
  }

  userData(handle: number): Uint8Array {
    const slot = this.slab.slotOf(handle);
    if (slot < 0) throw new GnpError("STALE_CONNECTION", `connection ${handle} is closed`);
    return this.slab.userDataOf(slot);
  }

  push(handle: number, sequence: string, body: string | Uint8Array, headers: HeaderList | undefined): boolean {
    const slot = this.slab.slotOf(handle);
    // A client the current trust rules refuse receives nothing more, pushes included.
    if (slot < 0 || !this.#admittedNow(slot)) return false;
    // A push cannot be held back by pausing input: a subscriber whose queued output is already
    // past the limit is not keeping up, and is cut off (PROTOCOL.md section 4).
    if (this.#table.outputs[slot]!.pendingBytes > this.#maxOutput) {
      this.#table.overflow(slot);
      return false;
    }
    // Headers are checked before anything is written: a bad one throws TypeError to the pusher.
    this.#table.writeMessage(slot, { status: "PUSH", sequence, size: bodyBytes(body), headerLines: encodeHeaderLines(headers), body });
    this.#table.afterWrite(slot);
    return true;
  }

  /**
   * The authorization layer's answer: may this connection run `command` now? False for a
   * connection that is closed, condemned or no longer admitted by the trust rules (which are
   * checked first, and cut it off if they refuse it now). Cached per connection and rules epoch.
   */
  may(connection: Connection, command: string): boolean {
    const slot = this.slab.slotOf(connection.id);
    if (slot < 0 || !this.#admittedNow(slot)) return false;
    return this.#dispatcher.may(slot, connection, command);
  }

  /** The keys a connection may read or write now: [] when it is closed, condemned or no longer admitted (as may()). */
  scope(handle: number, access: KeyAccess): KeyScope {
    const slot = this.slab.slotOf(handle);
    if (slot < 0 || !this.#admittedNow(slot)) return [];
    return this.#dispatcher.scope(slot, this.#table.connections[slot]!, access);
  }

  abort(handle: number, reason: string): void {
    const slot = this.slab.slotOf(handle);
    // An explicit close does not wait for commands still running: their replies are dropped.
    if (slot >= 0) this.#table.condemn(slot, "CLOSED_BY_SERVER", reason, { immediate: true });
  }

  // ── Socket events ─────────────────────────────────────────────────────────────────────

  #onOpen(socket: EngineSocket): void {
    const slot = this.#arrivals.open(socket);
    if (slot < 0) return;
    this.#table.open(slot, socket, new Connection(this, { id: socket.data, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort }));
    this.#limits.startHandshake(slot);
  }

  #onHandshake(socket: EngineSocket, success: boolean, authorizationError: Error | null): void {
    if (socket.data < 0) {
      this.#arrivals.handshakeWithoutSlot(socket, success);
      return;
    }
    const slot = this.slab.slotOf(socket.data);
    // Already condemned: cut at the handshake deadline, and Bun reports the cut as a failed handshake.
    if (slot < 0 || this.slab.flags[slot]! & SlotFlag.CONDEMNED) return;
    if (!success) {
      this.#arrivals.handshakeFailed(slot, authorizationError);
      return;
    }
    const verdict = this.#admissions.admit(slot, socket, Date.now());
    if (!verdict.ok) {
      this.#arrivals.refuse(refusalInfo(verdict, socket));
      this.#table.condemn(slot, verdict.code, verdict.reason);
      return;
    }
    this.#welcome(slot, { identity: verdict.certificate.identity, certificate: verdict.certificate });
  }

  /** An admitted client: its greeting, and the open hooks. */
  #welcome(slot: number, client: { identity: string; certificate: ClientCertificate | undefined }): void {
    const connection = this.#table.connections[slot]!;
    this.#arrivals.ended(slot, connection.remoteAddress);
    connection.identity = client.identity;
    connection.certificate = client.certificate;
    this.slab.flags[slot]! |= SlotFlag.ADMITTED;
    this.metrics.accepted++;
    this.metrics.open++;
    this.#limits.touch(slot);
    this.#table.write(slot, GREETING);
    this.#hooks.emitOpen(connection);
  }

  #onData(socket: EngineSocket, chunk: Uint8Array): void {
    const slab = this.slab;
    const slot = slab.slotOf(socket.data);
    if (slot < 0) return;
    slab.bytesIn[slot]! += chunk.byteLength;
    this.metrics.bytesIn += chunk.byteLength;
    // Condemned or draining: every byte is discarded unread. Not admitted cannot happen
    // (Bun runs handshake before data), but would be discarded the same way.
    if ((slab.flags[slot]! & (SlotFlag.CONDEMNED | SlotFlag.DRAINING | SlotFlag.ADMITTED)) !== SlotFlag.ADMITTED) return;
    // The clock is read here and once more at the end (FlowControl.endTurn), not for each command.
    const now = performance.now();
    this.#limits.touch(slot, now);
    if (slab.flags[slot]! & SlotFlag.INPUT_PAUSED) {
      // pause() does not recall what Bun had already read: keep it for the resume.
      this.#reader.hold(slot, chunk);
      return;
    }
    const output = this.#table.outputs[slot]!;
    output.cork();
    this.#flow.startTurn(now);
    try {
      this.#reader.feed(slot, chunk);
    } finally {
      output.uncork(socket);
      this.#table.afterWrite(slot, this.#flow.endTurn());
    }
  }

  #onDrain(socket: EngineSocket): void {
    const slot = this.slab.slotOf(socket.data);
    if (slot < 0) return;
    // The client took output: a slow reader whose input waits behind flow control is not idle.
    this.#limits.touch(slot);
    this.#writeOn(slot);
  }

  /** Offers the kept output again: the socket drained, or a new turn of the loop gave the connection its share (write-turns.ts). */
  #writeOn(slot: number): void {
    const socket = this.#table.sockets[slot];
    if (socket === undefined) return;
    const empty = this.#table.outputs[slot]!.drain(socket);
    if (empty) this.#table.endIfCondemned(slot);
    this.#flow.maybeResume(slot);
  }

  /**
   * The client closed its side (a pipe into openssl s_client ends this way): nothing more will
   * arrive, but what it sent is answered before the connection ends, without an ERR: line.
   */
  #onEnd(socket: EngineSocket): void {
    const slot = this.slab.slotOf(socket.data);
    if (slot < 0) return;
    const flags = this.slab.flags[slot]!;
    if (flags & SlotFlag.CONDEMNED) {
      // Already ending: the replies still owed and the ERR: line go out first (the abort
      // deadline bounds how long that may take), then the socket ends.
      this.#table.endIfCondemned(slot);
      return;
    }
    if ((flags & SlotFlag.ADMITTED) === 0) {
      // Never admitted: nothing is owed, close both sides now.
      socket.end();
      return;
    }
    // Requests still waiting behind a pause are answered first.
    if (flags & SlotFlag.INPUT_PAUSED) {
      this.slab.flags[slot] = flags | SlotFlag.PEER_ENDED;
      return;
    }
    this.#table.condemn(slot, "CLIENT_CLOSED", "the client closed its side", { silent: true });
  }

  #onClose(socket: EngineSocket): void {
    const handle = socket.data;
    if (handle < 0) {
      this.#arrivals.closedWithoutSlot(socket);
      return;
    }
    const slot = this.slab.slotOf(handle);
    if (slot < 0) return;
    const connection = this.#table.connections[slot]!;
    this.#arrivals.ended(slot, connection.remoteAddress);
    const reason = this.#table.closeReasons[slot];
    const wasAdmitted = (this.slab.flags[slot]! & SlotFlag.ADMITTED) !== 0;
    this.#table.close(slot);
    this.#reader.forget(slot);
    this.#admissions.forget(slot);
    this.#dispatcher.forget(slot);
    this.slab.release(handle);
    if (wasAdmitted) {
      this.metrics.open--;
      this.metrics.countClose(reason?.code ?? "CLIENT_CLOSED");
      this.#hooks.emitClose(connection, reason);
    }
  }

  // ── Requests ──────────────────────────────────────────────────────────────────────────

  #dispatch(slot: number, head: Head, body: RequestBody): void {
    this.slab.requests[slot]!++;
    // A trust change since admission is checked first: a revoked client is cut off whatever it sends.
    if (!this.#admissions.isCurrent(slot) && !this.#readmit(slot)) return;
    this.#runner.run(slot, head, body);
  }

  /** Admitted, not condemned, and admitted by the rules in force (checked again after a change; refused now, it is condemned). */
  #admittedNow(slot: number): boolean {
    if ((this.slab.flags[slot]! & (SlotFlag.CONDEMNED | SlotFlag.ADMITTED)) !== SlotFlag.ADMITTED) return false;
    return this.#admissions.isCurrent(slot) || this.#readmit(slot);
  }

  /** Checks a connection's certificate under the current rules; condemns it when they refuse it now. */
  #readmit(slot: number): boolean {
    const refusal = this.#admissions.recheck(slot, this.#table.sockets[slot]!, Date.now());
    if (refusal === undefined) return true;
    this.#table.condemn(slot, refusal.code, refusal.reason);
    return false;
  }

  // ── Time limits, trust, shutdown ──────────────────────────────────────────────────────

  /**
   * Runs from a timer (see SWEEP_INTERVAL_MS): refusal summaries (by `now`, the wall clock's
   * Date.now()), the handshake gate's list, and time limits (by the monotonic clock).
   */
  sweep(now: number): void {
    this.#arrivals.sweep(now);
    this.#limits.sweep(performance.now(), this.#sweepHost);
  }

  /** Replaces the certificate rules; established connections are checked again at once. */
  setTrust(validator: CertificateValidator): void {
    this.#admissions.setValidator(validator);
    this.#dispatcher.rulesChanged();
    // Checked now rather than at each connection's next command: a watcher that only listens
    // must be cut off too. Validation results are cached, so this is cheap.
    const slab = this.slab;
    for (let slot = 0; slot < slab.highWater; slot++) {
      if ((slab.flags[slot]! & (SlotFlag.IN_USE | SlotFlag.ADMITTED | SlotFlag.CONDEMNED)) === (SlotFlag.IN_USE | SlotFlag.ADMITTED)) {
        this.#readmit(slot);
      }
    }
  }

  /**
   * Stops reading from every connection; each gets `ERR: server is shutting down` once the
   * requests it had sent before this moment have replied: those running, and those received
   * but waiting for their turn or behind flow control (the resume runs them, then the line).
   */
  drain(): void {
    this.#arrivals.drain();
    this.#table.drainAll();
  }

  /** Cuts every connection still open (the shutdown deadline passed). */
  terminateAll(): void {
    for (const socket of this.#table.sockets) socket?.terminate();
  }

  #connectionOf(socket: EngineSocket): Connection | undefined {
    const slot = this.slab.slotOf(socket.data);
    return slot < 0 ? undefined : this.#table.connections[slot];
  }
}
