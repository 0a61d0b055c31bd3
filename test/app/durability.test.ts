// What a PUT's OK promises, checked with the real program: kill -9 the server right after the
// OK, start it again on the same data directory, and the value is there. Also: a store that
// cannot be opened stops the start with one line and a non-zero exit.

import { afterEach, expect, test } from "bun:test";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliProcess, cleanupCli, freshDir, runCli } from "../cli/cli-process.ts";
import { RawClient } from "../support/harness.ts";
import { GREETING, okReply, request } from "../support/wire.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
afterEach(cleanupCli);

function serve(dir: string, ...flags: string[]): CliProcess {
  return new CliProcess([process.execPath, CLI, "serve", "--port", "0", "--data", "data", ...flags], { cwd: dir });
}

async function connect(dir: string, port: number): Promise<RawClient> {
  const pki = join(dir, "data", "pki");
  const read = (name: string) => readFileSync(join(pki, name), "utf8");
  const peer = await RawClient.connect({ port, pem: { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") } });
  await peer.waitFor(GREETING);
  return peer;
}

test("a value whose PUT got OK survives kill -9 and a restart", async () => {
  const dir = freshDir();
  const first = serve(dir);
  const port = await first.listeningPort();
  const peer = await connect(dir, port);
  const values = Array.from({ length: 20 }, (_, i) => `value ${i} ${"x".repeat(i * 100)}`);
  peer.write(values.map((value, i) => request(`PUT durable/${i}`, String(i), value)).join(""));
  await peer.waitFor(okReply("19", "", [["Version", "1"]]));
  first.kill("SIGKILL");
  await first.done;

  const second = serve(dir);
  const port2 = await second.listeningPort();
  await using again = await connect(dir, port2);
  again.write(values.map((_, i) => request(`GET durable/${i}`, `g${i}`)).join(""));
  await again.waitFor(okReply("g19", values[19]!, [["Version", "1"]]));
  for (const [i, value] of values.entries()) expect(again.received).toContain(okReply(`g${i}`, value, [["Version", "1"]]));
});

test("a store file that is not a database stops the start with one line", async () => {
  const dir = freshDir();
  mkdirSync(join(dir, "data"), { recursive: true });
  writeFileSync(join(dir, "data", "gnp.db"), "garbage ".repeat(1000));
  const run = await runCli([process.execPath, CLI, "serve", "--port", "0", "--data", "data"], { cwd: dir });
  expect(run.exitCode).toBe(1);
  const lines = run.stderr.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatch(/^gnp: cannot open store sqlite:\/\/.*gnp\.db: /);
});
