// Side-by-side figures for the client library's transports against one `gnp serve` (memory
// store, child process): Bun's own socket and node:tls, both under Bun, and node:tls under
// Node.js (the built dist/client). Each phase runs in a fresh process (bench/client-workload.mjs);
// phases alternate between clients in every run, starting with a different one each time, so
// drift hits all; cells are medians of --runs, ratios are to the Bun socket, and the server's
// CPU per operation comes from /proc/PID/stat (utime+stime) around each phase. With taskset,
// the server runs on CPU 0 and the clients on CPU 1.
//
//   bun bench/client-transport.ts                        # 5 runs, short phases
//   bun bench/client-transport.ts --compare ../old       # and the client of another checkout
//   bun bench/client-transport.ts --no-pin               # no taskset (a machine busy with other work)
//
// `--compare DIR` adds DIR's client (its src/client/client.ts, under Bun) as a row of its own,
// and `bun DIR/src/cli.ts call PING` start to exit next to this checkout's.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildClient } from "../build-client.ts";
import { listeningPort } from "./child-servers.ts";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    runs: { type: "string", default: "5" },
    compare: { type: "string" },
    "cli-runs": { type: "string", default: "15" },
    "no-pin": { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const cliRuns = Number(values["cli-runs"]);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(cliRuns) || cliRuns < 1) throw new RangeError("--runs and --cli-runs must be whole numbers from 1");
const canPin = !values["no-pin"] && cpus().length >= 2 && Bun.which("taskset") !== null;
const pin = (cpu: number, argv: string[]) => (canPin ? ["taskset", "-c", String(cpu), ...argv] : argv);

type PhaseResult = { ops: number; seconds: number; clientCpuSeconds: number; samplesMs: number[] };
type Row = { transport: string; phase: string; perSecond: number; medianMs: number; serverUsPerOp: number; clientUsPerOp: number };
const PHASES = [
  { phase: "connect", count: 60 },
  { phase: "sequential", count: 4000 },
  { phase: "pipelined", count: 40_000 },
] as const;

const data = mkdtempSync(join(tmpdir(), "gnp-client-bench-"));
const server = await startServer();
try {
  const pem = { cert: readFileSync(join(data, "pki/client.crt"), "utf8"), key: readFileSync(join(data, "pki/client.key"), "utf8"), ca: readFileSync(join(data, "pki/ca.crt"), "utf8") };
  await buildClient();
  const transports: { name: string; runtime: string; client: string }[] = [
    { name: "bun socket (Bun)", runtime: process.execPath, client: "bun-socket" },
    { name: "node:tls (Bun)", runtime: process.execPath, client: "node-tls-in-bun" },
    { name: "node:tls (Node)", runtime: "node", client: "dist" },
    ...(values.compare === undefined ? [] : [{ name: "--compare (Bun)", runtime: process.execPath, client: `checkout:${resolve(values.compare)}` }]),
  ];
  console.log(`bun ${Bun.version}, node ${nodeVersion()}, ${cpus().length} x ${cpus()[0]?.model ?? "?"}; ${runs} runs, medians; ${canPin ? "server on CPU 0, clients on CPU 1" : "not pinned"}`);
  const rows: Row[] = [];
  for (let run = 0; run < runs; run++) {
    for (const { phase, count } of PHASES) {
      const order = transports.map((_, i) => transports[(i + run) % transports.length]!);
      for (const transport of order) {
        const before = serverCpuSeconds(server.pid);
        const result = await runWorkload(transport.runtime, { client: transport.client, phase, port: server.port, pem, count });
        const serverSeconds = serverCpuSeconds(server.pid) - before;
        rows.push({
          transport: transport.name,
          phase,
          perSecond: result.ops / result.seconds,
          medianMs: median(result.samplesMs.length > 0 ? result.samplesMs : [(result.seconds * 1000) / result.ops]),
          serverUsPerOp: (serverSeconds * 1e6) / result.ops,
          clientUsPerOp: (result.clientCpuSeconds * 1e6) / result.ops,
        });
      }
    }
  }
  printTable(rows, transports.map((t) => t.name));
  await cliStartToExit(server.port);
} finally {
  server.process.kill("SIGTERM");
  await server.process.exited;
  rmSync(data, { recursive: true, force: true });
}

async function runWorkload(runtime: string, config: object): Promise<PhaseResult> {
  const child = Bun.spawn(pin(1, [runtime, join(import.meta.dir, "client-workload.mjs"), JSON.stringify(config)]), { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`${runtime} client-workload.mjs exited ${code}: ${err.trim()}`);
  return JSON.parse(out) as PhaseResult;
}

/** `gnp call PING` start to exit, alternating this checkout with --compare, medians of wall time. */
async function cliStartToExit(port: number): Promise<void> {
  const roots = [["this checkout", root], ...(values.compare ? [["--compare", values.compare]] : [])] as const;
  const times = new Map<string, number[]>(roots.map(([label]) => [label, []]));
  for (let i = 0; i < cliRuns; i++) {
    for (const [label, dir] of roots) {
      const started = performance.now();
      const child = Bun.spawnSync(pin(1, [process.execPath, join(dir, "src/cli.ts"), "call", "PING", "--port", String(port), "--data", data]), { stdout: "pipe", stderr: "pipe" });
      const ms = performance.now() - started;
      if (child.exitCode !== 0 || child.stdout.toString() !== "PONG") throw new Error(`${label}: gnp call PING exited ${child.exitCode}: ${child.stderr.toString().trim()}`);
      times.get(label)!.push(ms);
    }
  }
  console.log(`\ngnp call PING, start to exit (bun DIR/src/cli.ts call PING), median of ${cliRuns}:`);
  for (const [label, dir] of roots) {
    const ms = times.get(label)!;
    console.log(`  ${label.padEnd(14)} ${median(ms).toFixed(1).padStart(7)} ms   (min ${Math.min(...ms).toFixed(1)}, max ${Math.max(...ms).toFixed(1)})  ${dir}`);
  }
}

function printTable(rows: Row[], names: string[]): void {
  console.log(`\n${"phase".padEnd(11)} ${"transport".padEnd(18)} ${"ops/s".padStart(9)} ${"median ms".padStart(10)} ${"ratio".padStart(6)} ${"server µs/op".padStart(13)} ${"client µs/op".padStart(13)}`);
  for (const { phase } of PHASES) {
    const base = median(rows.filter((r) => r.phase === phase && r.transport === names[0]).map((r) => r.perSecond));
    for (const name of names) {
      const mine = rows.filter((r) => r.phase === phase && r.transport === name);
      const rate = median(mine.map((r) => r.perSecond));
      console.log(
        [
          phase.padEnd(11),
          name.padEnd(18),
          Math.round(rate).toLocaleString("en-US").padStart(9),
          median(mine.map((r) => r.medianMs)).toFixed(3).padStart(10),
          (rate / base).toFixed(2).padStart(6),
          median(mine.map((r) => r.serverUsPerOp)).toFixed(1).padStart(13),
          median(mine.map((r) => r.clientUsPerOp)).toFixed(1).padStart(13),
        ].join(" "),
      );
    }
  }
  console.log("\nconnect: connect + PING + close per op (median ms per cycle); sequential: one awaited PING per op;");
  console.log("pipelined: rounds of 1,000 PINGs in flight (median ms per round). ratio: ops/s over the Bun socket's.");
}

async function startServer(): Promise<{ port: number; pid: number; process: import("bun").Subprocess }> {
  const child = Bun.spawn(pin(0, [process.execPath, join(root, "src/cli.ts"), "serve", "--port", "0", "--data", data, "--store", "memory:", "--log-format", "text"]), {
    cwd: root,
    stdout: "pipe",
    stderr: "inherit",
  });
  // taskset execs the server, so the child's pid is the server's own.
  return { port: await listeningPort(child.stdout, { name: "gnp serve" }), pid: child.pid, process: child };
}

/** utime + stime of a process, in seconds (fields 14 and 15 of /proc/PID/stat, in clock ticks). */
function serverCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function nodeVersion(): string {
  return Bun.spawnSync(["node", "--version"]).stdout.toString().trim() || "?";
}
