// The server's own JavaScript per request, without TLS, sockets or a client: the engine's data
// handler fed reads of pipelined requests over sockets that only count what they are given, one
// read per connection per turn of the event loop. What bench/server-cpu.ts cannot tell apart
// from Bun's TLS and the kernel shows here alone: head scanning and parsing, dispatch, the
// handler, reply encoding, flow control, clocks. With --against, another checkout's engine runs
// in the same process, short rounds alternating, and the ratios of medians and of minima are
// printed (on a shared machine the minima say most: other work only ever adds time).
//
//   bun bench/request-path.ts                                   # ECHO hello, 16 requests a read
//   bun bench/request-path.ts --against ../main --command PING --pipeline 1 --rounds 9

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureLocalPki } from "../src/certs/local-pki.ts";
import { pkiDir } from "../src/certs/pki-paths.ts";
import { encodeRequestHead } from "../src/protocol/encoder.ts";
import type { EngineSocket } from "../src/server/connection-table.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    against: { type: "string" },
    command: { type: "string", default: "ECHO hello" },
    pipeline: { type: "string", default: "16" },
    connections: { type: "string", default: "50" },
    requests: { type: "string", default: "50000" },
    rounds: { type: "string", default: "41" },
  },
});
const pipeline = Number(values.pipeline);
const connections = Number(values.connections);
const perRound = Number(values.requests);
const rounds = Number(values.rounds);
if (![pipeline, connections, perRound, rounds].every((n) => Number.isInteger(n) && n > 0)) throw new RangeError("--pipeline, --connections, --requests and --rounds are positive integers");

// Real options need a certificate pair; the engines never use it.
const dir = mkdtempSync(join(tmpdir(), "gnp-request-path-"));
const paths = await ensureLocalPki(pkiDir(dir));
const tls = { cert: readFileSync(paths.serverCert, "utf8"), key: readFileSync(paths.serverKey, "utf8") };
rmSync(dir, { recursive: true, force: true });

/** One read of `pipeline` requests, Sequences "00".."15" as gnp bench sends them. */
const [command, ...args] = values.command.split(" ");
const width = String(pipeline - 1).length;
const read = Buffer.from(Array.from({ length: pipeline }, (_, i) => encodeRequestHead({ command: command!, args, sequence: String(i).padStart(width, "0"), size: -1 })).join(""));

type Side = { name: string; turn(): Promise<void>; answered(): number };

/** An engine of the checkout at `root`, with the built-in PING and ECHO, and its connections. */
async function side(name: string, root: string): Promise<Side> {
  const load = (path: string) => import(join(root, "src", path));
  const { resolveOptions } = await load("options.ts");
  const { CertificateValidator } = await load("certs/validator.ts");
  const { ConnectionEngine } = await load("server/connection-engine.ts");
  const { Dispatcher } = await load("server/dispatcher.ts");
  const { ServerHooks } = await load("server/hooks.ts");
  const { ServerMetrics } = await load("server/metrics.ts");
  const options = resolveOptions({ port: 0, tls, allow: ["0".repeat(64)] });
  // As src/app/builtin-commands.ts registers them.
  type Req = { bodyParts: readonly Uint8Array[]; args: readonly string[] };
  const handlers = new Map<string, (req: Req) => unknown>([
    ["PING", () => "PONG"],
    ["ECHO", (req) => (req.bodyParts.length > 0 ? req.bodyParts : req.args.join(" "))],
  ]);
  const metrics = new ServerMetrics();
  const fail = (error: unknown) => {
    throw error;
  };
  const dispatcher = new Dispatcher(handlers, { capacity: options.maxConnections, onError: fail });
  const engine = new ConnectionEngine(options, { dispatcher, replyBounds: new Map(), validator: new CertificateValidator(options.trust), hooks: new ServerHooks(), metrics });
  // Paused sockets deliver nothing until resumed, as Bun's.
  const paused = new Set<EngineSocket>();
  const sockets: EngineSocket[] = [];
  for (let i = 0; i < connections; i++) {
    const socket: EngineSocket = {
      data: -1,
      remoteAddress: "127.0.0.1",
      remotePort: 1,
      write: (data, _offset, length) => (typeof data === "string" ? data.length : (length ?? data.byteLength)),
      end: () => undefined,
      terminate: () => undefined,
      pause: () => void paused.add(socket),
      resume: () => void paused.delete(socket),
      timeout: () => undefined,
      getPeerCertificate: () => undefined,
      getCipher: () => ({ name: "none" }),
    };
    engine.openInMemory(socket, "bench");
    sockets.push(socket);
  }
  return {
    name,
    // A fresh buffer per read, as Bun hands them over; then the turn ends as the event loop's would.
    async turn() {
      for (const socket of sockets) if (!paused.has(socket)) engine.events.data(socket, new Uint8Array(read));
      await new Promise((done) => setImmediate(done));
    },
    answered: () => metrics.commandsServed,
  };
}

/** ns per request over about `perRound` requests. */
async function round(s: Side): Promise<number> {
  const before = s.answered();
  const started = Bun.nanoseconds();
  while (s.answered() - before < perRound) await s.turn();
  return (Bun.nanoseconds() - started) / (s.answered() - before);
}

const sides = [await side("A", join(import.meta.dir, ".."))];
if (values.against !== undefined) sides.push(await side("B", resolve(values.against)));
const samples = sides.map(() => [] as number[]);
for (let r = 0; r <= rounds; r++) {
  // A, B then B, A: neither side always runs right after the other's garbage.
  const order = r % 2 === 0 ? [...sides.keys()] : [...sides.keys()].reverse();
  for (const i of order) {
    const ns = await round(sides[i]!);
    if (r > 0) samples[i]!.push(ns); // round 0 warms the JIT up
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`${values.command}, ${pipeline} a read, ${connections} connections, ${rounds} rounds of ${perRound} requests; ns per request, median (min..max)`);
for (const [i, s] of sides.entries()) console.log(`  ${s.name}: ${median(samples[i]!).toFixed(0)} (${Math.min(...samples[i]!).toFixed(0)}..${Math.max(...samples[i]!).toFixed(0)})`);
if (sides.length === 2) console.log(`  A/B: ${(median(samples[0]!) / median(samples[1]!)).toFixed(3)} of medians, ${(Math.min(...samples[0]!) / Math.min(...samples[1]!)).toFixed(3)} of minima`);
process.exit(0);
