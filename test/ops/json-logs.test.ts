// `gnp serve --log-format json` writes JSON lines only on stdout, from the first run's
// certificates to the exit: what a person reads in text mode (the listening line, the connect
// hint, the shutdown notice) is there as events, or left out where an event already says it.
// A collector that parses every line of a container's log never meets a plain one.

import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { GREETING, okReply, request } from "../support/wire.ts";
import { CliProcess, cleanupCli, freshDir } from "../cli/cli-process.ts";
import { PipelineClient } from "./pipeline-client.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
afterEach(cleanupCli);

/** stdout split into lines; every one must be a JSON object, or the test fails naming it. */
function jsonLines(stdout: string): Record<string, unknown>[] {
  const lines = stdout.split("\n").filter((line) => line !== "");
  const plain = lines.filter((line) => {
    try {
      return typeof JSON.parse(line) !== "object";
    } catch {
      return true;
    }
  });
  expect(plain).toEqual([]);
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function pingWithLocalPki(cwd: string, port: number): Promise<void> {
  const read = (name: string) => readFileSync(join(cwd, "d", "pki", name), "utf8");
  await using client = await PipelineClient.connect(port, { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") });
  client.write(request("PING", "1"));
  await client.waitFor(okReply("1", "PONG"));
  expect(client.received).toBe(GREETING + okReply("1", "PONG"));
}

describe("gnp serve --log-format json", () => {
  test("a first run with handlers and an admin listener prints JSON lines only, start to exit", async () => {
    const cwd = freshDir();
    writeFileSync(join(cwd, "hello.ts"), `export default { HELLO: () => "hello" };\n`);
    const server = new CliProcess(
      [process.execPath, CLI, "serve", "--port", "0", "--data", "d", "--store", "memory:", "--handlers", "hello.ts", "--admin", "127.0.0.1:0", "--log-format", "json"],
      { cwd },
    );
    const port = await server.listeningPort();
    const admin = await server.adminUrl();
    await pingWithLocalPki(cwd, port);
    server.kill("SIGTERM");
    const run = await server.done;
    expect([run.exitCode, run.stderr]).toEqual([0, ""]);

    const lines = jsonLines(run.stdout);
    expect(lines.map((line) => line.event)).toEqual(["created certificates", "handlers loaded", "listening", "shutting down", "stopped"]);
    const pki = join(cwd, "d", "pki");
    expect(lines[0]).toMatchObject({ level: "info", dir: "d/pki", ca: join(pki, "ca.crt"), client_cert: join(pki, "client.crt"), client_key: join(pki, "client.key") });
    expect(lines[1]).toMatchObject({ file: "hello.ts", commands: "HELLO" });
    expect(lines[2]).toMatchObject({ address: `127.0.0.1:${port}`, admin });
    expect(lines[3]).toMatchObject({ cause: "SIGTERM" });
  });

  test("a supervisor with two workers prints JSON lines only, its own and its workers'", async () => {
    const cwd = freshDir();
    const server = new CliProcess(
      [process.execPath, CLI, "serve", "--workers", "2", "--port", "0", "--data", "d", "--store", "memory:", "--admin", "127.0.0.1:0", "--log-format", "json"],
      { cwd },
    );
    const port = await server.listeningPort();
    await server.adminUrl();
    await pingWithLocalPki(cwd, port);
    server.kill("SIGTERM");
    const run = await server.done;
    expect([run.exitCode, run.stderr]).toEqual([0, ""]);

    const events = jsonLines(run.stdout).filter((line) => line.worker === undefined).map((line) => line.event);
    expect(events).toContain("created certificates");
    expect(events.slice(events.indexOf("listening"))).toEqual(expect.arrayContaining(["listening", "shutting down", "stopped"]));
  });
});
