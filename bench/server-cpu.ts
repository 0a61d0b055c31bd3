// Server CPU per request, this checkout beside another one, side by side: a change to the hot
// path must not make the server spend more per request. Each `gnp serve` (this tree's and the
// --against tree's) runs in a child process of its own; this tree's `gnp bench` loads them in
// turn with PING (A, B, A, B, ...), and each run's cost is the server's utime + stime from
// /proc/PID/stat over the run, divided by the requests it answered. Prints medians and ratios.
//
//   bun bench/server-cpu.ts --against /path/to/other/checkout              # 3 runs of 3 s per cell
//   bun bench/server-cpu.ts --against ../main --duration 5 --runs 5
//
// With taskset and 2+ CPUs the servers run on CPU 0 and the bench on CPU 1, as in bench/run.ts.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Subprocess } from "bun";
import type { BenchResult } from "../src/cli/bench.ts";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    against: { type: "string" },
    duration: { type: "string", default: "3" },
    runs: { type: "string", default: "3" },
    "no-pin": { type: "boolean", default: false },
  },
});
if (values.against === undefined) throw new TypeError("--against DIR is required: the checkout to compare with, e.g. a copy of main");
const duration = Number(values.duration);
const runs = Number(values.runs);
if (!(duration > 0 && duration <= 60) || !Number.isInteger(runs) || runs < 1 || runs > 20) throw new RangeError("--duration must be 0 to 60 s and --runs 1 to 20");
const canPin = !values["no-pin"] && cpus().length >= 2 && Bun.which("taskset") !== null;
const pin = (cpu: number, argv: string[]) => (canPin ? ["taskset", "-c", String(cpu), ...argv] : argv);

type Server = { name: string; cli: string; data: string; port: number; process: Subprocess };
const scenarios = [
  { label: "PING 50 x 16", args: ["--conns", "50", "--pipeline", "16"] },
  { label: "PING 50 x 1", args: ["--conns", "50", "--pipeline", "1"] },
];

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

async function start(name: string, cli: string): Promise<Server> {
  const data = mkdtempSync(join(tmpdir(), "gnp-server-cpu-"));
  // Text logs: the banner's "listening on" line comes whether stdout is a terminal or not.
  const child = Bun.spawn(pin(0, [process.execPath, cli, "serve", "--port", "0", "--data", data, "--log-format", "text", "--log-level", "warn"]), { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let text = "";
  for (;;) {
    const match = /listening on (?:\[[^\]]+\]|[^\s:]+):(\d+)/.exec(text);
    if (match) {
      reader.releaseLock();
      void child.stdout.pipeTo(new WritableStream()).catch(() => {});
      return { name, cli, data, port: Number(match[1]), process: child };
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`${name} server exited before listening: ${text}`);
    text += new TextDecoder().decode(value);
  }
}

async function stop(server: Server): Promise<void> {
  server.process.kill("SIGTERM");
  const timer = setTimeout(() => server.process.kill("SIGKILL"), 5000);
  await server.process.exited;
  clearTimeout(timer);
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
  return { ok: result.ok, perSecond: result.perSecond, cpu };
}

const servers: Server[] = [];
try {
  servers.push(await start("this tree", join(root, "src/cli.ts")));
  servers.push(await start("--against", join(resolve(values.against), "src/cli.ts")));
  console.log(`bun ${Bun.version}, ${cpus().length} x ${cpus()[0]?.model ?? "unknown CPU"}; ${canPin ? "servers on CPU 0, bench on CPU 1" : "not pinned"}`);
  console.log(`A: ${root}\nB: ${resolve(values.against)}\n${runs} runs of ${duration} s per cell, A and B alternating; medians\n`);
  console.log(["scenario".padEnd(14), "A µs/req".padStart(9), "B µs/req".padStart(9), "A/B".padStart(6), "A req/s".padStart(10), "B req/s".padStart(10)].join(" "));
  for (const scenario of scenarios) {
    const samples = new Map<string, { us: number[]; rate: number[] }>(servers.map((s) => [s.name, { us: [], rate: [] }]));
    for (let i = 0; i < runs; i++) {
      for (const server of servers) {
        const result = await run(server, scenario.args);
        samples.get(server.name)!.us.push((result.cpu / result.ok) * 1e6);
        samples.get(server.name)!.rate.push(result.perSecond);
      }
    }
    const [a, b] = servers.map((s) => samples.get(s.name)!);
    const us = (x: { us: number[] }) => median(x.us);
    const rate = (x: { rate: number[] }) => Math.round(median(x.rate)).toLocaleString("en-US");
    console.log([scenario.label.padEnd(14), us(a!).toFixed(2).padStart(9), us(b!).toFixed(2).padStart(9), (us(a!) / us(b!)).toFixed(3).padStart(6), rate(a!).padStart(10), rate(b!).padStart(10)].join(" "));
    console.log(`${"".padEnd(14)} A runs ${a!.us.map((v) => v.toFixed(2)).join(" ")}; B runs ${b!.us.map((v) => v.toFixed(2)).join(" ")}`);
  }
} finally {
  for (const server of servers) await stop(server);
}
