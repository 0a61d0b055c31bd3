// The attacks of bench/hostile.ts, each run in a process of its own against a real `gnp serve`
// for a bounded time: reply amplification (of one 1 MiB value, and of 64 in turn), an INFO
// flood, a 100k-request burst, a handshake flood, slow heads and watchers that never read.
// Each prints one JSON line of what it did.
//   bun bench/hostile-attacks.ts NAME --port P --pki DIR --seconds S [--info-keys N] [--prepare]
// --prepare does an attack's setup (the 1 MiB values, the INFO flood's documents) and exits, so
// that the setup's own load is not measured as the attack.

import type { Socket, TLSOptions } from "bun";
import { connect as tcpConnect, type Socket as NetSocket } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeRequestHead } from "../src/protocol/encoder.ts";
import { ReplyParser, type ReplyEvent } from "../src/protocol/reply-parser.ts";

export const ATTACKS = ["amplification", "amplification-64", "info-flood", "burst", "handshake-flood", "slow-heads", "silent-watchers"] as const;
export type AttackName = (typeof ATTACKS)[number];

type Context = { port: number; tls: TLSOptions; until: number; infoKeys: number };
/** What an attack did, for the report. */
type Tally = { connects: number; requests: number; replies: number; bytes: number; cut: number };

const MiB = 1024 * 1024;
const encoder = new TextEncoder();

function req(command: string, args: string[], sequence: string, body?: Uint8Array): Uint8Array {
  const head = encoder.encode(encodeRequestHead({ command, args, sequence, size: body?.byteLength ?? -1 }));
  if (body === undefined) return head;
  const bytes = new Uint8Array(head.byteLength + body.byteLength);
  bytes.set(head);
  bytes.set(body, head.byteLength);
  return bytes;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * One authenticated connection that writes whole buffers (keeping what the socket did not take
 * until drain) and hands parsed events, or only byte counts, to the attack.
 */
class Peer {
  socket: Socket<undefined> | undefined;
  closed = false;
  received = 0;
  #backlog: Uint8Array[] = [];
  readonly #parser: ReplyParser | undefined;
  readonly greeted = Promise.withResolvers<void>();
  readonly gone = Promise.withResolvers<void>();
  onEvent: (event: ReplyEvent) => void = () => {};

  private constructor(parse: boolean) {
    this.#parser = parse ? new ReplyParser({ reuseHeads: true }) : undefined;
  }

  static async open(context: Context, tally: Tally, options: { parse?: boolean } = {}): Promise<Peer> {
    const peer = new Peer(options.parse ?? true);
    tally.connects++;
    const onGone = () => {
      peer.closed = true;
      peer.greeted.reject(new Error("closed before the greeting"));
      peer.gone.resolve();
    };
    await Bun.connect({
      hostname: "127.0.0.1",
      port: context.port,
      tls: context.tls,
      socket: {
        open: (socket) => void (peer.socket = socket),
        data: (_socket, chunk) => {
          if (peer.received === 0 && chunk[0] === 0x4f) peer.greeted.resolve();
          peer.received += chunk.byteLength;
          tally.bytes += chunk.byteLength;
          if (peer.#parser) for (const event of peer.#parser.push(chunk)) peer.onEvent(event);
        },
        drain: () => peer.#flush(),
        close: onGone,
        error: () => {},
        connectError: onGone,
      },
    }).catch(onGone);
    peer.greeted.promise.catch(() => {});
    await peer.greeted.promise;
    return peer;
  }

  write(bytes: Uint8Array): void {
    this.#backlog.push(bytes);
    if (this.#backlog.length === 1) this.#flush();
  }

  #flush(): void {
    while (this.#backlog.length > 0 && this.socket !== undefined && !this.closed) {
      const chunk = this.#backlog[0]!;
      const written = this.socket.write(chunk);
      if (written < 0) return;
      if (written < chunk.byteLength) {
        this.#backlog[0] = chunk.subarray(written);
        return;
      }
      this.#backlog.shift();
    }
  }

  close(): void {
    this.socket?.terminate();
  }
}

/** Sends `batch`, resolves once `expected` replies (OK or ERR) came back or the peer closed. */
function roundTrip(peer: Peer, batch: Uint8Array, expected: number, tally: Tally): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  let seen = 0;
  peer.onEvent = (event) => {
    if (event.kind !== "message" || event.status === "PUSH") return;
    tally.replies++;
    if (++seen >= expected) resolve();
  };
  void peer.gone.promise.then(resolve);
  tally.requests += expected;
  peer.write(batch);
  return promise;
}

// ── The attacks ───────────────────────────────────────────────────────────────────────

/** Values the many-keys amplification GETs in turn: more than the server's cache of large values holds. */
const MANY_VALUES = 64;

async function storeBigValue(context: Context, tally: Tally): Promise<void> {
  const setup = await Peer.open(context, tally);
  await roundTrip(setup, req("PUT", ["amp/big"], "big", new Uint8Array(MiB).fill(0x61)), 1, tally);
  setup.close();
}

async function storeBigValues(context: Context, tally: Tally): Promise<void> {
  const setup = await Peer.open(context, tally);
  for (let i = 0; i < MANY_VALUES; i++) await roundTrip(setup, req("PUT", [`amp/big${i}`], "big", new Uint8Array(MiB).fill(0x61)), 1, tally);
  setup.close();
}

/**
 * 4 connections, each asking 200 x (PUT small, GET 1 MiB) in one ~40 KB write, reading as fast
 * as it can; the GETs name one value, or with `many` 64 values in turn.
 */
async function amplification(context: Context, tally: Tally, many = false): Promise<void> {
  const one = new Uint8Array([0x31]);
  const key = (i: number) => (many ? `amp/big${i % MANY_VALUES}` : "amp/big");
  const batch = concat(Array.from({ length: 200 }, (_, i) => concat([req("PUT", [`amp/k${i}`], `p${i}`, one), req("GET", [key(i)], `g${i}`)])));
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      const peer = await Peer.open(context, tally);
      // A batch is 200 MiB of replies: one still coming at the deadline is left unread, so the attacker stops on time.
      while (Date.now() < context.until && !peer.closed) await Promise.race([roundTrip(peer, batch, 400, tally), Bun.sleep(context.until - Date.now())]);
      if (peer.closed) tally.cut++;
      peer.close();
    }),
  );
}

async function storeDocuments(context: Context, tally: Tally): Promise<void> {
  const loader = await Peer.open(context, tally);
  const value = new Uint8Array(100).fill(0x69);
  for (let done = 0; done < context.infoKeys; done += 1000) {
    const count = Math.min(1000, context.infoKeys - done);
    await roundTrip(loader, concat(Array.from({ length: count }, (_, i) => req("PUT", [`info/${done + i}`], String(i), value))), count, tally);
  }
  loader.close();
}

/** 4 connections pipeline INFOs, over a store of `infoKeys` documents. */
async function infoFlood(context: Context, tally: Tally): Promise<void> {
  // 50 at a time rather than the 200, so that the last batch ends near the deadline.
  const batch = concat(Array.from({ length: 50 }, (_, i) => req("INFO", [], String(i))));
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      const peer = await Peer.open(context, tally);
      while (Date.now() < context.until && !peer.closed) await roundTrip(peer, batch, 50, tally);
      peer.close();
    }),
  );
}

/** One connection writes 100,000 PINGs at once, reads the replies, and again until the time is up. */
async function burst(context: Context, tally: Tally): Promise<void> {
  const batch = concat(Array.from({ length: 100_000 }, (_, i) => req("PING", [], String(i % 1000))));
  const peer = await Peer.open(context, tally);
  while (Date.now() < context.until && !peer.closed) await roundTrip(peer, batch, 100_000, tally);
  peer.close();
}

/**
 * Plain TCP sockets that never start TLS, 1,500 from each of four addresses (the handshake
 * budget is 2,048, the cap per address 1,024); each one closed is opened again, at no more
 * than 1,000 connects a second in all, so that every server meets the same offered load
 * however fast it closes them. Bounded: at most 200,000 connects.
 */
async function handshakeFlood(context: Context, tally: Tally): Promise<void> {
  const sockets = new Set<NetSocket>();
  const waiting: string[] = [];
  const open = (localAddress: string): void => {
    tally.connects++;
    const socket = tcpConnect({ host: "127.0.0.1", port: context.port, localAddress });
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      sockets.delete(socket);
      tally.cut++;
      waiting.push(localAddress);
    });
  };
  for (const address of ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]) {
    for (let i = 0; i < 1500; i++) waiting.push(address);
  }
  // 10 connects every 10 ms: 1,000 a second.
  while (Date.now() < context.until && tally.connects < 200_000) {
    for (let i = 0; i < 10 && waiting.length > 0; i++) open(waiting.shift()!);
    await Bun.sleep(10);
  }
  for (const socket of sockets) socket.destroy();
}

/** 300 admitted connections, each sending one byte of a head a second (the request timeout cuts them at 30 s). */
async function slowHeads(context: Context, tally: Tally): Promise<void> {
  const head = encodeRequestHead({ command: "PING", args: [], sequence: "slow", size: -1 });
  const peers = await Promise.all(Array.from({ length: 300 }, () => Peer.open(context, tally, { parse: false }).catch(() => undefined)));
  for (let second = 0; Date.now() < context.until; second++) {
    for (const peer of peers) if (peer !== undefined && !peer.closed) peer.write(encoder.encode(head[second % head.length]!));
    tally.requests += peers.length;
    await Bun.sleep(1000);
  }
  tally.cut = peers.filter((peer) => peer === undefined || peer.closed).length;
  for (const peer of peers) peer?.close();
}

/** 20 connections WATCH everything and never read; a writer PUTs 64 KiB values 16 at a time. Cut watchers come back. */
async function silentWatchers(context: Context, tally: Tally): Promise<void> {
  const watch = async (): Promise<void> => {
    while (Date.now() < context.until) {
      const peer = await Peer.open(context, tally, { parse: false }).catch(() => undefined);
      if (peer === undefined) continue;
      peer.write(req("WATCH", [], "w"));
      peer.socket?.pause();
      await Promise.race([peer.gone.promise, Bun.sleep(Math.max(0, context.until - Date.now()))]);
      if (peer.closed) tally.cut++;
      peer.close();
    }
  };
  const value = new Uint8Array(64 * 1024).fill(0x77);
  const write = async (): Promise<void> => {
    const peer = await Peer.open(context, tally);
    const batch = concat(Array.from({ length: 16 }, (_, i) => req("PUT", [`watched/${i}`], String(i), value)));
    while (Date.now() < context.until && !peer.closed) await roundTrip(peer, batch, 16, tally);
    peer.close();
  };
  await Promise.all([...Array.from({ length: 20 }, watch), write()]);
}

const RUN: Record<AttackName, (context: Context, tally: Tally) => Promise<void>> = {
  amplification: (context, tally) => amplification(context, tally),
  "amplification-64": (context, tally) => amplification(context, tally, true),
  "info-flood": infoFlood,
  burst,
  "handshake-flood": handshakeFlood,
  "slow-heads": slowHeads,
  "silent-watchers": silentWatchers,
};

const PREPARE: Partial<Record<AttackName, (context: Context, tally: Tally) => Promise<void>>> = {
  amplification: storeBigValue,
  "amplification-64": storeBigValues,
  "info-flood": storeDocuments,
};

/** The attacker process: runs one attack (or its setup), prints its tally as one JSON line. */
export async function runAttack(argv: string[]): Promise<void> {
  const name = argv[0] as AttackName;
  if (!ATTACKS.includes(name)) throw new Error(`unknown attack ${JSON.stringify(name)}: expected ${ATTACKS.join(", ")}`);
  const flag = (flagName: string, fallback?: string) => {
    const index = argv.indexOf(flagName);
    const value = index < 0 ? fallback : argv[index + 1];
    if (value === undefined) throw new Error(`${flagName} is required`);
    return value;
  };
  const pki = flag("--pki");
  const read = (file: string) => readFileSync(join(pki, file), "utf8");
  const context: Context = {
    port: Number(flag("--port")),
    tls: { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt"), serverName: "localhost" },
    until: Date.now() + Number(flag("--seconds")) * 1000,
    infoKeys: Number(flag("--info-keys", "200000")),
  };
  const tally: Tally = { connects: 0, requests: 0, replies: 0, bytes: 0, cut: 0 };
  const run = argv.includes("--prepare") ? PREPARE[name] : RUN[name];
  await run?.(context, tally);
  console.log(JSON.stringify({ attack: name, ...tally }));
}

if (import.meta.main) {
  try {
    await runAttack(process.argv.slice(2));
    process.exit(0);
  } catch (error) {
    console.error(`hostile-attacks: ${(error as Error).message}`);
    process.exit(1);
  }
}
