// The SQLite store's commit path over real TLS: writes from many connections share a few
// transactions instead of one each, the event loop answers PING and reads while a commit
// waits for the disk, a client reads its own pipelined write, a full disk is STORE_FAILED
// (not a hang) and leaves the counters exact, and INFO's counters are right after a reopen.

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/index.ts";
import { installApp } from "../../src/app/install-app.ts";
import { connect } from "../../src/client/index.ts";
import { connectAdmitted, startServer, type RawClient } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { errReply, GREETING, okReply, reply, request } from "../support/wire.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "gnp-commit-"));
  dirs.push(dir);
  return dir;
}
process.on("exit", () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function sqliteServer(path: string) {
  const store = new SqliteStore(path);
  const server = await startServer({});
  await installApp(server, store);
  return Object.assign(server, {
    store,
    async [Symbol.asyncDispose]() {
      await server.close();
      await store.close();
    },
  });
}

/** The reply with this Sequence once all of it has arrived (status and body), else undefined. */
function replyTo(received: string, sequence: string): { status: string; body: string } | undefined {
  const match = new RegExp(`(OK|ERR)\\r\\nSequence: ${sequence}\\r\\nSize: (\\d+)\\r\\n(?:[^\\r]+\\r\\n)*\\r\\n`).exec(received);
  if (!match) return undefined;
  const start = match.index + match[0].length;
  const size = Number(match[2]);
  return received.length < start + size ? undefined : { status: match[1]!, body: received.slice(start, start + size) };
}

async function replyOf(client: RawClient, sequence: string): Promise<{ status: string; body: string }> {
  await client.waitFor((text) => replyTo(text, sequence) !== undefined);
  return replyTo(client.received, sequence)!;
}

async function storeInfo(client: RawClient, sequence: string): Promise<Record<string, unknown>> {
  return (JSON.parse((await replyOf(client, sequence)).body) as { store: Record<string, unknown> }).store;
}

/**
 * Transactions committed to the WAL file: frames whose header carries the database size
 * after a commit (non-zero only on a transaction's last frame), counting only frames of the
 * WAL's current generation (their salts match the header's; older ones are leftovers).
 */
function walCommits(path: string): number {
  const wal = readFileSync(`${path}-wal`);
  if (wal.byteLength < 32) return 0;
  const pageSize = wal.readUInt32BE(8);
  const [salt1, salt2] = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  let commits = 0;
  for (let at = 32; at + 24 + pageSize <= wal.byteLength; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    if (wal.readUInt32BE(at + 4) !== 0) commits++;
  }
  return commits;
}

describe("sqlite commit path", () => {
  test("PUTs from 20 connections that arrive while a commit is on disk share one transaction, not one per connection", async () => {
    const path = join(tempDir(), "gnp.db");
    await using server = await sqliteServer(path);
    const clients: RawClient[] = [];
    for (let c = 0; c < 20; c++) clients.push(await connectAdmitted(server.port));
    // The first round waits for the disk (here another connection's write lock, as a slow
    // fsync would make it wait); every PUT read meanwhile, from any connection, joins the next
    // round. A PING behind each connection's PUTs says they were read: with the timing of the
    // reads out of the test's hands, only this makes the count of rounds certain.
    clients[0]!.write(request("PUT g/first", "f"));
    const blocker = new Database(path);
    blocker.run("BEGIN IMMEDIATE");
    const before = walCommits(path);
    for (const [c, client] of clients.entries()) client.write(Array.from({ length: 10 }, (_, i) => request(`PUT g/${c}/${i}`, `p${i}`, `v${c}.${i}`)).join("") + request("PING", "read"));
    for (const client of clients) await client.waitFor(okReply("read", "PONG"));
    blocker.run("COMMIT");
    blocker.close();
    for (const client of clients) await client.waitFor(okReply("p9", "", [["Version", "1"]]));
    // At most the round that held g/first (if it had not committed before the lock was taken) and one for all 200 PUTs.
    expect(walCommits(path) - before).toBeLessThanOrEqual(2);
    for (const client of clients) await client[Symbol.asyncDispose]();
    const info = await server.store.info();
    expect(info).toMatchObject({ keys: 201 });
  });

  test("PING and GET are answered while a commit waits for the disk's lock, and the PUT's OK follows once it is free", async () => {
    const path = join(tempDir(), "gnp.db");
    await using server = await sqliteServer(path);
    await using writer = await connectAdmitted(server.port);
    await using other = await connectAdmitted(server.port);
    writer.write(request("PUT held/1", "w0", "before") + request("PUT free/1", "w1", "free"));
    await writer.waitFor(okReply("w1", "", [["Version", "1"]]));
    // Another writer (here this test's own connection; in production a sibling process under
    // --workers) holds the write lock: the next commit waits for it, in the commit thread.
    const blocker = new Database(path);
    blocker.run("BEGIN IMMEDIATE");
    writer.write(request("PUT held/1", "w2", "after") + request("PING", "w3"));
    other.write(request("PING", "o1") + request("GET free/1", "o2"));
    await writer.waitFor(okReply("w3", "PONG"));
    await other.waitFor(okReply("o2", "free", [["Version", "1"]]));
    expect(other.received).toBe(GREETING + okReply("o1", "PONG") + okReply("o2", "free", [["Version", "1"]]));
    expect(writer.received).toBe(GREETING + okReply("w0", "", [["Version", "1"]]) + okReply("w1", "", [["Version", "1"]]) + okReply("w3", "PONG"));
    blocker.run("COMMIT");
    blocker.close();
    await writer.waitFor(okReply("w2", "", [["Version", "2"]]));
  });

  test("a client that pipelines PUT k then GET k reads its own write; a GET sent before the PUT reads the old value", async () => {
    await using server = await sqliteServer(join(tempDir(), "gnp.db"));
    await using client = await connectAdmitted(server.port);
    client.write(request("PUT own", "1", "one") + request("GET own", "2") + request("PUT own", "3", "two") + request("GET own", "4") + request("KEYS o", "5"));
    for (const sequence of ["1", "2", "3", "4", "5"]) await replyOf(client, sequence);
    expect(client.received).toContain(okReply("2", "one", [["Version", "1"]]));
    expect(client.received).toContain(okReply("4", "two", [["Version", "2"]]));
    expect(client.received).toContain(okReply("5", "own", [["Count", "1"], ["More", "false"]]));
  });

  test("pipelined PUTs of one key in one round answer their versions in order, a failed If-Match among them is an ERR, and a watcher on the same connection gets each change before its OK", async () => {
    await using server = await sqliteServer(join(tempDir(), "gnp.db"));
    await using client = await connectAdmitted(server.port);
    client.write(request("WATCH w/", "w"));
    await client.waitFor(okReply("w"));
    client.write(request("PUT w/k", "1", "a") + request("PUT w/k", "2", "b", [["If-Match", "7"]]) + request("PUT w/k", "3", "c", [["If-Match", "1"]]) + request("PUT w/k", "4", "d"));
    await client.waitFor(okReply("4", "", [["Version", "3"]]));
    const push = (version: string, body: string) => reply("PUSH", "w", body, [["Key", "w/k"], ["Op", "PUT"], ["Version", version]]);
    expect(client.received).toBe(
      GREETING +
        okReply("w") +
        push("1", "a") +
        okReply("1", "", [["Version", "1"]]) +
        errReply("2", "conflict on w/k: If-Match 7 but its version is 1") +
        push("2", "c") +
        okReply("3", "", [["Version", "2"]]) +
        push("3", "d") +
        okReply("4", "", [["Version", "3"]]),
    );
  });

  test("KEYS kp/ over TLS lists every key under it, kp/U+10FFFF and kp/U+10FFFFz included", async () => {
    await using server = await sqliteServer(join(tempDir(), "gnp.db"));
    const pki = await makeTestPki();
    await using client = await connect({ port: server.port, cert: pki.good.certificatePem, key: pki.good.privateKeyPem, ca: pki.ca.certificatePem });
    const keys = ["kp/", "kp/a", "kp/\u{FFFF}", "kp/\u{10FFFF}", "kp/\u{10FFFF}z", "kp0", "kp."];
    await Promise.all(keys.map((key) => client.call("PUT", [key], { body: "x" })));
    const listed = await client.call("KEYS", ["kp/"]);
    expect(listed.text().split("\n")).toEqual(["kp/", "kp/a", "kp/\u{FFFF}", "kp/\u{10FFFF}", "kp/\u{10FFFF}z"]);
    expect(listed.header("Count")).toBe("5");
  });

  test("INFO's counts are exact after a reopen, and a database written before counters existed gets them at open", async () => {
    const dir = tempDir();
    const path = join(dir, "gnp.db");
    // A file as an older gnp left it: documents, no counters.
    const old = new Database(path, { create: true });
    old.run("CREATE TABLE documents (key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID");
    for (let i = 0; i < 50; i++) old.run("INSERT INTO documents VALUES (?, ?, 1)", [`old/${i}`, new Uint8Array(i)]);
    old.close();
    {
      await using server = await sqliteServer(path);
      await using client = await connectAdmitted(server.port);
      client.write(request("PUT old/0", "1", "abc") + request("DEL old/1", "2") + request("PUT new/1", "3", "xyz") + request("INFO", "4"));
      // 50 old keys (sizes 0..49: 1225 bytes), old/0 now 3 bytes, old/1 (1 byte) gone, new/1 (3 bytes).
      expect(await storeInfo(client, "4")).toMatchObject({ kind: "sqlite", keys: 50, bytes: 1225 + 3 - 1 + 3 });
    }
    await using again = await sqliteServer(path);
    await using client = await connectAdmitted(again.port);
    client.write(request("INFO", "i"));
    expect(await storeInfo(client, "i")).toMatchObject({ keys: 50, bytes: 1230 });
  });
});

/** A tmpfs of `bytes` at a fresh directory, or undefined when this process may not mount (not root). */
function smallDisk(bytes: number): { dir: string; [Symbol.dispose](): void } | undefined {
  const dir = tempDir();
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { stderr: "pipe" });
  if (mounted.exitCode !== 0) {
    if (process.env.CI) throw new Error(`cannot mount a tmpfs for the full-disk test: ${mounted.stderr.toString().trim()}`);
    return undefined;
  }
  return { dir, [Symbol.dispose]: () => void Bun.spawnSync(["umount", "-l", dir]) };
}

const canMount = process.getuid?.() === 0 && Bun.which("mount") !== null;
if (!canMount && !process.env.CI) console.warn("skipping the full-disk test: it mounts a small tmpfs, which needs root");

describe.skipIf(!canMount && !process.env.CI)("sqlite store on a full disk", () => {
  test("a write that does not fit is STORE_FAILED at once, the server goes on, and INFO counts only what committed", async () => {
    using disk = smallDisk(512 * 1024)!;
    mkdirSync(join(disk.dir, "db"));
    await using server = await sqliteServer(join(disk.dir, "db", "gnp.db"));
    await using client = await connectAdmitted(server.port);
    const chunk = "x".repeat(64 * 1024);
    // Bounded: 16 x 64 KiB is twice the disk; one at a time, so each PUT is a round of its own.
    let ok = 0;
    let failure: { status: string; body: string } | undefined;
    for (let i = 0; i < 16 && failure === undefined; i++) {
      client.write(request(`PUT big/${i}`, `p${i}`, chunk));
      const answer = await replyOf(client, `p${i}`);
      if (answer.status === "OK") ok++;
      else failure = answer;
    }
    expect(ok).toBeGreaterThan(0);
    expect(failure?.body).toMatch(/^store write failed: .*(full|disk|I\/O)/i);
    // The next write is answered too (it may fit where the failed one was rolled back), and
    // reads, PING and INFO go on; INFO counts exactly the PUTs that got OK.
    client.write(request("PUT big/again", "again", chunk));
    if ((await replyOf(client, "again")).status === "OK") ok++;
    client.write(request("PING", "ping") + request("GET big/0", "get") + request("INFO", "info"));
    expect(await replyOf(client, "ping")).toEqual({ status: "OK", body: "PONG" });
    expect(await replyOf(client, "get")).toEqual({ status: "OK", body: chunk });
    expect(await storeInfo(client, "info")).toMatchObject({ keys: ok, bytes: ok * chunk.length });
  });
});
