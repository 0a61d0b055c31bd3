// The socket handler behind Bun.listen: admission after the TLS handshake, dispatch of the
// requests the reader (request-reader.ts) finds in the slot, replies with backpressure and
// flow control, time limits, and write-then-abort. Per connection it keeps the socket, a
// Connection handle and an output queue in arrays indexed by slot; everything else lives in
// the slab's columns.

import type { Socket, SocketHandler } from "bun";
import { GnpError, type ErrorCode, type RefusalCode } from "../errors.ts";
import { encodeErrorLine, encodeReplyHead, type HeaderList } from "../protocol/encoder.ts";
import type { Head } from "../protocol/head-scanner.ts";
import { ConnectionSlab, SlotFlag } from "../slab/slab.ts";
import { keepPresented, type CertificateValidator, type PeerCertificate } from "../certs/validator.ts";
import type { ResolvedOptions } from "../options.ts";
import { Connection, describeClient, type ConnectionHost } from "./connection.ts";
import { OutputQueue } from "../protocol/output-queue.ts";
import { RequestReader } from "./request-reader.ts";
import { GnpRequest, normalizeReply, type CommandHandler, type HandlerResult } from "./request.ts";
import type { RefusalInfo, ServerHooks } from "./hooks.ts";
import { ServerMetrics } from "./metrics.ts";
import { ReplyReserves } from "./reply-reserves.ts";
import { HandshakeGate } from "./handshake-gate.ts";
import { RefusalLog } from "./refusal-log.ts";
import { Permissions, type Authorizer, type KeyAccess, type KeyAuthorizer, type KeyScope } from "./permissions.ts";

export type { Authorizer };

/**
 * socket.data: the slab handle; NO_SLOT for a connection refused a slot (it is told why once
 * its handshake is done); REFUSED_AT_OPEN for one cut before its handshake began.
 */
type SocketData = number;
const NO_SLOT = -1;
const REFUSED_AT_OPEN = -2;

const GREETING = "OK\r\n";
/** Corked replies past this size are written at once, so one read cannot build a huge buffer. */
const FLUSH_AT = 64 * 1024;
/** How often the server runs sweep(): the resolution of every time limit. */
export const SWEEP_INTERVAL_MS = 250;
/**
 * A sweep this late after the one before means the event loop was blocked (a slow handler):
 * input that arrived meanwhile has not been read yet, so no client is judged on that sweep.
 */
const STALLED_SWEEP_MS = SWEEP_INTERVAL_MS * 1.5;

/**
 * How long one connection's requests may run in one turn of the event loop before it yields
 * to the others: a client that pipelines 100,000 requests at once (Bun hands over up to
 * 512 KiB per read) would otherwise hold the loop for a long time, and every other client
 * with it. Its other requests wait unread until the next turn.
 */
const TURN_BUDGET_MS = 2;
/** And at most this many requests per turn, whatever their cost. */
export const TURN_REQUESTS = 1024;

/** Commands of one connection running at once before its input is paused. */
export const MAX_INFLIGHT = 1024;

/** The commands the engine runs: handlers by upper-cased name, and the reply bounds they declared. */
export type CommandTable = { handlers: ReadonlyMap<string, CommandHandler>; replyBounds: ReadonlyMap<string, number> };

export class ConnectionEngine implements ConnectionHost {
  readonly slab: ConnectionSlab;
  readonly #options: ResolvedOptions;
  readonly #handlers: ReadonlyMap<string, CommandHandler>;
  #validator: CertificateValidator;
  /** Bumped by setTrust; a connection admitted under an older epoch is checked again at its next command. */
  #trustEpoch = 0;
  /** The authorizer's verdicts, kept per connection until the rules change. */
  readonly #permissions: Permissions;
  /** The certificate each connection presented, kept to check it again after a trust change. */
  readonly #peers: (PeerCertificate | undefined)[];
  /** Unsent output past which input is paused, and under which it resumes. */
  readonly #pauseAt: number;
  readonly #resumeAt: number;
  /** Output set aside for the replies of commands still running (flow control). */
  readonly #reserves: ReplyReserves;
  readonly #hooks: ServerHooks;
  readonly #sockets: (Socket<SocketData> | undefined)[];
  readonly #connections: (Connection | undefined)[];
  readonly #outputs: (OutputQueue | undefined)[];
  /** Reads requests out of the slots; owns what is half-read. */
  readonly #reader: RequestReader;
  /** Why each condemned connection is closing, for the close hook. */
  readonly #closeReasons: ({ code: ErrorCode; reason: string } | undefined)[];
  #draining = false;
  /** Budget and per-address cap of connections still in their handshake. */
  readonly #gate: HandshakeGate;
  /** Connections refused a slot, waiting for their handshake to be told why: their address and reason. */
  readonly #unslotted = new Map<Socket<SocketData>, { address: string; code: RefusalCode<"server">; reason: string }>();
  /** Refuse hooks, at most once per address and code per interval. */
  readonly #refusals: RefusalLog;
  /** When the turn of the connection being read began, and its requests so far (see TURN_BUDGET_MS). */
  #turnStartedAt = 0;
  #turnRequests = 0;
  /** When sweep() last ran, to tell a late sweep (a blocked loop) from one on time. */
  #lastSweep = Date.now();
  /** No client is judged before this: after a stall, the input it held up must be read first. */
  #judgeFrom = 0;
  readonly metrics: ServerMetrics;

  constructor(
    options: ResolvedOptions,
    commands: CommandTable,
    validator: CertificateValidator,
    hooks: ServerHooks,
    metrics: ServerMetrics,
  ) {
    this.metrics = metrics;
    this.#options = options;
    this.#handlers = commands.handlers;
    this.#reserves = new ReplyReserves(commands.replyBounds, options.maxOutput);
    this.#validator = validator;
    this.#hooks = hooks;
    this.slab = new ConnectionSlab(options.maxConnections);
    const capacity = options.maxConnections;
    this.#sockets = new Array(capacity);
    this.#connections = new Array(capacity);
    this.#outputs = new Array(capacity);
    this.#peers = new Array(capacity);
    this.#reader = new RequestReader(
      this.slab,
      {
        dispatch: (slot, head, body) => {
          this.#dispatch(slot, head, body);
          this.#throttle(slot);
        },
        condemn: (slot, code, message) => this.#condemn(slot, code, message),
        stopped: (slot) => this.#stopped(slot),
      },
      { maxBody: options.maxBody, requestTimeoutMs: options.requestTimeoutMs },
    );
    this.#pauseAt = Math.min(256 * 1024, Math.floor(options.maxOutput / 2));
    this.#resumeAt = Math.floor(this.#pauseAt / 2);
    this.#closeReasons = new Array(capacity);
    this.#permissions = new Permissions(capacity, (error, connection) => this.#hooks.emitError(error, connection));
    this.#gate = new HandshakeGate({ maxHandshakes: options.maxHandshakes, maxPerAddress: options.maxHandshakesPerAddress });
    this.#refusals = new RefusalLog((info) => this.#hooks.emitRefuse(info));
  }

  /** The handler object for Bun.listen. */
  socketHandler(): SocketHandler<SocketData, "buffer"> {
    return {
      open: (socket) => this.#onOpen(socket),
      handshake: (socket, success, authorizationError) => this.#onHandshake(socket, success, authorizationError),
      data: (socket, chunk) => this.#onData(socket, chunk),
      drain: (socket) => this.#onDrain(socket),
      end: (socket) => this.#onEnd(socket),
      close: (socket) => this.#onClose(socket),
      // A handler of ours threw, or an established TLS session failed: report it, and cut the
      // connection rather than leave it in a state nobody reasoned about.
      error: (socket, error) => {
        this.#hooks.emitError(error, this.#connectionOf(socket));
        socket.terminate();
      },
      timeout: (socket) => socket.terminate(),
    };
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
    if (slot < 0 || (this.slab.flags[slot]! & (SlotFlag.CONDEMNED | SlotFlag.ADMITTED)) !== SlotFlag.ADMITTED) return false;
    // A client the current trust rules refuse receives nothing more, pushes included.
    if (this.slab.trustEpoch[slot] !== this.#trustEpoch && !this.#readmit(slot)) return false;
    // A push cannot be held back by pausing input: a subscriber whose queued output is already
    // past the limit is not keeping up, and is cut off (PROTOCOL.md section 4).
    if (this.#outputs[slot]!.pendingBytes > this.#options.maxOutput) {
      this.#overflow(slot);
      return false;
    }
    this.#writeMessage(slot, "PUSH", sequence, body, headers);
    this.#afterWrite(slot);
    return true;
  }

  /**
   * The authorization layer's answer: may this connection run `command` now? False for a
   * connection that is closed, condemned or no longer admitted by the trust rules (which are
   * checked first, and cut it off if they refuse it now). Cached per connection and rules epoch.
   */
  may(connection: Connection, command: string): boolean {
    const slot = this.slab.slotOf(connection.id);
    if (slot < 0 || (this.slab.flags[slot]! & (SlotFlag.CONDEMNED | SlotFlag.ADMITTED)) !== SlotFlag.ADMITTED) return false;
    if (this.slab.trustEpoch[slot] !== this.#trustEpoch && !this.#readmit(slot)) return false;
    return this.#permissions.may(slot, connection, command);
  }

  /** The keys a connection may read or write now: [] when it is closed, condemned or no longer admitted (as may()). */
  scope(handle: number, access: KeyAccess): KeyScope {
    const slot = this.slab.slotOf(handle);
    if (slot < 0 || (this.slab.flags[slot]! & (SlotFlag.CONDEMNED | SlotFlag.ADMITTED)) !== SlotFlag.ADMITTED) return [];
    if (this.slab.trustEpoch[slot] !== this.#trustEpoch && !this.#readmit(slot)) return [];
    return this.#permissions.scope(slot, this.#connections[slot]!, access);
  }

  abort(handle: number, reason: string): void {
    const slot = this.slab.slotOf(handle);
    // An explicit close does not wait for commands still running: their replies are dropped.
    if (slot >= 0) this.#condemn(slot, "CLOSED_BY_SERVER", reason, { immediate: true });
  }

  // ── Socket events ─────────────────────────────────────────────────────────────────────

  #onOpen(socket: Socket<SocketData>): void {
    const address = socket.remoteAddress;
    if (!this.#gate.allows(address)) {
      // Cut before any TLS work: no line can be sent before a handshake anyway.
      socket.data = REFUSED_AT_OPEN;
      const reason = `${address} has ${this.#options.maxHandshakesPerAddress} connections in their TLS handshake, its limit`;
      this.#refuse({ code: "ADDRESS_LIMIT", reason, remoteAddress: address });
      socket.terminate();
      return;
    }
    // Full: the oldest handshake that has not sent a ClientHello makes room, if there is one.
    if (!this.#draining && (this.#gate.isFull || this.slab.inUse >= this.slab.capacity)) this.#evictStalled();
    const handle = this.#draining || this.#gate.isFull ? NO_SLOT : this.slab.allocate();
    socket.data = handle;
    if (handle === NO_SLOT) {
      this.#gate.opened(address, undefined);
      this.#unslotted.set(socket, this.#whyNoSlot(address));
      // No slot, so no sweeper deadline: Bun's own timer bounds the handshake.
      socket.timeout(Math.ceil(this.#options.handshakeTimeoutMs / 1000));
      return;
    }
    this.#gate.opened(address, handle);
    const slot = this.slab.slotOf(handle);
    this.slab.flags[slot]! |= SlotFlag.HANDSHAKING;
    this.#sockets[slot] = socket;
    this.#connections[slot] = new Connection(this, { id: handle, remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
    (this.#outputs[slot] ??= new OutputQueue(this.metrics)).reset();
    this.slab.deadline[slot] = Date.now() + this.#options.handshakeTimeoutMs;
  }

  #onHandshake(socket: Socket<SocketData>, success: boolean, authorizationError: Error | null): void {
    const handle = socket.data;
    if (handle === REFUSED_AT_OPEN) return;
    if (handle === NO_SLOT) {
      const { code, reason } = this.#unslotted.get(socket) ?? this.#whyNoSlot(socket.remoteAddress);
      this.#refuse({ code, reason, remoteAddress: socket.remoteAddress });
      if (success) socket.end(encodeErrorLine(reason));
      else socket.terminate();
      return;
    }
    const slot = this.slab.slotOf(handle);
    // Already condemned: cut at the handshake deadline, and Bun reports the cut as a failed handshake.
    if (slot < 0 || this.slab.flags[slot]! & SlotFlag.CONDEMNED) return;
    if (!success) {
      const reason = `TLS handshake failed: ${authorizationError?.message ?? "unknown error"}`;
      this.#closeReasons[slot] = { code: "HANDSHAKE_FAILED", reason };
      this.#refuse({ code: "HANDSHAKE_FAILED", reason, remoteAddress: socket.remoteAddress });
      this.slab.flags[slot]! |= SlotFlag.CONDEMNED;
      socket.terminate();
      return;
    }
    const peer = presentedChain(socket);
    const admission = this.#validator.validate(peer, Date.now());
    if (!admission.ok) {
      this.#refuse({
        code: admission.code,
        reason: admission.reason,
        remoteAddress: socket.remoteAddress,
        identity: [peer?.subject?.CN ?? []].flat()[0] || undefined, // Node types CN as string | string[]
        sha1: peer?.fingerprint?.replaceAll(":", ""),
        sha256: peer?.fingerprint256?.replaceAll(":", ""),
        sans: peer?.subjectaltname || undefined,
      });
      this.#condemn(slot, admission.code, admission.reason);
      return;
    }
    this.#peers[slot] = keepPresented(peer);
    this.slab.trustEpoch[slot] = this.#trustEpoch;
    const connection = this.#connections[slot]!;
    this.#endHandshake(slot, connection.remoteAddress);
    connection.identity = admission.certificate.identity;
    connection.certificate = admission.certificate;
    this.slab.flags[slot]! |= SlotFlag.ADMITTED;
    this.metrics.accepted++;
    this.metrics.open++;
    this.#touch(slot);
    this.#write(slot, GREETING);
    this.#hooks.emitOpen(connection);
  }

  #onData(socket: Socket<SocketData>, chunk: Uint8Array): void {
    const slab = this.slab;
    const slot = slab.slotOf(socket.data);
    if (slot < 0) return;
    slab.bytesIn[slot]! += chunk.byteLength;
    this.metrics.bytesIn += chunk.byteLength;
    // Condemned or draining: every byte is discarded unread. Not admitted cannot happen
    // (Bun runs handshake before data), but would be discarded the same way.
    if ((slab.flags[slot]! & (SlotFlag.CONDEMNED | SlotFlag.DRAINING | SlotFlag.ADMITTED)) !== SlotFlag.ADMITTED) return;
    this.#touch(slot);
    if (slab.flags[slot]! & SlotFlag.INPUT_PAUSED) {
      // pause() does not recall what Bun had already read: keep it for the resume.
      this.#reader.hold(slot, chunk);
      return;
    }
    const output = this.#outputs[slot]!;
    output.cork();
    this.#turnStartedAt = performance.now();
    this.#turnRequests = 0;
    try {
      this.#reader.feed(slot, chunk);
    } finally {
      output.uncork(socket);
      this.#afterWrite(slot);
    }
  }

  #onDrain(socket: Socket<SocketData>): void {
    const slot = this.slab.slotOf(socket.data);
    if (slot < 0) return;
    // The client took output: a slow reader whose input waits behind flow control is not idle.
    this.#touch(slot);
    const empty = this.#outputs[slot]!.drain(socket);
    if (empty) this.#endIfCondemned(slot);
    this.#maybeResume(slot);
  }

  /**
   * The client closed its side (a pipe into openssl s_client ends this way): nothing more will
   * arrive, but what it sent is answered before the connection ends, without an ERR: line.
   */
  #onEnd(socket: Socket<SocketData>): void {
    const slot = this.slab.slotOf(socket.data);
    if (slot < 0) return;
    const flags = this.slab.flags[slot]!;
    if (flags & SlotFlag.CONDEMNED) {
      // Already ending: the replies still owed and the ERR: line go out first (the abort
      // deadline bounds how long that may take), then the socket ends.
      this.#endIfCondemned(slot);
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
    this.#condemn(slot, "CLIENT_CLOSED", "the client closed its side", { silent: true });
  }

  #onClose(socket: Socket<SocketData>): void {
    const handle = socket.data;
    if (handle === NO_SLOT) {
      const unslotted = this.#unslotted.get(socket);
      this.#unslotted.delete(socket);
      if (unslotted !== undefined) this.#gate.ended(unslotted.address, false);
      return;
    }
    const slot = this.slab.slotOf(handle);
    if (slot < 0) return;
    const connection = this.#connections[slot]!;
    this.#endHandshake(slot, connection.remoteAddress);
    const reason = this.#closeReasons[slot];
    const wasAdmitted = (this.slab.flags[slot]! & SlotFlag.ADMITTED) !== 0;
    this.#sockets[slot] = undefined;
    this.#connections[slot] = undefined;
    this.#reader.forget(slot);
    this.#closeReasons[slot] = undefined;
    this.#peers[slot] = undefined;
    this.#permissions.forget(slot);
    this.#outputs[slot]!.reset();
    this.slab.release(handle);
    if (wasAdmitted) {
      this.metrics.open--;
      this.metrics.countClose(reason?.code ?? "CLIENT_CLOSED");
      this.#hooks.emitClose(connection, reason);
    }
  }

  // ── Running commands ──────────────────────────────────────────────────────────────────

  #dispatch(slot: number, head: Head, body: Uint8Array): void {
    const slab = this.slab;
    slab.requests[slot]!++;
    const started = performance.now();
    const sequence = head.sequence!;
    const name = head.tokens[0]!;
    // Clients mostly send commands upper-cased already: look that up before paying for toUpperCase.
    const command = this.#handlers.has(name) ? name : name.toUpperCase();
    // A trust change since admission is checked first: a revoked client is cut off whatever it sends.
    if (slab.trustEpoch[slot] !== this.#trustEpoch && !this.#readmit(slot)) return;
    const handler = this.#handlers.get(command);
    if (handler === undefined) {
      this.#writeMessage(slot, "ERR", sequence, `unknown command '${name}'`, undefined);
      this.metrics.countCommand("(unknown)", false, 0);
      return;
    }
    const connection = this.#connections[slot]!;
    if (!this.#permissions.may(slot, connection, command)) {
      const refusal = new GnpError("NOT_ALLOWED", `command '${command}' is not allowed for ${describeClient(connection)}`);
      this.#writeMessage(slot, "ERR", sequence, refusal.message, undefined);
      this.metrics.countCommand(command, false, 0);
      return;
    }
    const request = new GnpRequest({ command, args: head.tokens.slice(1), headers: head.headers, sequence, body });
    let result: HandlerResult | Promise<HandlerResult>;
    try {
      result = handler(request, connection);
    } catch (error) {
      this.#replyThrown(slot, command, sequence, error, connection);
      this.metrics.countCommand(command, false, (performance.now() - started) / 1000);
      return;
    }
    if (result instanceof Promise) {
      slab.inflight[slot]!++;
      // Its reply does not exist yet: set aside the output it may need (and its body, held
      // until it settles), so that replies settling together stay within the limit.
      const reserved = this.#reserves.reserveFor(command, body.byteLength);
      this.#outputs[slot]!.reserve(reserved);
      const handle = connection.id;
      const running: Running = { handle, command, sequence, started, reserved };
      result.then(
        (value) => this.#settle(running, value, undefined, true),
        (error: unknown) => this.#settle(running, undefined, error, false),
      );
      return;
    }
    // A handler that closed its own connection gets no reply after the ERR: line.
    const ok = !(slab.flags[slot]! & SlotFlag.CONDEMNED) && this.#reply(slot, command, sequence, result, connection);
    this.metrics.countCommand(command, ok, (performance.now() - started) / 1000);
  }

  /** An async handler finished. Its connection may be gone or condemned: then nothing is sent. */
  #settle(running: Running, value: HandlerResult, error: unknown, ok: boolean): void {
    const { handle, command, sequence, started } = running;
    const slab = this.slab;
    const slot = slab.slotOf(handle);
    let succeeded = false;
    if (slot >= 0) {
      slab.inflight[slot]!--;
      this.#outputs[slot]!.release(running.reserved);
      const flags = slab.flags[slot]!;
      // A condemned connection still gets the replies of commands received before its fault,
      // ahead of its ERR: line; once that line is out, nothing more is written.
      if (!(flags & SlotFlag.CONDEMNED) || flags & SlotFlag.LINE_PENDING) {
        const connection = this.#connections[slot]!;
        this.#corkUntilMicrotask(slot, handle);
        try {
          if (ok) succeeded = this.#reply(slot, command, sequence, value, connection);
          else this.#replyThrown(slot, command, sequence, error, connection);
        } catch (failure) {
          // Last resort: a reply that cannot even be described must not become an unhandled rejection.
          this.#hooks.emitError(failure, connection);
        }
        this.#flushPast(slot);
      }
    }
    this.metrics.countCommand(command, succeeded, (performance.now() - started) / 1000);
    if (slot < 0) return;
    if (slab.inflight[slot] === 0) {
      if (slab.flags[slot]! & SlotFlag.LINE_PENDING) this.#sendErrorLine(slot);
      else if (slab.flags[slot]! & SlotFlag.DRAINING) this.#finishDraining(slot);
    }
    this.#resumeNextTurn(slot);
  }

  /** Writes the OK reply; returns false when the result could not be sent and an ERR went instead. */
  #reply(slot: number, command: string, sequence: string, result: HandlerResult, connection: Connection): boolean {
    try {
      const reply = normalizeReply(result);
      this.#writeMessage(slot, "OK", sequence, reply.body, reply.headers);
      this.#reserves.observe(command, typeof reply.body === "string" ? reply.body.length : reply.body.byteLength);
      return true;
    } catch (error) {
      this.#replyThrown(slot, command, sequence, error, connection);
      return false;
    }
  }

  #replyThrown(slot: number, command: string, sequence: string, error: unknown, connection: Connection): void {
    if (error instanceof GnpError) {
      if (error.kind === "reply") {
        this.#writeMessage(slot, "ERR", sequence, error.message, undefined);
        return;
      }
      if (error.kind === "abort") {
        this.#condemn(slot, error.code, error.message);
        return;
      }
    }
    const detail = describeThrown(error);
    const failure = new GnpError("HANDLER_FAILED", `command '${command}' failed: ${detail}`, { cause: error });
    this.#hooks.emitError(failure, connection);
    this.#writeMessage(slot, "ERR", sequence, failure.message, undefined);
  }

  // ── Writing ───────────────────────────────────────────────────────────────────────────

  #writeMessage(slot: number, status: "OK" | "ERR" | "PUSH", sequence: string, body: string | Uint8Array, headers: HeaderList | undefined): void {
    const size = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
    const head = encodeReplyHead(status, { sequence, size, headers });
    if (typeof body === "string") {
      this.#write(slot, head + body);
      return;
    }
    const socket = this.#sockets[slot];
    if (socket === undefined) return;
    const output = this.#outputs[slot]!;
    output.write(socket, head);
    // Shared, not copied: a handler's reply body (or a pushed value) is not changed once given.
    if (size > 0) output.write(socket, body, true);
  }

  #write(slot: number, data: string): void {
    const socket = this.#sockets[slot];
    if (socket !== undefined) this.#outputs[slot]!.write(socket, data);
  }

  /** Output moved: the connection is not idle. */
  #afterWrite(slot: number): void {
    if (this.#sockets[slot] !== undefined) this.slab.deadline[slot] = this.#idleDeadline(slot);
  }

  /** Cuts off a subscriber whose queued output passed the limit (no line: it is not reading). */
  #overflow(slot: number): void {
    this.#closeReasons[slot] = { code: "OUTPUT_OVERFLOW", reason: `unsent output passed ${this.#options.maxOutput} bytes` };
    this.slab.flags[slot]! |= SlotFlag.CONDEMNED;
    this.#sockets[slot]?.terminate();
  }

  // ── Write, then abort ─────────────────────────────────────────────────────────────────

  /**
   * Condemns a connection: from now on its input is discarded unread and nothing more
   * runs; `ERR: <reason>` goes out behind the replies already queued, and the socket ends
   * once all of it is written, or is cut at the abort deadline if the peer does not read.
   */
  #condemn(slot: number, code: ErrorCode, reason: string, how: { immediate?: boolean; silent?: boolean } = {}): void {
    const slab = this.slab;
    if (slab.flags[slot]! & SlotFlag.CONDEMNED) return;
    slab.flags[slot] = (slab.flags[slot]! | SlotFlag.CONDEMNED | (how.silent ? SlotFlag.NO_LINE : 0)) & ~(SlotFlag.AWAITING_BODY | SlotFlag.BODY_OUTSIDE);
    this.#reader.forget(slot);
    this.#closeReasons[slot] = { code, reason };
    slab.deadline[slot] = Date.now() + this.#options.abortTimeoutMs;
    // Commands received before the fault are still running: their replies go first, then the
    // line (see #settle). The abort deadline bounds how long they may take.
    if (slab.inflight[slot]! > 0 && !how.immediate) {
      slab.flags[slot]! |= SlotFlag.LINE_PENDING;
      return;
    }
    this.#sendErrorLine(slot);
  }

  /** Writes the condemned connection's `ERR: <reason>` line and ends it once the output drains. */
  #sendErrorLine(slot: number): void {
    const slab = this.slab;
    slab.flags[slot]! &= ~SlotFlag.LINE_PENDING;
    const socket = this.#sockets[slot];
    const reason = this.#closeReasons[slot];
    if (socket === undefined || reason === undefined) return;
    const output = this.#outputs[slot]!;
    if (!(slab.flags[slot]! & SlotFlag.NO_LINE)) output.write(socket, encodeErrorLine(reason.reason));
    output.uncork(socket);
    this.#endIfCondemned(slot);
  }

  /** Ends a condemned socket once its output has drained. The peer's FIN or the deadline closes it. */
  #endIfCondemned(slot: number): void {
    const slab = this.slab;
    const flags = slab.flags[slot]!;
    if ((flags & SlotFlag.CONDEMNED) === 0 || flags & (SlotFlag.ENDED | SlotFlag.LINE_PENDING)) return;
    if (this.#outputs[slot]!.isBlocked) return;
    slab.flags[slot] = flags | SlotFlag.ENDED;
    this.#sockets[slot]?.end();
  }

  // ── Time limits ───────────────────────────────────────────────────────────────────────

  #touch(slot: number): void {
    this.slab.deadline[slot] = this.#idleDeadline(slot);
  }

  #idleDeadline(slot: number): number {
    const flags = this.slab.flags[slot]!;
    if (flags & SlotFlag.CONDEMNED) return this.slab.deadline[slot]!;
    return this.#options.idleTimeoutMs === 0 ? 0 : Date.now() + this.#options.idleTimeoutMs;
  }

  /**
   * Runs from a timer: enforces handshake, idle and abort deadlines of every slot. Limits on
   * the client (handshake, idle) count only time the server was listening: a sweep that comes
   * late, after the loop was blocked, judges nobody, since what the clients sent meanwhile is
   * still unread; and a connection with a command running is waiting for the server, not idle.
   */
  sweep(now: number): void {
    const slab = this.slab;
    const high = slab.highWater;
    // A timer that fires twice to catch up after a stall must not judge on its second call.
    if (now - this.#lastSweep > STALLED_SWEEP_MS) this.#judgeFrom = now + SWEEP_INTERVAL_MS / 2;
    this.#lastSweep = now;
    const stalled = now < this.#judgeFrom;
    this.#refusals.flush(now);
    this.#gate.prune((handle) => this.#handshakeState(handle));
    for (let slot = 0; slot < high; slot++) {
      const deadline = slab.deadline[slot]!;
      const requestDeadline = slab.requestDeadline[slot]!;
      const due = deadline !== 0 && deadline <= now;
      if (!due && (requestDeadline === 0 || requestDeadline > now)) continue;
      const flags = slab.flags[slot]!;
      if ((flags & SlotFlag.IN_USE) === 0) continue;
      const socket = this.#sockets[slot];
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
          this.#condemn(slot, "REQUEST_TIMEOUT", `request did not arrive in full within ${this.#options.requestTimeoutMs / 1000} s of its first byte`);
        }
      } else if ((flags & SlotFlag.ADMITTED) === 0) {
        const reason = `TLS handshake did not finish within ${this.#options.handshakeTimeoutMs / 1000} s`;
        this.#closeReasons[slot] = { code: "HANDSHAKE_TIMEOUT", reason };
        this.#refuse({ code: "HANDSHAKE_TIMEOUT", reason, remoteAddress: socket.remoteAddress });
        slab.flags[slot] = flags | SlotFlag.CONDEMNED;
        slab.deadline[slot] = 0;
        socket.terminate();
      } else if (slab.inflight[slot]! > 0) {
        slab.deadline[slot] = this.#idleDeadline(slot);
      } else if (!(flags & SlotFlag.DRAINING)) {
        this.#condemn(slot, "IDLE_TIMEOUT", `connection was idle for more than ${this.#options.idleTimeoutMs / 1000} s`);
      }
    }
  }

  // ── Shutdown ──────────────────────────────────────────────────────────────────────────

  /** Stops reading from every connection; each gets `ERR: server is shutting down` once its in-flight commands finish. */
  drain(): void {
    this.#draining = true;
    const slab = this.slab;
    for (let slot = 0; slot < slab.highWater; slot++) {
      const flags = slab.flags[slot]!;
      if ((flags & SlotFlag.IN_USE) === 0 || flags & SlotFlag.CONDEMNED) continue;
      if ((flags & SlotFlag.ADMITTED) === 0) {
        slab.flags[slot] = flags | SlotFlag.CONDEMNED;
        this.#sockets[slot]?.terminate();
        continue;
      }
      slab.flags[slot] = flags | SlotFlag.DRAINING;
      if (slab.inflight[slot] === 0) this.#finishDraining(slot);
    }
  }

  #finishDraining(slot: number): void {
    this.#condemn(slot, "SHUTTING_DOWN", "server is shutting down");
  }

  /** Cuts every connection still open (the shutdown deadline passed). */
  terminateAll(): void {
    for (const socket of this.#sockets) socket?.terminate();
  }

  /** Replaces the certificate rules; established connections are checked again at their next command. */
  setTrust(validator: CertificateValidator): void {
    this.#validator = validator;
    this.#trustEpoch = (this.#trustEpoch + 1) >>> 0;
    this.#permissions.changed();
    // Checked now rather than at each connection's next command: a watcher that only listens
    // must be cut off too. Validation results are cached, so this is cheap.
    const slab = this.slab;
    for (let slot = 0; slot < slab.highWater; slot++) {
      if ((slab.flags[slot]! & (SlotFlag.IN_USE | SlotFlag.ADMITTED | SlotFlag.CONDEMNED)) === (SlotFlag.IN_USE | SlotFlag.ADMITTED)) {
        this.#readmit(slot);
      }
    }
  }

  setAuthorizer(authorize: Authorizer | undefined): void {
    this.#permissions.set(authorize);
  }

  setKeyAuthorizer(scopeKeys: KeyAuthorizer | undefined): void {
    this.#permissions.setKeys(scopeKeys);
  }

  /** Checks a connection's certificate under the current rules; condemns it when they refuse it now. */
  #readmit(slot: number): boolean {
    const admission = this.#validator.validate(this.#peers[slot], Date.now());
    if (!admission.ok) {
      this.#condemn(slot, admission.code, admission.reason);
      return false;
    }
    this.slab.trustEpoch[slot] = this.#trustEpoch;
    return true;
  }

  // ── Flow control ──────────────────────────────────────────────────────────────────────

  /**
   * After each command is started: writes corked replies past FLUSH_AT at once, and pauses
   * input while the client is not taking its replies, has too many commands running, or has
   * commands running whose replies could take its output past --max-output. One check for sync
   * and async handlers alike: a sync reply is already in the queue, an async one is reserved in
   * it, so what a connection makes the server hold stays near the limit plus one reply.
   */
  #throttle(slot: number): void {
    const socket = this.#sockets[slot];
    if (socket === undefined || this.#stopped(slot)) return;
    this.#flushPast(slot);
    const output = this.#outputs[slot]!;
    const owed = output.reservedBytes > 0 && output.committedBytes >= this.#options.maxOutput;
    if (owed || output.unsentBytes > this.#pauseAt || this.slab.inflight[slot]! >= MAX_INFLIGHT) {
      this.slab.flags[slot]! |= SlotFlag.INPUT_PAUSED;
      socket.pause();
    } else if (++this.#turnRequests >= TURN_REQUESTS || performance.now() - this.#turnStartedAt > TURN_BUDGET_MS) {
      this.#yield(slot, socket);
    }
  }

  /** Pauses a connection that used up its turn; it is read again at the next turn of the loop. */
  #yield(slot: number, socket: Socket<SocketData>): void {
    this.slab.flags[slot]! |= SlotFlag.INPUT_PAUSED;
    socket.pause();
    this.#resumeNextTurn(slot);
  }

  /**
   * Resumes a paused connection at the next turn of the loop, not now. Settles run as
   * microtasks: resuming there would read and run more requests, whose writes the store commits
   * in the same microtask checkpoint, and so on, without the loop ever reading anyone else.
   */
  #resumeNextTurn(slot: number): void {
    const slab = this.slab;
    if ((slab.flags[slot]! & (SlotFlag.INPUT_PAUSED | SlotFlag.CONDEMNED | SlotFlag.YIELDED)) !== SlotFlag.INPUT_PAUSED) return;
    slab.flags[slot]! |= SlotFlag.YIELDED;
    const handle = this.#connections[slot]!.id;
    setImmediate(() => {
      const current = slab.slotOf(handle);
      if (current < 0) return;
      slab.flags[current]! &= ~SlotFlag.YIELDED;
      this.#maybeResume(current);
    });
  }

  /** Writes corked output at once when it passed FLUSH_AT, so one burst cannot build one huge buffer. */
  #flushPast(slot: number): void {
    const output = this.#outputs[slot]!;
    const socket = this.#sockets[slot];
    if (socket === undefined || output.pendingBytes - output.unsentBytes <= FLUSH_AT) return;
    output.uncork(socket);
    output.cork();
  }

  /**
   * Resumes a paused connection once its output has drained, its commands have caught up and
   * what they may still reply fits in half the limit (hysteresis: no pause after every reply).
   */
  #maybeResume(slot: number): void {
    const slab = this.slab;
    if ((slab.flags[slot]! & (SlotFlag.INPUT_PAUSED | SlotFlag.CONDEMNED | SlotFlag.YIELDED)) !== SlotFlag.INPUT_PAUSED) return;
    const output = this.#outputs[slot]!;
    const socket = this.#sockets[slot];
    if (socket === undefined || output.unsentBytes > this.#resumeAt || slab.inflight[slot]! >= MAX_INFLIGHT / 2) return;
    if (output.reservedBytes > 0 && output.committedBytes >= this.#options.maxOutput / 2) return;
    slab.flags[slot]! &= ~SlotFlag.INPUT_PAUSED;
    output.cork();
    this.#turnStartedAt = performance.now();
    this.#turnRequests = 0;
    try {
      this.#reader.resume(slot);
    } finally {
      output.uncork(socket);
      this.#afterWrite(slot);
    }
    const flags = slab.flags[slot]!;
    if (flags & SlotFlag.INPUT_PAUSED || flags & SlotFlag.CONDEMNED) return;
    // The client closed its side while paused: everything it sent is answered now.
    if (flags & SlotFlag.PEER_ENDED) this.#condemn(slot, "CLIENT_CLOSED", "the client closed its side", { silent: true });
    else socket.resume();
  }

  /** Async replies finishing in one tick (a group commit) leave in one write. */
  #corkUntilMicrotask(slot: number, handle: number): void {
    const slab = this.slab;
    if (slab.flags[slot]! & SlotFlag.FLUSH_SCHEDULED) return;
    slab.flags[slot]! |= SlotFlag.FLUSH_SCHEDULED;
    this.#outputs[slot]!.cork();
    queueMicrotask(() => {
      const current = slab.slotOf(handle);
      if (current < 0) return;
      slab.flags[current]! &= ~SlotFlag.FLUSH_SCHEDULED;
      const socket = this.#sockets[current];
      if (socket === undefined) return;
      this.#outputs[current]!.uncork(socket);
      this.#afterWrite(current);
      this.#resumeNextTurn(current);
    });
  }

  #refuse(info: RefusalInfo): void {
    this.metrics.countRefusal(info.code);
    this.#refusals.refuse(info, Date.now());
  }

  // ── Connections in their handshake ────────────────────────────────────────────────────

  /** Why a newcomer gets no slot: told once its handshake is done, if it gets that far. */
  #whyNoSlot(address: string): { address: string; code: RefusalCode<"server">; reason: string } {
    if (this.#draining) return { address, code: "SHUTTING_DOWN", reason: "server is shutting down" };
    if (this.slab.inUse < this.slab.capacity) {
      return { address, code: "CONNECTION_LIMIT", reason: `server is at its limit of ${this.#options.maxHandshakes} connections in their TLS handshake` };
    }
    return { address, code: "CONNECTION_LIMIT", reason: "server is at its connection limit" };
  }

  /** The slot leaves the handshake budget (admitted, or closing): once, whichever comes first. */
  #endHandshake(slot: number, address: string): void {
    if (!(this.slab.flags[slot]! & SlotFlag.HANDSHAKING)) return;
    this.slab.flags[slot]! &= ~SlotFlag.HANDSHAKING;
    this.#gate.ended(address, true);
  }

  /** Cuts the oldest handshake that has made no progress, if any; its slot is free on return. */
  #evictStalled(): void {
    const victim = this.#gate.victim((handle) => this.#handshakeState(handle));
    if (victim === undefined) return;
    const slot = this.slab.slotOf(victim);
    const socket = this.#sockets[slot]!;
    const reason = "TLS handshake made no progress (no ClientHello) and its slot went to a newer connection";
    this.#closeReasons[slot] = { code: "HANDSHAKE_EVICTED", reason };
    this.#refuse({ code: "HANDSHAKE_EVICTED", reason, remoteAddress: socket.remoteAddress });
    this.slab.flags[slot]! |= SlotFlag.CONDEMNED;
    // Bun runs the close handler inside terminate(): the slot and its budget are given back now.
    socket.terminate();
  }

  #handshakeState(handle: number): "pending" | "gone" | "progressing" {
    const slot = this.slab.slotOf(handle);
    if (slot < 0 || !(this.slab.flags[slot]! & SlotFlag.HANDSHAKING) || this.slab.flags[slot]! & SlotFlag.CONDEMNED) return "gone";
    const socket = this.#sockets[slot];
    if (socket === undefined) return "gone";
    // TLS picks a cipher as soon as it has read the ClientHello: from then on the handshake is under way.
    return socket.getCipher()?.name ? "progressing" : "pending";
  }

  /** Condemned, or already given back (a handler may close its connection mid-read). */
  #stopped(slot: number): boolean {
    return (this.slab.flags[slot]! & (SlotFlag.CONDEMNED | SlotFlag.IN_USE)) !== SlotFlag.IN_USE;
  }

  #connectionOf(socket: Socket<SocketData>): Connection | undefined {
    const slot = this.slab.slotOf(socket.data);
    return slot < 0 ? undefined : this.#connections[slot];
  }
}

/** An async command in flight: what its settle needs to reply and to give its reserve back. */
type Running = { handle: number; command: string; sequence: string; started: number; reserved: number };

/**
 * The client's certificate and, through issuerCertificate, every further certificate it sent,
 * in the order sent. Bun's argument is `abbreviated`, the opposite of Node's `detailed`: only
 * `false` returns the chain (see docs/certificate-chains.md).
 */
function presentedChain(socket: Socket<SocketData>): PeerCertificate & { subject?: { CN?: string | string[] }; subjectaltname?: string } {
  return (socket as unknown as { getPeerCertificate(abbreviated: boolean): PeerCertificate }).getPeerCertificate(false);
}

/** A thrown value as text, whatever it is (an object without toString included). */
function describeThrown(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return "an unprintable value";
  }
}
