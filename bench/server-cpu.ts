// Server CPU per request, this checkout beside another one, side by side: a change to the hot
// path must not make the server spend more per request. Each `gnp serve` (this tree's and the
// --against tree's) runs in a child process of its own; this tree's `gnp bench` loads them in
// turn (A, B, A, B, ...), and each run's cost is the server's utime + stime from /proc/PID/stat
// over the run, divided by the requests it answered (or, for large bodies, by the MB echoed).
// Prints medians with min..max and the ratio A/B.
//
//   bun bench/server-cpu.ts --against /path/to/other/checkout              # 3 runs of 3 s per cell
//   bun bench/server-cpu.ts --against ../main --duration 5 --runs 5 --only "ECHO 1 MiB"
//   bun bench/server-cpu.ts --against ../main --profile "ECHO 50 x 16"     # plus a --cpu-prof of A
//   bun bench/server-cpu.ts --against ../main --floor --only "ECHO 50 x 1"  # plus bench/bare-echo.ts
//
// --floor adds a third server to each PING and ECHO cell, bench/bare-echo.ts: a bare Bun.listen
// answering the same requests with none of gnp's checks, the least this machine's Bun can cost.
//
// With taskset and 2+ CPUs the servers run on CPU 0 and the bench on CPU 1, as in bench/run.ts.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Subprocess } from "bun";
import type { BenchResult } from "../src/cli/bench.ts";
import { summarizeProfile } from "./cpu-profile.ts";
import { listeningPort, stopChild } from "./child-servers.ts";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    against: { type: "string" },
    duration: { type: "string", default: "3" },
    runs: { type: "string", default: "3" },
    only: { type: "string", multiple: true },
    profile: { type: "string" },
    "no-pin": { type: "boolean", default: false },
    floor: { type: "boolean", default: false },
  },
});
if (values.against === undefined) throw new TypeError("--against DIR is required: the checkout to compare with, e.g. a copy of main");
const duration = Number(values.duration);
const runs = Number(values.runs);
if (!(duration > 0 && duration <= 60) || !Number.isInteger(runs) || runs < 1 || runs > 20) throw new RangeError("--duration must be 0 to 60 s and --runs 1 to 20");
const canPin = !values["no-pin"] && cpus().length >= 2 && Bun.which("taskset") !== null;
const pin = (cpu: number, argv: string[]) => (canPin ? ["taskset", "-c", String(cpu), ...argv] : argv);

const MIB = 1024 * 1024;
/**
 * `per`: what one op is: a request, or (perMB) one MB (10^6 bytes) of body echoed, each byte
 * read once and written once. `serve`: flags of the servers for this scenario.
 */
type Scenario = { label: string; args: string[]; serve: string[]; bodyBytes?: number };
const allScenarios: Scenario[] = [
  { label: "PING 50 x 16", args: ["--conns", "50", "--pipeline", "16"], serve: [] },
  { label: "PING 50 x 1", args: ["--conns", "50", "--pipeline", "1"], serve: [] },
  { label: "ECHO 50 x 16", args: ["--conns", "50", "--pipeline", "16", "--command", "ECHO hello"], serve: [] },
  { label: "ECHO 50 x 1", args: ["--conns", "50", "--pipeline", "1", "--command", "ECHO hello"], serve: [] },
  { label: "ECHO 1 MiB", args: ["--conns", "4", "--pipeline", "2", "--command", "ECHO", "--body-size", String(MIB)], serve: [], bodyBytes: MIB },
  { label: "PUT memory", args: ["--conns", "50", "--pipeline", "16", "--command", "PUT k", "--body-size", "100"], serve: ["--store", "memory:"] },
];
const scenarios = values.only === undefined ? allScenarios : allScenarios.filter((s) => values.only!.includes(s.label));
if (scenarios.length === 0) throw new RangeError(`--only matched no scenario: expected one of ${allScenarios.map((s) => JSON.stringify(s.label)).join(", ")}`);

/** The bare server of --floor; it answers PING and ECHO only. */
const FLOOR = join(import.meta.dir, "bare-echo.ts");
const hasFloor = (scenario: Scenario) => values.floor && /^(PING|ECHO)/.test(scenario.label);

type Server = { name: string; cli: string; data: string; port: number; process: Subprocess };

/** utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function start(name: string, cli: string, serve: string[], runtime: string[] = []): Promise<Server> {
  const data = mkdtempSync(join(tmpdir(), "gnp-server-cpu-"));
  // Text logs: the banner's "listening on" line comes whether stdout is a terminal or not.
  const argv =
    cli === FLOOR
      ? [process.execPath, ...runtime, cli, "--data", data]
      : [process.execPath, ...runtime, cli, "serve", "--port", "0", "--data", data, "--log-format", "text", "--log-level", "warn", ...serve];
  const child = Bun.spawn(pin(0, argv), { stdout: "pipe", stderr: "inherit" });
  return { name, cli, data, port: await listeningPort(child.stdout, { name: `the ${name} server` }), process: child };
}

async function stop(server: Server): Promise<void> {
  await stopChild(server.process);
  rmSync(server.data, { recursive: true, force: true });
}

/** One bench run against `server`: requests answered and the server's CPU seconds meanwhile. */
async function run(server: Server, args: string[]): Promise<{ ok: number; perSecond: number; cpu: number }> {
  const argv = pin(1, [process.execPath, join(root, "src/cli.ts"), "bench", ...args, "--duration", String(duration), "--json", "--port", String(server.port), "--data", server.data]);
  const before = cpuSeconds(server.process.pid);
  const child = Bun.spawn(argv, { cwd: root, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const cpu = cpuSeconds(server.process.pid) - before;
  if (code !== 0 || out.trim() === "") throw new Error(`gnp bench against ${server.name} failed (exit ${code}): ${err.trim()}`);
  const result = JSON.parse(out) as BenchResult;
  if (result.errors > 0) throw new Error(`gnp bench against ${server.name} had ${result.errors} errors: ${JSON.stringify(result.errorReasons)}`);
  return { ok: result.ok, perSecond: result.perSecond, cpu };
}

/** "median (min..max)" of `numbers`, `digits` after the point. */
function cell(numbers: number[], digits: number): string {
  return `${median(numbers).toFixed(digits)} (${Math.min(...numbers).toFixed(digits)}..${Math.max(...numbers).toFixed(digits)})`;
}

const against = resolve(values.against);
console.log(`bun ${Bun.version}, ${cpus().length} x ${cpus()[0]?.model ?? "unknown CPU"}; ${canPin ? "servers on CPU 0, bench on CPU 1" : "not pinned"}`);
console.log(`A: ${root}\nB: ${against}\n${runs} runs of ${duration} s per cell, A and B alternating; medians (min..max)\n`);
const floorColumns = values.floor ? ["floor CPU".padEnd(22), "A/floor".padStart(7)] : [];
console.log(["scenario".padEnd(13), "unit".padEnd(9), "A server CPU".padEnd(22), "B server CPU".padEnd(22), "A/B".padStart(6), ...floorColumns, "  A ops/s".padEnd(12), "B ops/s"].join(" "));
for (const scenario of scenarios) {
  const servers: Server[] = [];
  try {
    servers.push(await start("A", join(root, "src/cli.ts"), scenario.serve));
    servers.push(await start("B", join(against, "src/cli.ts"), scenario.serve));
    if (hasFloor(scenario)) servers.push(await start("floor", FLOOR, scenario.serve));
    // A short warm-up of each, unmeasured: the JIT and the allocator settle before the clock runs.
    for (const server of servers) await run(server, scenario.args);
    const samples = new Map<string, { cost: number[]; rate: number[] }>(servers.map((s) => [s.name, { cost: [], rate: [] }]));
    for (let i = 0; i < runs; i++) {
      for (const server of servers) {
        const result = await run(server, scenario.args);
        // Per request in µs, or per MB of body echoed in ms.
        const cost = scenario.bodyBytes === undefined ? (result.cpu / result.ok) * 1e6 : (result.cpu / ((result.ok * scenario.bodyBytes) / 1e6)) * 1e3;
        samples.get(server.name)!.cost.push(cost);
        samples.get(server.name)!.rate.push(result.perSecond);
      }
    }
    const [a, b, floor] = servers.map((s) => samples.get(s.name)!);
    const unit = scenario.bodyBytes === undefined ? "µs/req" : "ms/MB";
    const rate = (x: { rate: number[] }) => Math.round(median(x.rate)).toLocaleString("en-US");
    const ratio = median(a!.cost) / median(b!.cost);
    const floorCells = !values.floor ? [] : floor === undefined ? ["-".padEnd(22), "-".padStart(7)] : [cell(floor.cost, 2).padEnd(22), (median(a!.cost) / median(floor.cost)).toFixed(2).padStart(7)];
    console.log([scenario.label.padEnd(13), unit.padEnd(9), cell(a!.cost, 2).padEnd(22), cell(b!.cost, 2).padEnd(22), ratio.toFixed(3).padStart(6), ...floorCells, `  ${rate(a!)}`.padEnd(12), rate(b!)].join(" "));
  } finally {
    for (const server of servers) await stop(server);
  }
}

if (values.profile !== undefined) {
  const scenario = allScenarios.find((s) => s.label === values.profile);
  if (scenario === undefined) throw new RangeError(`--profile ${JSON.stringify(values.profile)} is no scenario`);
  const profileDir = mkdtempSync(join(tmpdir(), "gnp-profile-"));
  const server = await start("A", join(root, "src/cli.ts"), scenario.serve, ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]);
  try {
    await run(server, scenario.args);
    await run(server, scenario.args);
  } finally {
    await stop(server);
  }
  console.log(`\nCPU profile of A during ${scenario.label} (${profileDir}):`);
  console.log(summarizeProfile(profileDir));
}
