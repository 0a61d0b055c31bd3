// What a PUT's OK promises, checked with the real program: kill -9 the server right after the
// OK, or in the middle of a flood of pipelined PUTs from many connections (from source and as
// the compiled executable, whose commit thread is a bundled entry point; and once past a WAL
// checkpoint), start it again on the same data directory, and every acknowledged value is
// there, with INFO's counters exact.
// Also: a store that cannot be opened stops the start with one line and a non-zero exit.

import { Database } from "bun:sqlite";
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { connect as connectClient, type GnpClient } from "../../src/client/index.ts";
import { CliProcess, cleanupCli, freshDir, runCli } from "../cli/cli-process.ts";
import { BINARY, ensureBinary } from "../support/binary.ts";
import { RawClient } from "../support/harness.ts";
import { GREETING, okReply, request } from "../support/wire.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
afterEach(cleanupCli);

function serve(dir: string, ...flags: string[]): CliProcess {
  return new CliProcess([process.execPath, CLI, "serve", "--port", "0", "--data", "data", ...flags], { cwd: dir });
}

async function client(dir: string, port: number): Promise<GnpClient> {
  const read = (name: string) => readFileSync(join(dir, "data", "pki", name), "utf8");
  return connectClient({ port, cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt"), timeout: 60_000 });
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

/** How a flood is shaped: its connections, their PUTs, each value, and when the kill comes. */
type Flood = {
  writers: number;
  putsPerWriter: number;
  value: (w: number, i: number) => string;
  killAfter: number;
  /** Looks at the data directory as the kill left it, before the restart. */
  afterKill?: (dataDir: string) => void;
};

/** 8 connections of 400 small PUTs each, killed once a quarter of them are acknowledged. */
const SMALL_FLOOD: Flood = { writers: 8, putsPerWriter: 400, value: (w, i) => `writer ${w} put ${i}: ${"v".repeat(i % 50)}`, killAfter: 800 };
const IN_FLIGHT = 16;

/**
 * Each connection keeps 16 PUTs of its own keys in flight (and every tenth PUT is also one of
 * a key they all share) until `killAfter` PUTs are acknowledged; then the server is killed
 * with SIGKILL, writes still in flight. After a restart every acknowledged key holds its
 * value, the shared key is at least at its highest acknowledged version, and INFO counts
 * exactly the documents on disk.
 */
async function floodKillRestart(start: (dir: string) => CliProcess, shape: Flood = SMALL_FLOOD): Promise<void> {
  const dir = freshDir();
  const first = start(dir);
  const port = await first.listeningPort();
  const writers = await Promise.all(Array.from({ length: shape.writers }, () => client(dir, port)));
  const acknowledged = new Map<string, string>();
  let sharedVersion = 0;
  let unanswered = 0;
  let killed = false;
  const { promise: atKill, resolve: onKill } = Promise.withResolvers<void>();
  const flood = writers.map(async (writer, w) => {
    let next = 0;
    // Bounded: each lane ends at putsPerWriter, at the kill, or at its first lost call.
    const lane = async () => {
      while (next < shape.putsPerWriter && !killed) {
        const i = next++;
        const key = `flood/${w}/${i}`;
        const value = shape.value(w, i);
        try {
          if (i % 10 === 0) {
            const reply = await writer.call("PUT", ["flood/shared"], { body: `${w}/${i}` });
            sharedVersion = Math.max(sharedVersion, Number(reply.header("Version")));
          }
          await writer.call("PUT", [key], { body: value });
          acknowledged.set(key, value);
          if (acknowledged.size >= shape.killAfter) onKill();
        } catch {
          unanswered++;
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  });
  await atKill;
  killed = true;
  first.kill("SIGKILL");
  await first.done;
  await Promise.all(flood);
  // The kill must have landed mid-flood, or this would be the single-writer test again.
  expect(unanswered).toBeGreaterThan(0);
  shape.afterKill?.(join(dir, "data"));

  const second = start(dir);
  await using reader = await client(dir, await second.listeningPort());
  const keys = [...acknowledged.keys()];
  const replies = await Promise.all(keys.map((key) => reader.call("GET", [key])));
  const wrong = keys.filter((key, i) => replies[i]!.text() !== acknowledged.get(key) || replies[i]!.header("Version") !== "1");
  expect(wrong).toEqual([]);
  expect(Number((await reader.call("GET", ["flood/shared"])).header("Version"))).toBeGreaterThanOrEqual(sharedVersion);
  const info = JSON.parse((await reader.call("INFO")).text()) as { store: { keys: number; bytes: number } };
  const db = new Database(join(dir, "data", "gnp.db"), { readonly: true });
  const onDisk = db.query<{ keys: number; bytes: number }, []>("SELECT count(*) AS keys, sum(length(value)) AS bytes FROM documents").get()!;
  db.close();
  expect(info.store).toMatchObject(onDisk);
  second.kill("SIGTERM");
  await second.done;
}

describe("kill -9 during a flood of pipelined PUTs from many connections", () => {
  beforeAll(async () => {
    await ensureBinary();
  }, 180_000);

  test("from source: every acknowledged write is there after a restart, and INFO counts what is on disk", async () => {
    await floodKillRestart((dir) => serve(dir));
  }, 60_000);

  test("the compiled executable: every acknowledged write is there after a restart, and INFO counts what is on disk", async () => {
    await floodKillRestart((dir) => new CliProcess([BINARY, "serve", "--port", "0", "--data", "data"], { cwd: dir }));
  }, 60_000);

  // The store checkpoints every 10,000 WAL pages (sqlite-writer.ts): values of about a page each,
  // and the kill after 14,000 of them, so that a checkpoint has copied pages back into gnp.db and
  // the WAL has started over, its old frames still behind the new, when the server dies.
  test("past a checkpoint: every acknowledged write is there after a restart from a WAL that started over", async () => {
    const pageSized = (w: number, i: number) => `writer ${w} put ${i}: `.padEnd(3000, String.fromCharCode(97 + ((w + i) % 26)));
    const atKill = { file: 0, wal: 0 };
    const afterKill = (data: string) => {
      atKill.file = statSync(join(data, "gnp.db")).size;
      atKill.wal = statSync(join(data, "gnp.db-wal")).size;
    };
    await floodKillRestart((dir) => serve(dir), { writers: 8, putsPerWriter: 2500, value: pageSized, killAfter: 14_000, afterKill });
    // Before its first checkpoint the file holds little more than the schema; everything is in the WAL.
    expect(atKill.file).toBeGreaterThan(8 * 1024 * 1024);
    // One value fills a page: a WAL that had never started over would hold 14,000 frames of 4,120 bytes.
    expect(atKill.wal).toBeLessThan(14_000 * 4120);
  }, 120_000);
});
