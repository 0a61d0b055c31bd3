// `gnp serve --workers 2` as a user runs it: one port served by two processes, certificates
// created once by the supervisor, a worker killed with SIGKILL replaced while the port keeps
// answering, metrics added up across workers, SIGTERM draining all of them with exit 0.
// Waits are on the supervisor's JSON log events, never on time.

import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { GREETING, okReply, request } from "../support/wire.ts";
import { CliProcess, cleanupCli, freshDir, isOneLine, runCli } from "../cli/cli-process.ts";
import { scrape, valueOf } from "./exposition.ts";
import { PipelineClient } from "./pipeline-client.ts";
import { makeTestPki } from "../support/pki.ts";
import { client, writeServerPair, writeToml } from "../config/fixture.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
afterEach(cleanupCli);

type LogEvent = Record<string, unknown> & { event: string };

function events(stdout: string): LogEvent[] {
  return stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as LogEvent);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function ping(port: number, tls: { cert: string; key: string; ca: string }, sequence: string): Promise<string> {
  await using client = await PipelineClient.connect(port, tls);
  client.write(request("PING", sequence));
  await client.waitFor(okReply(sequence, "PONG"));
  return client.received;
}

describe("gnp serve --workers 2", () => {
  test("two workers share one port; a worker killed with SIGKILL is replaced while the port answers; SIGTERM exits 0", async () => {
    const cwd = freshDir();
    const server = new CliProcess(
      [process.execPath, CLI, "serve", "--workers", "2", "--port", "0", "--data", "d", "--store", "memory:", "--admin", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"],
      { cwd },
    );
    const port = await server.listeningPort();
    const admin = await server.adminUrl();
    expect(events(server.stdout).filter((e) => e.event === "created certificates").length).toBe(1);
    const started = events(server.stdout).filter((e) => e.event === "worker listening");
    expect(started.map((e) => [e.slot, e.port])).toEqual([
      [1, port],
      [2, port],
    ]);
    const pids = started.map((e) => e.pid as number);

    const read = (name: string) => readFileSync(join(cwd, "d", "pki", name), "utf8");
    const tls = { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") };
    // The kernel spreads connections by hash: keep connecting until both workers have served one.
    const served = new Set<unknown>();
    for (let i = 0; i < 64 && served.size < 2; i++) {
      expect(await ping(port, tls, `a${i}`)).toBe(GREETING + okReply(`a${i}`, "PONG"));
      for (const e of events(server.stdout)) if (e.event === "open") served.add(e.worker);
    }
    expect([...served].sort()).toEqual([1, 2]);

    process.kill(pids[0]!, "SIGKILL");
    await server.waitForStdout(new RegExp(`"event":"worker exited unexpectedly"[^\\n]*"pid":${pids[0]}`));
    expect(await ping(port, tls, "after-kill")).toBe(GREETING + okReply("after-kill", "PONG"));
    const restarted = await server.waitForStdout(/"event":"worker restarted","slot":1,"pid":(\d+)/);
    const replacement = Number(restarted[1]);
    expect(replacement).not.toBe(pids[0]);
    expect(isAlive(replacement)).toBe(true);

    const m = await scrape(admin);
    expect([valueOf(m, "gnp_workers"), valueOf(m, "gnp_worker_restarts_total"), valueOf(m, "gnp_slab_slots"), valueOf(m, "gnp_ready")]).toEqual([2, 1, 20_000, 1]);

    server.kill("SIGTERM");
    const run = await server.done;
    expect(run.exitCode).toBe(0);
    expect([replacement, pids[1]!].map(isAlive)).toEqual([false, false]);
    const exits = events(run.stdout).filter((e) => e.event === "worker exited" && e.worker === undefined);
    expect(exits.map((e) => e.code).sort()).toEqual([0, 0]);
    expect(run.stderr).toBe("");
  });

  test("gnp reload replaces the workers one at a time; the port answers throughout", async () => {
    const cwd = freshDir();
    const server = new CliProcess([process.execPath, CLI, "serve", "--workers", "2", "--port", "0", "--data", "d", "--store", "memory:", "--log-format", "json"], { cwd });
    const port = await server.listeningPort();
    const before = events(server.stdout).filter((e) => e.event === "worker listening").map((e) => e.pid as number);
    const read = (name: string) => readFileSync(join(cwd, "d", "pki", name), "utf8");
    const tls = { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") };
    await using client = await PipelineClient.connect(port, tls);
    await client.waitFor(GREETING);

    const reload = await runCli([process.execPath, CLI, "reload", "--data", "d"], { cwd });
    expect([reload.exitCode, reload.stderr]).toEqual([0, ""]);
    expect(reload.stdout).toContain("rolling restart: 2 workers replaced");
    // Logged after the replacements' own lines, so those have arrived once this one has.
    await server.waitForStdout(/"event":"reloaded"/);
    const after = events(server.stdout).filter((e) => e.event === "worker listening").map((e) => e.pid as number).slice(2);
    expect(after.length).toBe(2);
    expect(after.some((pid) => before.includes(pid))).toBe(false);
    expect(before.map(isAlive)).toEqual([false, false]);
    // A connection to a replaced worker was drained with the shutdown line; new ones are served.
    expect(await client.untilClosed()).toBe(GREETING + "ERR: server is shutting down\r\n");
    expect(await ping(port, tls, "after-reload")).toBe(GREETING + okReply("after-reload", "PONG"));
    server.kill("SIGTERM");
    expect((await server.done).exitCode).toBe(0);
  });

  test("metrics from the admin listener add up every worker's commands", async () => {
    const cwd = freshDir();
    const server = new CliProcess(
      [process.execPath, CLI, "serve", "--workers", "2", "--port", "0", "--data", "d", "--store", "memory:", "--admin", "127.0.0.1:0", "--max-connections", "100"],
      { cwd },
    );
    const port = await server.listeningPort();
    const admin = await server.adminUrl();
    const read = (name: string) => readFileSync(join(cwd, "d", "pki", name), "utf8");
    const tls = { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") };
    for (let i = 0; i < 12; i++) await ping(port, tls, String(i));
    const m = await scrape(admin);
    expect({
      ping: valueOf(m, "gnp_commands_total", { command: "PING", status: "ok" }),
      accepted: valueOf(m, "gnp_connections_accepted_total"),
      slots: valueOf(m, "gnp_slab_slots"),
      workers: valueOf(m, "gnp_workers"),
    }).toEqual({ ping: 12, accepted: 12, slots: 200, workers: 2 });
    server.kill("SIGTERM");
    expect((await server.done).exitCode).toBe(0);
  });

  test("SIGTERM sent the moment the listening line appears drains every worker with exit 0", async () => {
    const cwd = freshDir();
    const exits: (number | null)[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = new CliProcess([process.execPath, CLI, "serve", "--workers", "2", "--port", "0", "--data", "d", "--store", "memory:"], { cwd });
      await server.listeningPort();
      server.kill("SIGTERM");
      exits.push((await server.done).exitCode);
    }
    expect(exits).toEqual([0, 0, 0]);
  });

  test("a worker that cannot start ends the supervisor with the worker's one-line error and exit code", async () => {
    using taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const run = await runCli([process.execPath, CLI, "serve", "--workers", "2", "--port", String(taken.port), "--data", "d", "--store", "memory:"], { cwd: freshDir() });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain("address already in use");
    expect(isOneLine(run.stderr)).toBe(true);
  });

  test("a client admitted only by its [[clients]] thumbprint is admitted under workers too", async () => {
    // The supervisor checks the configuration as a worker does: with the [[clients]]
    // thumbprints in the allow-list, there is a client to admit though there is no --ca or --allow.
    const cwd = freshDir();
    const pki = await makeTestPki();
    writeServerPair(cwd, pki.server);
    writeToml(cwd, ['port = 0', 'cert = "server.pem"', 'key = "server-key.pem"', 'store = "memory:"', client("alice", { thumbprint: pki.good.sha1 }, ["PING"])].join("\n"));
    const server = new CliProcess([process.execPath, CLI, "serve", "--workers", "2"], { cwd });
    const port = await server.listeningPort();
    expect(await ping(port, { cert: pki.good.certificatePem, key: pki.good.privateKeyPem, ca: pki.ca.certificatePem }, "1")).toBe(GREETING + okReply("1", "PONG"));
    server.kill("SIGTERM");
    expect((await server.done).exitCode).toBe(0);
  });

  test.each([["0"], ["many"], ["1.5"]])("--workers %p is one line on stderr and exit 2", async (value) => {
    const run = await runCli([process.execPath, CLI, "serve", "--workers", value], { cwd: freshDir() });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toStartWith(`gnp: invalid --workers "${value}"`);
    expect(isOneLine(run.stderr)).toBe(true);
  });
});
