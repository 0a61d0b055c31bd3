// `gnp bench` against a real server on 127.0.0.1: the real program for what a user sees
// (summary, --json, exit codes), runBench in-process for the progress line, and the
// latency histogram on its own. Runs are bounded by --requests; no test asserts a timing.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Histogram } from "../../src/cli/bench-histogram.ts";
import { runBench, type BenchResult } from "../../src/cli/bench.ts";
import { startServer, type TestServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { cleanEnv, cleanupCli, freshDir, isOneLine, runCli } from "./cli-process.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
let server: TestServer;
let cwd: string;
const release = Promise.withResolvers<void>();
const bodySizes = new Set<number>();
const keysSeen: string[] = [];

beforeAll(async () => {
  const pki = await makeTestPki();
  server = await startServer({}, (s) => {
    s.command("PING", () => "PONG");
    s.command("SIZE", (req) => {
      bodySizes.add(req.body.length);
      return String(req.body.length);
    });
    s.command("KEY", (req) => {
      keysSeen.push(req.args.join(" "));
      return "ok";
    });
    s.command("HANG", () => release.promise.then(() => "late"));
  });
  cwd = freshDir("gnp-bench-");
  mkdirSync(join(cwd, ".gnp/pki"), { recursive: true });
  writeFileSync(join(cwd, ".gnp/pki/client.crt"), pki.good.certificatePem);
  writeFileSync(join(cwd, ".gnp/pki/client.key"), pki.good.privateKeyPem);
  writeFileSync(join(cwd, ".gnp/pki/ca.crt"), pki.ca.certificatePem);
});

afterAll(async () => {
  release.resolve();
  await server.close();
  await cleanupCli();
});

function bench(args: string[]) {
  return runCli([process.execPath, CLI, "bench", ...args], { cwd, env: cleanEnv({ GNP_PORT: String(server.port) }) });
}

async function benchJson(args: string[]): Promise<{ exitCode: number | null; result: BenchResult; stderr: string }> {
  const run = await bench([...args, "--json"]);
  return { exitCode: run.exitCode, result: JSON.parse(run.stdout) as BenchResult, stderr: run.stderr };
}

describe("gnp bench", () => {
  test("rr sends exactly --requests requests over every connection and pipeline slot", async () => {
    const { exitCode, result } = await benchJson(["--requests", "1000", "--conns", "3", "--pipeline", "8"]);
    expect(exitCode).toBe(0);
    expect([result.mode, result.ok, result.errors, result.greeted, result.conns, result.pipeline, result.command]).toEqual(["rr", 1000, 0, 3, 3, 8, "PING"]);
    const { p50, p90, p99, max } = result.latencyMs;
    expect(0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max).toBe(true);
    expect(result.cpu.userSeconds + result.cpu.systemSeconds).toBeGreaterThan(0);
  });

  test("--body-size sends a body of that many bytes with each request", async () => {
    const { exitCode, result } = await benchJson(["--requests", "50", "--command", "SIZE", "--body-size", "3000"]);
    expect([exitCode, result.ok, result.bodySize, [...bodySizes]]).toEqual([0, 50, 3000, [3000]]);
  });

  test("--keyspace puts a random 12-digit key below N where the command has __rand_int__, in every request", async () => {
    keysSeen.length = 0;
    const { exitCode, result } = await benchJson(["--requests", "600", "--conns", "2", "--pipeline", "16", "--command", "KEY user:__rand_int__ and __rand_int__", "--keyspace", "5"]);
    expect([exitCode, result.ok, result.errors, result.keyspace]).toEqual([0, 600, 0, 5]);
    expect(keysSeen.length).toBe(600);
    const shape = /^user:00000000000([0-4]) and 00000000000([0-4])$/;
    expect(keysSeen.filter((key) => !shape.test(key))).toEqual([]);
    // 600 draws from 5: every key comes up, and the two placeholders are drawn apart.
    expect(new Set(keysSeen.map((key) => key.slice(0, 17))).size).toBe(5);
    expect(keysSeen.some((key) => key.slice(16, 17) !== key.slice(-1))).toBe(true);
    // Without the flag the placeholder is sent as it is.
    keysSeen.length = 0;
    expect((await benchJson(["--requests", "3", "--command", "KEY k:__rand_int__"])).result.ok).toBe(3);
    expect(keysSeen).toEqual(["k:__rand_int__", "k:__rand_int__", "k:__rand_int__"]);
  });

  test("handshake mode connects, waits for the greeting and closes, --requests times", async () => {
    const { exitCode, result } = await benchJson(["--mode", "handshake", "--requests", "20", "--conns", "4"]);
    expect([exitCode, result.mode, result.ok, result.errors]).toEqual([0, "handshake", 20, 0]);
  });

  test("prints a human summary with throughput, latency percentiles and its own CPU", async () => {
    const run = await bench(["--requests", "200"]);
    expect(run.exitCode).toBe(0);
    // A "note" line follows when the bench itself was near a full core: on a busy machine it may.
    const labels = run.stdout.split("\n").map((line) => line.trim().split(/\s{2,}|:/)[0]).filter((label) => label !== "note");
    expect(labels).toEqual(["gnp bench rr", "done", "throughput", "latency", "bench CPU", ""]);
  });

  test("ERR replies are counted as errors with their message, and exit 1", async () => {
    const { exitCode, result } = await benchJson(["--requests", "30", "--command", "NOPE"]);
    expect([exitCode, result.ok, result.errors, result.errorReasons]).toEqual([1, 0, 30, { "ERR unknown command 'NOPE'": 30 }]);
  });

  test("a server that stops answering is abandoned after --timeout, with the reason", async () => {
    const { exitCode, result } = await benchJson(["--requests", "5", "--pipeline", "5", "--command", "HANG", "--timeout", "0.3"]);
    expect([exitCode, result.ok, result.errors, result.errorReasons]).toEqual([1, 0, 5, { "no progress for 0.3 s": 5 }]);
  });

  test("exits 2 with one line when no connection could be made", async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    const run = await bench(["--requests", "10", "--port", String(port)]);
    expect([run.exitCode, run.stdout, run.stderr]).toEqual([2, "", `gnp: bench: could not run against 127.0.0.1:${port}: could not connect: ECONNREFUSED\n`]);
  });

  test("a mistake in the flags is one line and exit 2", async () => {
    for (const args of [["--mode", "udp"], ["--conns", "0"], ["--pipeline", "1.5"], ["--duration", "0"], ["--command", ""], ["PING"], ["--keyspace", "10"], ["--command", "PUT k:__rand_int__", "--keyspace", "0"], ["--mode", "handshake", "--keyspace", "10"]]) {
      const run = await bench(args);
      expect([args.join(" "), run.exitCode, isOneLine(run.stderr)]).toEqual([args.join(" "), 2, true]);
    }
  });

  test("shows a live progress line on a terminal and clears it before the summary", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (s: string | Uint8Array) => void out.push(String(s)), stderr: (s: string) => void err.push(s), stderrIsTTY: true };
    const env = { GNP_PORT: String(server.port), GNP_DATA: join(cwd, ".gnp") };
    expect(await runBench(["--duration", "0.6", "--pipeline", "4"], io, { env })).toBe(0);
    expect(err.some((line) => /^\rrr \d+\.\d s {2}[\d,]+ ok {2}[\d,]+\/s {2}0 errors/.test(line))).toBe(true);
    expect(err.at(-1)).toBe("\r\x1b[2K");
    expect(out.join("")).toContain("throughput");
  });
});

describe("Histogram", () => {
  test("reports percentiles within 1/64 of the exact value across six orders of magnitude", () => {
    const h = new Histogram();
    const values: number[] = [];
    for (let i = 1; i <= 100_000; i++) {
      const v = Math.round(1.00013 ** i); // 1 µs .. about 450 ms, log-spaced
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const p of [0.5, 0.9, 0.99, 0.999]) {
      const exact = values[Math.ceil(p * values.length) - 1]!;
      expect(Math.abs(h.percentile(p) - exact) / exact).toBeLessThanOrEqual(1 / 64);
    }
    expect([h.count, h.min, h.max, h.percentile(1)]).toEqual([100_000, 1, values.at(-1)!, values.at(-1)!]);
  });

  test("is all zeros when empty, clamps odd values, merges, and rejects a bad percentile", () => {
    const empty = new Histogram();
    expect([empty.percentile(0.5), empty.max, empty.min, empty.mean]).toEqual([0, 0, 0, 0]);
    const a = new Histogram();
    a.record(-5);
    a.record(10);
    const b = new Histogram();
    b.record(1e12);
    a.merge(b);
    expect([a.count, a.min, a.max]).toEqual([3, 0, 2 ** 32 - 1]);
    expect(() => a.percentile(1.5)).toThrow(RangeError);
  });
});
