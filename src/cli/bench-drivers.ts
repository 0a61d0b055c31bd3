// The two load loops of `gnp bench`, written so that the bench is not what limits the rate:
// raw Bun sockets and the incremental ReplyParser, no promise per request, requests encoded
// once per pipeline slot, the replies of one read answered by one write. `rr` keeps
// `pipeline` requests in flight on each connection; `handshake` connects, waits for the
// greeting and closes, over and over. Both stop when the shared Budget says so.

import type { Socket, TLSOptions } from "bun";
import { GnpError } from "../errors.ts";
import { encodeRequestHead } from "../protocol/encoder.ts";
import { ReplyParser, type ReplyEvent } from "../protocol/reply-parser.ts";
import type { ConnectionSettings } from "./connection-flags.ts";
import { Histogram } from "./bench-histogram.ts";

/** How much work is left: a request count, a deadline, or both. One per run, shared. */
export class Budget {
  #remaining: number;
  #stopAt = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(requests: number | undefined) {
    this.#remaining = requests ?? Number.POSITIVE_INFINITY;
  }

  /** Starts the clock: no new request begins after `durationMs` from `now`. */
  start(now: number, durationMs: number | undefined): void {
    if (durationMs !== undefined) this.#stopAt = now + durationMs;
  }

  /** Claims one request; false once the count or the time is used up, or stop() was called. */
  take(now: number): boolean {
    if (this.#stopped || this.#remaining <= 0 || now >= this.#stopAt) return false;
    this.#remaining--;
    return true;
  }

  stop(): void {
    this.#stopped = true;
  }
}

/** What a run counted. Errors are counted per failed request or handshake, with their reasons. */
export class Tally {
  readonly histogram = new Histogram();
  ok = 0;
  errors = 0;
  /** Connections that got the greeting (each handshake counts one). */
  greeted = 0;
  readonly reasons = new Map<string, number>();

  fail(count: number, reason: string): void {
    this.errors += count;
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + count);
  }
}

export type Target = ConnectionSettings & { timeoutMs: number };
export type RrPlan = { command: string; args: string[]; body: Uint8Array | undefined; pipeline: number; keyspace?: number | undefined };

/**
 * redis-benchmark's placeholder: with a keyspace, each request's copy of it becomes 12 random
 * digits, a number below the keyspace, so requests keep one size and are patched in place.
 */
export const RANDOM_KEY = "__rand_int__";
/** The placeholder has room for 12 digits. */
export const RANDOM_KEY_LIMIT = 1e12;

/** One run of load: how many connections, the shared budget and tally, and when to give up. */
export type Run = {
  conns: number;
  budget: Budget;
  durationMs: number | undefined;
  tally: Tally;
  signal: AbortSignal;
};

/** The TLS options of every bench connection: built once and shared. */
export function tlsOptions(target: Target): TLSOptions {
  return {
    cert: target.cert as string,
    key: target.key as string,
    ...(target.ca !== undefined ? { ca: target.ca as string } : {}),
    rejectUnauthorized: !target.insecure,
    ...(target.servername !== undefined ? { serverName: target.servername } : {}),
  };
}

type Handlers = {
  onOpen: (socket: Socket<undefined>) => void;
  onEvent: (event: ReplyEvent, now: number) => void;
  afterEvents: (now: number) => void;
  onDrain: () => void;
  onClose: (reason: string) => void;
};

/** Opens one TLS connection (with the shared `tls` options) whose bytes go through a ReplyParser into `handlers`. */
function openRaw(target: Target, handlers: Handlers & { tls: TLSOptions }): void {
  // rr reuses one Sequence per pipeline slot, so reply heads repeat byte for byte: parse each once.
  const parser = new ReplyParser({ reuseHeads: true });
  let closed = false;
  const close = (reason: string) => {
    if (closed) return;
    closed = true;
    handlers.onClose(reason);
  };
  Bun.connect({
    hostname: target.host,
    port: target.port,
    tls: handlers.tls,
    socket: {
      open: (socket) => handlers.onOpen(socket),
      data: (_socket, chunk) => {
        const events = parser.push(chunk);
        const now = performance.now();
        for (let i = 0; i < events.length; i++) handlers.onEvent(events[i]!, now);
        handlers.afterEvents(now);
      },
      drain: () => handlers.onDrain(),
      handshake: (socket, _success, error) => {
        if (error !== null && !target.insecure) {
          close(`server certificate rejected: ${error.message}`);
          socket.terminate();
        }
      },
      close: (_socket, error) => close(error ? `connection closed: ${error.message}` : "connection closed by the server"),
      connectError: (_socket, error) => close(`could not connect: ${(error as { code?: string }).code ?? error.message}`),
      error: () => {},
    },
  }).catch(() => {}); // connectError has reported it
}

/** The offsets of `needle` (ASCII) in `bytes`. */
function placesOf(bytes: Uint8Array, needle: string): number[] {
  const places: number[] = [];
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = text.indexOf(needle, 0, "latin1"); at >= 0; at = text.indexOf(needle, at + needle.length, "latin1")) places.push(at);
  return places;
}

/** `value` (below 10^12) as 12 decimal digits, zero-padded, at `bytes[at]`. */
function writeDigits(bytes: Uint8Array, at: number, value: number): void {
  for (let i = at + RANDOM_KEY.length - 1; i >= at; i--) {
    bytes[i] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
}

/** One `rr` connection: `pipeline` slots, each with its request bytes and its send time. */
class RrConnection {
  readonly #budget: Budget;
  readonly #tally: Tally;
  readonly #requests: Uint8Array[];
  readonly #slotOf = new Map<string, number>();
  readonly #size: number;
  /** Where in a request the placeholder's copies are, when the plan has a keyspace. */
  readonly #randomAt: number[];
  readonly #keyspace: number;
  readonly #batch: Uint8Array;
  readonly #sentAt: Float64Array;
  #toSend: number[] = [];
  #backlog: Uint8Array | undefined;
  #inFlight = 0;
  #socket: Socket<undefined> | undefined;
  #running = false;
  #finished = false;
  readonly ready = Promise.withResolvers<void>();
  readonly done = Promise.withResolvers<void>();

  constructor(plan: RrPlan, run: { budget: Budget; tally: Tally }) {
    this.#budget = run.budget;
    this.#tally = run.tally;
    // Same-width Sequences ("00".."15") make every request the same size: one batch buffer serves.
    const width = String(plan.pipeline - 1).length;
    this.#requests = Array.from({ length: plan.pipeline }, (_, slot) => {
      const sequence = String(slot).padStart(width, "0");
      this.#slotOf.set(sequence, slot);
      const head = Buffer.from(encodeRequestHead({ command: plan.command, args: plan.args, sequence, size: plan.body?.length ?? -1 }));
      return plan.body === undefined ? head : Buffer.concat([head, plan.body]);
    });
    this.#size = this.#requests[0]!.length;
    // The placeholder is in the command line, before the Sequence: at the same place in every slot's request.
    this.#keyspace = plan.keyspace ?? 0;
    this.#randomAt = this.#keyspace > 0 ? placesOf(this.#requests[0]!, RANDOM_KEY) : [];
    this.#batch = new Uint8Array(this.#size * plan.pipeline);
    this.#sentAt = new Float64Array(plan.pipeline);
  }

  open(target: Target, tls: TLSOptions): void {
    openRaw(target, {
      tls,
      onOpen: (socket) => {
        this.#socket = socket;
      },
      onEvent: (event, now) => this.#onEvent(event, now),
      afterEvents: () => this.#flush(),
      onDrain: () => this.#drain(),
      onClose: (reason) => this.#finish(reason),
    });
  }

  /** Sends the first request of every slot; the clock has started. */
  start(): void {
    if (this.#finished) return; // never opened: claim no requests it could not send
    this.#running = true;
    const now = performance.now();
    for (let slot = 0; slot < this.#requests.length; slot++) if (this.#budget.take(now)) this.#toSend.push(slot);
    this.#flush();
  }

  /** Ends the connection now, counting what is in flight as errors with `reason`. */
  abort(reason: string): void {
    this.#fail(reason);
  }

  #onEvent(event: ReplyEvent, now: number): void {
    if (event.kind === "message") {
      if (event.status === "PUSH") return;
      const slot = this.#slotOf.get(event.sequence);
      if (slot === undefined) return this.#fail(`reply with a Sequence never sent: ${event.sequence}`);
      this.#inFlight--;
      if (event.status === "OK") {
        this.#tally.ok++;
        this.#tally.histogram.record((now - this.#sentAt[slot]!) * 1000);
      } else this.#tally.fail(1, `ERR ${Buffer.from(event.body).toString("utf8")}`);
      if (this.#budget.take(now)) this.#toSend.push(slot);
    } else if (event.kind === "greeting") {
      this.#tally.greeted++;
      this.ready.resolve();
    } else if (event.kind === "refused") this.#fail(new GnpError("REFUSED", event.reason).message);
    else if (event.kind === "connection-error") this.#fail(event.reason);
    else if (event.kind === "fault") this.#fail(`bad reply: ${event.message}`);
  }

  #flush(): void {
    const count = this.#toSend.length;
    if (count > 0 && this.#socket !== undefined && !this.#finished) {
      const now = performance.now();
      const randomAt = this.#randomAt;
      for (let i = 0; i < count; i++) {
        const slot = this.#toSend[i]!;
        this.#batch.set(this.#requests[slot]!, i * this.#size);
        // Without --keyspace the list is empty and a request costs nothing more.
        for (let r = 0; r < randomAt.length; r++) writeDigits(this.#batch, i * this.#size + randomAt[r]!, Math.floor(Math.random() * this.#keyspace));
        this.#sentAt[slot] = now;
      }
      this.#toSend.length = 0;
      this.#inFlight += count;
      this.#write(this.#batch.subarray(0, count * this.#size));
    }
    if (this.#running && this.#inFlight === 0 && this.#toSend.length === 0) this.#finish(undefined);
  }

  #write(data: Uint8Array): void {
    if (this.#backlog !== undefined) {
      this.#backlog = Buffer.concat([this.#backlog, data]);
      return;
    }
    const written = this.#socket!.write(data);
    // The batch buffer is reused: keep a copy of what the socket did not take.
    if (written >= 0 && written < data.length) this.#backlog = data.slice(written);
  }

  #drain(): void {
    const backlog = this.#backlog;
    if (backlog === undefined || this.#socket === undefined) return;
    this.#backlog = undefined;
    const written = this.#socket.write(backlog);
    if (written >= 0 && written < backlog.length) this.#backlog = backlog.subarray(written);
  }

  #fail(reason: string): void {
    this.#finish(reason);
    this.#socket?.terminate();
  }

  #finish(reason: string | undefined): void {
    if (this.#finished) return;
    this.#finished = true;
    if (reason !== undefined) {
      // Requests in flight are lost; a connection lost with none in flight still counts once.
      this.#tally.fail(Math.max(this.#inFlight, 1), reason);
      this.ready.reject(new Error(reason));
    }
    this.#socket?.end();
    this.done.resolve();
  }
}

/**
 * Runs request/reply load: opens `conns` connections, starts the clock once all are greeted,
 * and resolves when the budget is spent and every reply is in. Returns the measured seconds.
 */
export async function runRequestReply(target: Target, run: Run & { plan: RrPlan }): Promise<number> {
  const { plan, conns, budget, durationMs, signal } = run;
  const tls = tlsOptions(target);
  const connections = Array.from({ length: conns }, () => new RrConnection(plan, run));
  signal.addEventListener("abort", () => {
    budget.stop();
    for (const connection of connections) connection.abort(String(signal.reason));
  });
  for (const connection of connections) {
    connection.ready.promise.catch(() => {}); // a failed open is counted in the tally
    connection.open({ ...target }, tls);
  }
  await Promise.all(connections.map((c) => c.ready.promise.catch(() => undefined)));
  const start = performance.now();
  budget.start(start, durationMs);
  for (const connection of connections) connection.start();
  await Promise.all(connections.map((c) => c.done.promise));
  return (performance.now() - start) / 1000;
}

/** One handshake: connect, mutual TLS, greeting, close. Resolves on the greeting. */
function handshakeOnce(target: Target, tls: TLSOptions): Promise<void> {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const timer = setTimeout(() => reject(new Error(`no greeting within ${target.timeoutMs} ms`)), target.timeoutMs || 2 ** 31 - 1);
  let greeted = false;
  let socket: Socket<undefined> | undefined;
  openRaw(target, {
    tls,
    onOpen: (opened) => {
      socket = opened;
    },
    onEvent: (event) => {
      if (event.kind === "greeting") greeted = true;
      else if (event.kind === "refused") reject(new GnpError("REFUSED", event.reason));
      else if (event.kind === "fault") reject(new Error(`bad greeting: ${event.message}`));
    },
    afterEvents: () => {
      if (!greeted) return;
      resolve();
      socket?.end();
    },
    onDrain: () => {},
    onClose: (reason) => reject(new Error(reason)),
  });
  return promise.finally(() => clearTimeout(timer));
}

/** Runs handshake load with `conns` concurrent loops. Returns the measured seconds. */
export async function runHandshakes(target: Target, run: Run): Promise<number> {
  const { conns, budget, durationMs, tally, signal } = run;
  const tls = tlsOptions(target);
  signal.addEventListener("abort", () => budget.stop());
  const start = performance.now();
  budget.start(start, durationMs);
  const loop = async () => {
    while (budget.take(performance.now())) {
      const began = performance.now();
      try {
        await handshakeOnce(target, tls);
        tally.ok++;
        tally.greeted++;
        tally.histogram.record((performance.now() - began) * 1000);
      } catch (error) {
        tally.fail(1, (error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: conns }, loop));
  return (performance.now() - start) / 1000;
}
