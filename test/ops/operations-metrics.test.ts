// The metrics an operator alerts on, scraped from a real `gnp serve` after real traffic over
// TLS: CPU seconds, watches open, the store's keys and bytes (from its counters, the same
// numbers INFO gives), and the last configuration load with its outcome, which a refused
// reload turns to 0. Under --workers a shared SQLite store is counted once, not once per
// worker. `promtool check metrics` passes on the exposition wherever promtool is installed
// (.ci/run installs it; under CI its absence fails the test).

import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { baseToml, CLI, reloadCommand, serveCommand, writeServerFiles, writeToml } from "../config/fixture.ts";
import { CliProcess, cleanEnv, cleanupCli, freshDir, runCli } from "../cli/cli-process.ts";
import { makeTestPki } from "../support/pki.ts";
import { GREETING, okReply, request } from "../support/wire.ts";
import { parseExposition, valueOf } from "./exposition.ts";
import { PipelineClient } from "./pipeline-client.ts";

afterEach(cleanupCli);

const pki = await makeTestPki();
const PROMTOOL = Bun.which("promtool");

async function metricsText(admin: string): Promise<string> {
  const response = await fetch(`${admin}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

function promtool(text: string): { exitCode: number; output: string } {
  const run = Bun.spawnSync([PROMTOOL!, "check", "metrics"], { stdin: Buffer.from(text), stdout: "pipe", stderr: "pipe" });
  return { exitCode: run.exitCode, output: `${run.stdout}${run.stderr}` };
}

describe("the metrics of a running gnp serve", () => {
  test("CPU seconds, watches open, store keys and bytes from its counters, and the last reload's time and outcome", async () => {
    const cwd = freshDir();
    await writeServerFiles(cwd);
    writeToml(cwd, baseToml('admin = "127.0.0.1:0"'));
    const server = new CliProcess(serveCommand(), { cwd, env: cleanEnv() });
    const port = await server.listeningPort();
    const admin = await server.adminUrl();
    const started = Date.now();
    await using client = await PipelineClient.connect(port, { cert: pki.good.certificatePem, key: pki.good.privateKeyPem, ca: pki.ca.certificatePem });
    client.write(request("WATCH k/", "w") + request("PUT k/1", "1", "hello") + request("PUT k/2", "2", "wide world") + request("INFO", "3"));
    await client.waitFor((text) => text.includes('"keys":2'));
    const info = JSON.parse(client.received.slice(client.received.lastIndexOf("\r\n\r\n{") + 4)) as { watches: number; store: { keys: number; bytes: number } };

    const before = parseExposition(await metricsText(admin));
    expect({
      watches: valueOf(before, "gnp_watches_open"),
      keys: valueOf(before, "gnp_store_keys"),
      bytes: valueOf(before, "gnp_store_bytes"),
      reloadOk: valueOf(before, "gnp_config_last_reload_successful"),
    }).toEqual({ watches: info.watches, keys: info.store.keys, bytes: info.store.bytes, reloadOk: 1 });
    expect([info.watches, info.store.keys, info.store.bytes]).toEqual([1, 2, 15]);
    expect(valueOf(before, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(before.types.get("process_cpu_seconds_total")).toBe("counter");
    expect(valueOf(before, "gnp_config_last_reload_timestamp_seconds")).toBeLessThanOrEqual(Math.ceil(started / 1000));

    // A refused reload: the old configuration stays, and the metrics say the last load failed.
    writeToml(cwd, baseToml('admin = "127.0.0.1:0"', "max-conections = 5"));
    const asked = Math.floor(Date.now() / 1000);
    expect((await runCli(reloadCommand(), { cwd, env: cleanEnv() })).exitCode).toBe(1);
    const after = parseExposition(await metricsText(admin));
    expect(valueOf(after, "gnp_config_last_reload_successful")).toBe(0);
    expect(valueOf(after, "gnp_config_last_reload_timestamp_seconds")).toBeGreaterThanOrEqual(asked);
    expect(valueOf(after, "process_cpu_seconds_total")).toBeGreaterThanOrEqual(valueOf(before, "process_cpu_seconds_total"));
    expect(client.received.startsWith(GREETING)).toBe(true);
  });

  test("under --workers 2 a shared SQLite store is counted once; CPU adds up over the workers", async () => {
    const cwd = freshDir();
    const server = new CliProcess([process.execPath, CLI, "serve", "--workers", "2", "--port", "0", "--data", "d", "--admin", "127.0.0.1:0", "--log-format", "json"], { cwd, env: cleanEnv() });
    const port = await server.listeningPort();
    const admin = await server.adminUrl();
    const read = (name: string) => readFileSync(join(cwd, "d", "pki", name), "utf8");
    for (let i = 0; i < 3; i++) {
      await using client = await PipelineClient.connect(port, { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") });
      client.write(request(`PUT s/${i}`, "1", "xy"));
      await client.waitFor(okReply("1", "", [["Version", "1"]]));
    }
    const m = parseExposition(await metricsText(admin));
    expect([valueOf(m, "gnp_store_keys"), valueOf(m, "gnp_store_bytes"), valueOf(m, "gnp_workers"), valueOf(m, "gnp_config_last_reload_successful")]).toEqual([3, 6, 2, 1]);
    expect(valueOf(m, "process_cpu_seconds_total")).toBeGreaterThan(0);
  });
});

describe("promtool check metrics", () => {
  test("passes on a server's exposition with every family present", async () => {
    if (PROMTOOL === null) {
      if (process.env.CI === "true") throw new Error("promtool is not installed; .ci/run installs Debian's prometheus package");
      console.warn("promtool not installed: test/ops/operations-metrics.test.ts skips its check");
      return;
    }
    const cwd = freshDir();
    const server = new CliProcess([process.execPath, CLI, "serve", "--port", "0", "--data", "d", "--store", "memory:", "--admin", "127.0.0.1:0", "--log-format", "text"], { cwd, env: cleanEnv() });
    const port = await server.listeningPort();
    const admin = await server.adminUrl();
    const read = (name: string) => readFileSync(join(cwd, "d", "pki", name), "utf8");
    await using client = await PipelineClient.connect(port, { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") });
    client.write(request("PING", "1") + request("NOPE", "2") + request("PUT a", "3", "v"));
    await client.waitFor(okReply("3", "", [["Version", "1"]]));
    const checked = promtool(await metricsText(admin));
    expect(checked).toEqual({ exitCode: 0, output: "" });
  });
});
