// Side-by-side figures: the gnp server (`gnp serve`, in a child process) and the minimal
// Node.js tls server (bench/node-tls-server.mjs), both loaded by `gnp bench` in its own
// process, at conns 1/50 x pipeline 1/16 plus handshake mode. Each cell is the median of
// --runs runs (gnp and Node alternate, so drift hits both); ratios are gnp / Node.
//
//   bun run bench                                   # short: 2 s per run, 3 runs
//   bun bench/run.ts --duration 10 --runs 5         # longer, steadier
//   bun bench/run.ts --no-pin --only gnp --json     # no CPU pinning, gnp only, raw JSON
//
// With taskset and 2+ CPUs, servers are pinned to CPU 0 and the bench to CPU 1, so the bench
// never competes with the server it measures (its own CPU share is printed per row).

import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { BenchResult } from "../src/cli/bench.ts";
import { listeningPort, stopChild } from "./child-servers.ts";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    duration: { type: "string", default: "2" },
    runs: { type: "string", default: "3" },
    "handshake-conns": { type: "string", default: "16" },
    only: { type: "string" },
    "no-pin": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const duration = Number(values.duration);
const runs = Number(values.runs);
if (!(duration > 0) || !Number.isInteger(runs) || runs < 1) throw new RangeError("--duration must be above 0 and --runs a whole number from 1");
const canPin = !values["no-pin"] && cpus().length >= 2 && Bun.which("taskset") !== null;
const pin = (cpu: number, argv: string[]) => (canPin ? ["taskset", "-c", String(cpu), ...argv] : argv);

type Server = { name: "gnp" | "node"; port: number; process: import("bun").Subprocess };
type Scenario = { label: string; args: string[] };

const scenarios: Scenario[] = [
  ...[1, 50].flatMap((conns) =>
    [1, 16].map((pipeline) => ({ label: `rr c=${conns} p=${pipeline}`, args: ["--mode", "rr", "--conns", String(conns), "--pipeline", String(pipeline)] })),
  ),
  { label: `handshake c=${values["handshake-conns"]}`, args: ["--mode", "handshake", "--conns", String(values["handshake-conns"])] },
];

const data = mkdtempSync(join(tmpdir(), "gnp-bench-"));
const servers: Server[] = [];
try {
  // gnp first: its zero-config run creates DATA/pki, whose server certificate Node reuses.
  if (values.only !== "node") servers.push(await start("gnp", pin(0, [process.execPath, join(root, "src/cli.ts"), "serve", "--port", "0", "--data", data, "--log-format", "text"])));
  // Node only: gnp still runs once, briefly, to create the certificates both use.
  else await start("gnp", [process.execPath, join(root, "src/cli.ts"), "serve", "--port", "0", "--data", data, "--log-format", "text"]).then(stop);
  if (values.only !== "gnp") {
    servers.push(
      await start("node", pin(0, ["node", join(root, "bench/node-tls-server.mjs"), "--port", "0", "--cert", join(data, "pki/server.crt"), "--key", join(data, "pki/server.key")])),
    );
  }
  printHeader();
  const results: { scenario: string; server: string; result: BenchResult }[] = [];
  for (const scenario of scenarios) {
    for (let run = 0; run < runs; run++) {
      for (const server of servers) {
        const result = await bench(server, scenario);
        results.push({ scenario: scenario.label, server: server.name, result });
      }
    }
    if (!values.json) printRow(scenario.label, results.filter((r) => r.scenario === scenario.label));
  }
  if (values.json) console.log(JSON.stringify({ duration, runs, pinned: canPin, results }, null, 2));
  else {
    console.log("\nbench CPU: the bench process's own CPU, the highest of the row's runs, as a share of one core.");
    console.log("At 90% or more the bench, not the server, set the pace: read that row as a lower bound for both.");
  }
} finally {
  for (const server of servers) await stop(server);
  rmSync(data, { recursive: true, force: true });
}

async function start(name: Server["name"], argv: string[]): Promise<Server> {
  const child = Bun.spawn(argv, { cwd: root, stdout: "pipe", stderr: "inherit" });
  return { name, port: await listeningPort(child.stdout, { name: `the ${name} server` }), process: child };
}

async function stop(server: Server): Promise<void> {
  await stopChild(server.process);
}

async function bench(server: Server, scenario: Scenario): Promise<BenchResult> {
  const argv = pin(1, [process.execPath, join(root, "src/cli.ts"), "bench", ...scenario.args, "--duration", String(duration), "--json", "--port", String(server.port), "--data", data]);
  const child = Bun.spawn(argv, { cwd: root, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code === 2 || out.trim() === "") throw new Error(`gnp bench against ${server.name} failed (exit ${code}): ${err.trim()}`);
  return JSON.parse(out) as BenchResult;
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function printHeader(): void {
  if (values.json) return;
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  console.log(`bun ${Bun.version}, node ${nodeVersion()}, ${cpus().length} x ${cpu}`);
  console.log(`${runs} runs of ${duration} s per cell, medians; ${canPin ? "servers on CPU 0, bench on CPU 1 (taskset)" : "not pinned"}`);
  console.log(`each cell: bun src/cli.ts bench <scenario> --duration ${duration} --json --port PORT --data DATA\n`);
  console.log(
    ["scenario".padEnd(18), "gnp /s".padStart(10), "p50 ms".padStart(8), "p99 ms".padStart(8), "node /s".padStart(10), "p50 ms".padStart(8), "p99 ms".padStart(8), "gnp/node".padStart(9), "bench CPU".padStart(10), "errors".padStart(7)].join(" "),
  );
}

function printRow(label: string, rows: { server: string; result: BenchResult }[]): void {
  const stats = (name: string) => {
    const mine = rows.filter((r) => r.server === name).map((r) => r.result);
    if (mine.length === 0) return undefined;
    return {
      rate: median(mine.map((r) => r.perSecond)),
      p50: median(mine.map((r) => r.latencyMs.p50)),
      p99: median(mine.map((r) => r.latencyMs.p99)),
      cpu: Math.max(...mine.map((r) => r.cpu.shareOfOneCore)),
      errors: mine.reduce((n, r) => n + r.errors, 0),
    };
  };
  const gnp = stats("gnp");
  const node = stats("node");
  const cells = (s: ReturnType<typeof stats>) =>
    s === undefined ? ["-".padStart(10), "-".padStart(8), "-".padStart(8)] : [fmt(s.rate).padStart(10), s.p50.toFixed(3).padStart(8), s.p99.toFixed(3).padStart(8)];
  const ratio = gnp && node && node.rate > 0 ? (gnp.rate / node.rate).toFixed(2) : "-";
  const cpu = Math.max(gnp?.cpu ?? 0, node?.cpu ?? 0);
  const errors = (gnp?.errors ?? 0) + (node?.errors ?? 0);
  console.log([label.padEnd(18), ...cells(gnp), ...cells(node), ratio.padStart(9), `${Math.round(cpu * 100)}%`.padStart(10), String(errors).padStart(7)].join(" "));
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function nodeVersion(): string {
  const result = Bun.spawnSync(["node", "--version"]);
  return result.stdout.toString().trim() || "?";
}
