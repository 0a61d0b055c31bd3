// Durable writes side by side: gnp's default store (SQLite, synchronous=FULL: an OK means on
// disk) next to redis-server with `appendonly yes` and `appendfsync always` (the same promise)
// and `everysec`, and gnp's `?sync=normal`. Each run gets a fresh data directory; servers run
// on CPU 0, load generators on CPU 1. The flood is 50 connections x 16 in flight, 100-byte
// values (`gnp bench --command "PUT k"` / `redis-benchmark -t set -P 16`); meanwhile another
// client sends one PING at a time, and its p99 shows whether the flood blocks everyone else.
//
//   bun bench/durable.ts                        # 3 runs of 3 s per server, medians (min..max)
//   bun bench/durable.ts --duration 5 --only gnp --profile   # plus a CPU profile of one gnp run
//   bun bench/durable.ts --compare ../gnp-before            # adds the server of another checkout (repeatable)
//   bun bench/durable.ts --only full --compare ../a --compare ../b   # gnp's sync=full rows alone
//   bun bench/durable.ts --only gnp --stalls        # plus what the event loop did while it stalled
//   bun bench/durable.ts --only full --warmup 30    # steady state: after 1 s the JIT is still compiling
//   bun bench/durable.ts --keyspace 1000000         # each write to one of a million keys, so the table grows
//
// By default every write goes to one key (`PUT k`; redis-benchmark's SET without -r), the cheapest
// case for a store. --keyspace N spreads them over N random keys on both sides (`gnp bench
// --keyspace N --command "PUT key:__rand_int__"`, `redis-benchmark -r N`), so a B-tree grows.
//
// Server CPU per operation is utime+stime of the server process (all its threads) from
// /proc/PID/stat over the flood, divided by the operations it answered. Without redis-server
// (Debian: apt-get install -y redis-server redis-tools) only the gnp rows are measured.

import { connect as tcpConnect, type Socket } from "bun";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { BenchResult } from "../src/cli/bench.ts";
import { connect } from "../src/client/index.ts";
import { summarizeProfile } from "./cpu-profile.ts";
import { listeningPort, stopChild } from "./child-servers.ts";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    duration: { type: "string", default: "3" },
    /** Seconds of the same flood before each measured one, unmeasured: gnp's JIT warms up, Redis is calibrated. */
    warmup: { type: "string", default: "1" },
    runs: { type: "string", default: "3" },
    conns: { type: "string", default: "50" },
    pipeline: { type: "string", default: "16" },
    "body-size": { type: "string", default: "100" },
    /** Random keys over this many on both sides instead of one key. */
    keyspace: { type: "string" },
    only: { type: "string" },
    /** Other checkouts of gnp (e.g. the code before a change), run beside this one; may be given more than once. */
    compare: { type: "string", multiple: true },
    profile: { type: "boolean", default: false },
    /** One more flood per gnp server, with bench/loop-stalls.ts preloaded: its event loop's stalls. */
    stalls: { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const duration = Number(values.duration);
const warmup = Number(values.warmup);
const runs = Number(values.runs);
const [conns, pipeline, bodySize] = [Number(values.conns), Number(values.pipeline), Number(values["body-size"])];
if (!(duration >= 1) || !Number.isInteger(runs) || runs < 1) throw new RangeError("--duration must be at least 1 and --runs a whole number from 1");
const keyspace = values.keyspace === undefined ? undefined : Number(values.keyspace);
if (keyspace !== undefined && !(Number.isInteger(keyspace) && keyspace >= 1)) throw new RangeError("--keyspace must be a whole number from 1");
if (!(warmup >= 0)) throw new RangeError("--warmup must be 0 or more seconds");
const canPin = !values["no-pin"] && cpus().length >= 2 && Bun.which("taskset") !== null;
const pin = (cpu: number, argv: string[]) => (canPin ? ["taskset", "-c", String(cpu), ...argv] : argv);
// This process runs the pinger: on the load generators' CPU, away from the server.
if (canPin) Bun.spawnSync(["taskset", "-cp", "1", String(process.pid)], { stdout: "ignore" });
const redisServer = Bun.which("redis-server");
const redisBenchmark = Bun.which("redis-benchmark");
const TICKS_PER_SECOND = 100;

type Target = { name: string; kind: "gnp" | "redis"; args: string[]; root?: string };
type Outcome = {
  perSecond: number;
  p99: number;
  serverUsPerOp: number;
  /** gnp only: server CPU µs per op by thread: the event loop, the commit thread, the runtime's own (JIT, GC). */
  split?: { eventLoop: number; commitThread: number; runtime: number };
  clientCpu: number;
  pingP99: number;
  pings: number;
  errors: number;
};

const allTargets: Target[] = [
  { name: "gnp sqlite sync=full (default)", kind: "gnp", args: [] },
  ...(values.compare ?? []).map((tree) => ({ name: `gnp sqlite sync=full, ${tree}`, kind: "gnp" as const, args: [], root: tree })),
  { name: "redis appendfsync always", kind: "redis", args: ["--appendfsync", "always"] },
  { name: "gnp sqlite ?sync=normal", kind: "gnp", args: ["sync=normal"] },
  { name: "redis appendfsync everysec", kind: "redis", args: ["--appendfsync", "everysec"] },
];
// --only full: gnp's synchronous=FULL rows alone (this tree and the --compare ones).
const wanted = (target: Target) => values.only === undefined || target.kind === values.only || (values.only === "full" && target.kind === "gnp" && target.args.length === 0);
const targets = allTargets.filter((target) => wanted(target) && (target.kind === "gnp" || (redisServer && redisBenchmark)));

if (!redisServer || !redisBenchmark) {
  console.log("redis-server or redis-benchmark not found: measuring gnp only (Debian: apt-get install -y redis-server redis-tools)\n");
}
console.log(`bun ${Bun.version}, ${cpus().length} x ${cpus()[0]?.model ?? "unknown CPU"}; ${canPin ? "servers on CPU 0, clients on CPU 1" : "not pinned"}`);
console.log(`${runs} runs of ${duration} s per server (after ${warmup} s unmeasured): ${conns} connections x ${pipeline} in flight, ${bodySize}-byte values; ${keyspace === undefined ? "one key" : `random keys over ${keyspace.toLocaleString("en-US")}`}; medians (min..max)\n`);

const results = new Map<string, Outcome[]>(targets.map((target) => [target.name, []]));
const rateGuess = new Map<string, number>();
for (let run = 0; run < runs; run++) {
  for (const target of targets) results.get(target.name)!.push(target.kind === "gnp" ? await runGnp(target) : await runRedis(target));
}
if (values.json) console.log(JSON.stringify({ duration, runs, pinned: canPin, results: Object.fromEntries(results) }, null, 2));
else printTable();
if (values.profile) await profileGnp();
if (values.stalls) for (const target of targets) if (target.kind === "gnp") await stallsOf(target);

// ── gnp ─────────────────────────────────────────────────────────────────────────────────

type Started = { process: import("bun").Subprocess; port: number; dir: string };

async function startGnp(target: Target, prefix: string[] = [], env: Record<string, string> = {}): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), "gnp-durable-"));
  const query = target.args.length > 0 ? `?${target.args.join("&")}` : "";
  const argv = pin(0, [process.execPath, ...prefix, join(target.root ?? root, "src/cli.ts"), "serve", "--port", "0", "--data", dir, "--log-format", "text", "--log-level", "error", "--store", `sqlite://${join(dir, "gnp.db")}${query}`]);
  const child = Bun.spawn(argv, { cwd: dir, stdout: "pipe", stderr: "inherit", env: { ...process.env, ...env } });
  const port = await listeningPort(child.stdout, { name: "gnp serve" });
  return { process: child, port, dir };
}

async function runGnp(target: Target): Promise<Outcome> {
  const server = await startGnp(target);
  try {
    if (warmup > 0) await spawnGnpBench(server, floodArgs(warmup)).exited;
    const before = cpuSeconds(server.process.pid);
    const threadsBefore = threadCpu(server.process.pid);
    const flood = spawnGnpBench(server, floodArgs(duration));
    const pings = await pingDuring(flood.exited, () => gnpPinger(server));
    const result = JSON.parse(await new Response(flood.stdout).text()) as BenchResult;
    const cpu = cpuSeconds(server.process.pid) - before;
    const ops = result.ok + pings.count;
    const split = { eventLoop: 0, commitThread: 0, runtime: 0 };
    for (const [tid, thread] of threadCpu(server.process.pid)) {
      const used = ((thread.seconds - (threadsBefore.get(tid)?.seconds ?? 0)) * 1e6) / ops;
      if (tid === server.process.pid) split.eventLoop += used;
      else if (thread.name === "Worker") split.commitThread += used;
      else split.runtime += used;
    }
    return {
      perSecond: result.perSecond,
      p99: result.latencyMs.p99,
      serverUsPerOp: (cpu * 1e6) / ops,
      split,
      clientCpu: result.cpu.shareOfOneCore,
      pingP99: pings.p99,
      pings: pings.count,
      errors: result.errors,
    };
  } finally {
    await stop(server);
  }
}

function floodArgs(seconds: number): string[] {
  const keys = keyspace === undefined ? ["--command", "PUT k"] : ["--command", "PUT key:__rand_int__", "--keyspace", String(keyspace)];
  return [...keys, "--body-size", String(bodySize), "--conns", String(conns), "--pipeline", String(pipeline), "--duration", String(seconds)];
}

function spawnGnpBench(server: Started, args: string[]) {
  const argv = pin(1, [process.execPath, join(root, "src/cli.ts"), "bench", "--json", "--port", String(server.port), "--data", server.dir, ...args]);
  return Bun.spawn(argv, { cwd: server.dir, stdout: "pipe", stderr: "inherit" });
}

async function gnpPinger(server: Started): Promise<() => Promise<void>> {
  const pki = join(server.dir, "pki");
  const read = (name: string) => readFileSync(join(pki, name), "utf8");
  const client = await connect({ port: server.port, cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") });
  return async () => {
    await client.call("PING");
  };
}

// ── redis ───────────────────────────────────────────────────────────────────────────────

async function runRedis(target: Target): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), "redis-durable-"));
  const port = await freePort();
  const argv = pin(0, [redisServer!, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", ...target.args, "--daemonize", "no", "--logfile", ""]);
  const child = Bun.spawn(argv, { cwd: dir, stdout: "pipe", stderr: "inherit" });
  try {
    await listeningPort(child.stdout, { pattern: /(Ready to accept connections)/, name: "redis-server" });
    // redis-benchmark runs a number of requests, not a time: size it from a warm-up's rate.
    const calibrated = await calibrate(port, Math.max(warmup, 0.5) * (rateGuess.get(target.name) ?? 50_000));
    const requests = Math.round(calibrated * duration);
    const before = cpuSeconds(child.pid);
    const started = performance.now();
    const flood = Bun.spawn(pin(1, [redisBenchmark!, "-p", String(port), "-t", "set", "-c", String(conns), "-P", String(pipeline), "-d", String(bodySize), ...redisKeys(), "-n", String(requests), "--csv"]), {
      stdout: "pipe",
      stderr: "pipe",
    });
    const pings = await pingDuring(flood.exited, () => redisPinger(port));
    const seconds = (performance.now() - started) / 1000;
    const csv = parseCsv(await new Response(flood.stdout).text());
    const cpu = cpuSeconds(child.pid) - before;
    const usage = flood.resourceUsage();
    const clientSeconds = usage ? (Number(usage.cpuTime.user) + Number(usage.cpuTime.system)) / 1e6 : Number.NaN;
    rateGuess.set(target.name, csv.rps);
    return { perSecond: csv.rps, p99: csv.p99, serverUsPerOp: (cpu * 1e6) / (requests + pings.count), clientCpu: clientSeconds / seconds, pingP99: pings.p99, pings: pings.count, errors: 0 };
  } finally {
    child.kill("SIGTERM");
    await child.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** redis-benchmark's SET key is key:__rand_int__, random below -r N, or that very string without it. */
function redisKeys(): string[] {
  return keyspace === undefined ? [] : ["-r", String(keyspace)];
}

async function calibrate(port: number, requests: number): Promise<number> {
  const run = Bun.spawn(pin(1, [redisBenchmark!, "-p", String(port), "-t", "set", "-c", String(conns), "-P", String(pipeline), "-d", String(bodySize), ...redisKeys(), "-n", String(Math.round(requests)), "--csv"]), { stdout: "pipe" });
  return parseCsv(await new Response(run.stdout).text()).rps;
}

/** redis-benchmark --csv: a header line, then "SET","rps","avg","min","p50","p95","p99","max". */
function parseCsv(text: string): { rps: number; p99: number } {
  const line = text.trim().split("\n").find((row) => row.startsWith('"SET"'));
  if (line === undefined) throw new Error(`redis-benchmark printed no SET line: ${text.trim()}`);
  const cells = line.split(",").map((cell) => Number(cell.replaceAll('"', "")));
  return { rps: cells[1]!, p99: cells[6]! };
}

async function redisPinger(port: number): Promise<() => Promise<void>> {
  let waiting: (() => void) | undefined;
  let seen = "";
  const socket: Socket = await tcpConnect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_socket, chunk) {
        seen += chunk.toString();
        if (seen.endsWith("+PONG\r\n")) {
          seen = "";
          waiting?.();
        }
      },
    },
  });
  return () => {
    const { promise, resolve } = Promise.withResolvers<void>();
    waiting = resolve;
    socket.write("PING\r\n");
    return promise;
  };
}

// ── shared ──────────────────────────────────────────────────────────────────────────────

/** One PING at a time while `flood` runs, after a short warm-up; the p99 of their round trips. */
async function pingDuring(flood: Promise<unknown>, open: () => Promise<() => Promise<void>>): Promise<{ p99: number; count: number }> {
  let running = true;
  void flood.then(() => (running = false));
  await Bun.sleep(300);
  const ping = await open();
  const times: number[] = [];
  // Bounded by the flood, which ends after --duration (or its request count).
  while (running) {
    const started = performance.now();
    await ping();
    times.push(performance.now() - started);
  }
  await flood;
  times.sort((a, b) => a - b);
  return { p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] ?? Number.NaN, count: times.length };
}

/** CPU seconds of each live thread of `pid`, with its name (Bun names its worker threads "Worker"). */
function threadCpu(pid: number): Map<number, { name: string; seconds: number }> {
  const threads = new Map<number, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      threads.set(Number(tid), { name, seconds: cpuSeconds(pid, tid) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

function cpuSeconds(pid: number, tid?: string): number {
  const fields = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

async function stop(server: Started): Promise<void> {
  await stopChild(server.process, 10_000);
  rmSync(server.dir, { recursive: true, force: true });
}

function printTable(): void {
  const cell = (numbers: number[], digits: number) => {
    const sorted = [...numbers].sort((a, b) => a - b);
    const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
    return `${fmt(sorted[sorted.length >> 1]!)} (${fmt(sorted[0]!)}..${fmt(sorted.at(-1)!)})`;
  };
  console.log("| server | writes/s | p99 ms | server CPU µs/op | PING p99 ms (other client) | client CPU |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [name, outcomes] of results) {
    const pick = (f: (o: Outcome) => number, digits: number) => cell(outcomes.map(f), digits);
    console.log(`| ${name} | ${pick((o) => o.perSecond, 0)} | ${pick((o) => o.p99, 1)} | ${pick((o) => o.serverUsPerOp, 2)} | ${pick((o) => o.pingP99, 2)} | ${pick((o) => o.clientCpu * 100, 0)}% |`);
  }
  const gnp = results.get(targets[0]?.name ?? "");
  const redis = results.get("redis appendfsync always");
  if (gnp && redis && targets[0]?.kind === "gnp") {
    const ratios = gnp.map((o, i) => o.perSecond / redis[i]!.perSecond);
    console.log(`\ndurable writes/s, gnp / redis always, run by run: ${ratios.map((r) => r.toFixed(2)).join(", ")}`);
  }
  for (const [name, outcomes] of results) {
    const splits = outcomes.flatMap((o) => (o.split ? [o.split] : []));
    if (splits.length === 0) continue;
    const med = (f: (s: NonNullable<Outcome["split"]>) => number) => cell(splits.map(f), 2);
    console.log(`${name}: server CPU µs/op by thread: event loop ${med((s) => s.eventLoop)}, commit thread ${med((s) => s.commitThread)}, runtime (JIT, GC) ${med((s) => s.runtime)}`);
  }
  const errors = [...results.values()].flat().reduce((n, o) => n + o.errors, 0);
  if (errors > 0) console.log(`errors: ${errors}`);
}

/** One more gnp run with the server under --cpu-prof; prints where its time went. */
async function profileGnp(): Promise<void> {
  const profileDir = mkdtempSync(join(tmpdir(), "gnp-profile-"));
  const target = targets.find((t) => t.kind === "gnp") ?? { name: "gnp", kind: "gnp", args: [] };
  const server = await startGnp(target, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]);
  if (warmup > 0) await spawnGnpBench(server, floodArgs(warmup)).exited;
  await spawnGnpBench(server, floodArgs(duration)).exited;
  await stop(server);
  console.log(`\nCPU profile of the gnp server during one flood (${profileDir}):`);
  console.log(summarizeProfile(profileDir));
}

/**
 * One more flood of `target` with bench/loop-stalls.ts preloaded: how often and how long its
 * event loop stalled (a 1 ms timer more than 2 ms late), and what each stall held: a round's
 * results from the commit thread (whose replies follow in the same stretch), socket reads only
 * (the request path), or neither (the thread was not running: other threads and processes on
 * its core, or a collection).
 */
async function stallsOf(target: Target): Promise<void> {
  const out = join(mkdtempSync(join(tmpdir(), "gnp-stalls-")), "stalls.json");
  const server = await startGnp(target, ["--preload", join(import.meta.dir, "loop-stalls.ts")], { GNP_STALLS_OUT: out });
  if (warmup > 0) await spawnGnpBench(server, floodArgs(warmup)).exited;
  const started = performance.now();
  const flood = spawnGnpBench(server, floodArgs(duration));
  const pings = await pingDuring(flood.exited, () => gnpPinger(server));
  const floodMs = performance.now() - started;
  await stop(server);
  const trace = JSON.parse(readFileSync(out, "utf8")) as { stalls: number[]; reads: number[]; messages: number[] };
  const within = (times: number[], from: number, to: number) => times.filter((t) => t >= from && t <= to).length;
  // The flood's stalls: those after the warm-up's last read, when the measured flood began.
  const floodStart = (trace.reads.at(-1) ?? 0) - floodMs;
  const stalls: { ms: number; reads: number; rounds: number }[] = [];
  for (let i = 0; i + 1 < trace.stalls.length; i += 2) {
    const [from, to] = [trace.stalls[i]!, trace.stalls[i + 1]!];
    if (from >= floodStart) stalls.push({ ms: to - from, reads: within(trace.reads, from, to), rounds: within(trace.messages, from, to) });
  }
  const sum = (list: typeof stalls) => list.reduce((total, stall) => total + stall.ms, 0);
  const sorted = [...stalls].sort((a, b) => a.ms - b.ms);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]?.ms ?? 0;
  const share = (list: typeof stalls) => `${((sum(list) / Math.max(sum(stalls), 1e-9)) * 100).toFixed(0)}%`;
  console.log(`\n${target.name}: event-loop stalls over 2 ms during one ${duration} s flood (other client's PING p99 ${pings.p99.toFixed(2)} ms)`);
  console.log(`  ${stalls.length} stalls, ${sum(stalls).toFixed(0)} ms in all; median ${at(0.5).toFixed(1)} ms, 90th percentile ${at(0.9).toFixed(1)} ms, longest ${(sorted.at(-1)?.ms ?? 0).toFixed(1)} ms`);
  const [withRound, readsOnly] = [stalls.filter((s) => s.rounds > 0), stalls.filter((s) => s.rounds === 0 && s.reads > 0)];
  console.log(`  of the stalled time: ${share(withRound)} in stalls holding a round's results (and its replies), ${share(readsOnly)} holding socket reads only, ${share(stalls.filter((s) => s.reads + s.rounds === 0))} holding neither`);
  console.log(`  longest: ${sorted.slice(-5).reverse().map((s) => `${s.ms.toFixed(1)} ms (${s.reads} reads, ${s.rounds} rounds)`).join(", ")}`);
}
