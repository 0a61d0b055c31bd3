// The memory and bun:sqlite stores pass the shared store suite; sqlite also keeps its data
// across a reopen, shares one buffer between GETs of a large value while nothing rewrites it,
// and refuses to open what it cannot use.

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore, SqliteStore, isGnpError } from "../../src/index.ts";
import { openStore } from "../../src/app/open-store.ts";
import { DEFAULT_VALUE_CACHE_BYTES, LARGE_VALUE_BYTES } from "../../src/app/value-cache.ts";
import { storeSuite } from "./store-suite.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "gnp-store-"));
  dirs.push(dir);
  return dir;
}
function disposableStore(store: SqliteStore): SqliteStore & AsyncDisposable {
  return Object.assign(store, { [Symbol.asyncDispose]: () => store.close() });
}
process.on("exit", () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A SQLite store whose reading statements report every value they return, in `read`. */
function storeCountingReads(path: string, options: { cacheBytes?: number } = {}): { store: SqliteStore; read: Uint8Array[] } {
  const read: Uint8Array[] = [];
  const query = Database.prototype.query;
  Database.prototype.query = function (this: Database, sql: string) {
    const statement = query.call(this, sql);
    const get = statement.get.bind(statement);
    statement.get = (...params: never[]) => {
      const row = get(...params) as { value?: unknown } | null;
      if (row?.value instanceof Uint8Array) read.push(row.value);
      return row;
    };
    return statement;
  } as typeof query;
  try {
    return { store: new SqliteStore(path, options), read };
  } finally {
    Database.prototype.query = query;
  }
}

storeSuite("memory", async () => new MemoryStore());
storeSuite("sqlite", async () => new SqliteStore(join(tempDir(), "gnp.db")));

describe("sqlite store", () => {
  test("data survives closing and reopening", async () => {
    const path = join(tempDir(), "gnp.db");
    const first = new SqliteStore(path);
    await first.put("kept", new TextEncoder().encode("yes"));
    await first.close();
    const second = new SqliteStore(path);
    expect((await second.get("kept"))?.version).toBe(1);
    await second.close();
  });

  test("two stores on one file, as --workers runs them: of 20 PUTs with one If-Match, exactly one wins", async () => {
    const path = join(tempDir(), "gnp.db");
    const [a, b] = [new SqliteStore(path), new SqliteStore(path)];
    expect(await a.put("race", new TextEncoder().encode("v1"))).toBe(1);
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).put("race", new TextEncoder().encode(`try ${i}`), 1)));
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled").map((outcome) => (outcome as PromiseFulfilledResult<number>).value)).toEqual([2]);
    expect(outcomes.filter((outcome) => outcome.status === "rejected").every((outcome) => isGnpError((outcome as PromiseRejectedResult).reason, "CONFLICT"))).toBe(true);
    expect((await b.get("race"))?.version).toBe(2);
    expect(await a.info()).toMatchObject({ keys: 1 });
    await Promise.all([a.close(), b.close()]);
  });

  test("repeated GETs of a large value hand on the one Uint8Array bun:sqlite read: a 1 MiB value is allocated once, not once per GET", async () => {
    const { store, read } = storeCountingReads(join(tempDir(), "gnp.db"));
    await using _ = disposableStore(store);
    await store.put("big", new Uint8Array(1 << 20).fill(7));
    const documents = [await store.get("big"), await store.get("big"), await store.get("big")];
    expect(read).toHaveLength(1);
    // The same object, not an equal copy (a failed toBe would print a megabyte).
    expect(documents.every((document) => document?.value === read[0])).toBe(true);
    // A value under the cache's threshold is read afresh each time: its copy is cheap and dies young.
    await store.put("small", new Uint8Array(LARGE_VALUE_BYTES - 1));
    await store.get("small");
    await store.get("small");
    expect(read).toHaveLength(3);
  });

  test("with cache=0, and in a worker of --workers whose siblings write the same file, every GET reads the value afresh", async () => {
    const path = join(tempDir(), "gnp.db");
    const { store, read } = storeCountingReads(path, { cacheBytes: 0 });
    await using _ = disposableStore(store);
    await store.put("big", new Uint8Array(1 << 20).fill(7));
    await store.get("big");
    await store.get("big");
    expect(read).toHaveLength(2);
    const opened = [await openStore(`sqlite://${path}?cache=0`), await openStore(`sqlite://${path}`, { shared: true }), await openStore(`sqlite://${path}?cache=1048576`)];
    expect(opened.map((other) => (other as SqliteStore).cacheBytes)).toEqual([0, 0, 1 << 20]);
    expect((await openStore(`sqlite://${path}`)) as SqliteStore).toMatchObject({ cacheBytes: DEFAULT_VALUE_CACHE_BYTES });
    await Promise.all(opened.map((other) => other.close()));
  });

  test("a large value that another connection rewrites while the store is idle is read afresh, even with the same length and version, and even after a write of its own", async () => {
    const path = join(tempDir(), "gnp.db");
    const { store, read } = storeCountingReads(path);
    await using _ = disposableStore(store);
    await store.put("big", new Uint8Array(1 << 20).fill(1));
    expect((await store.get("big"))?.value[0]).toBe(1);
    expect((await store.get("big"))?.value[0]).toBe(1);
    expect(read).toHaveLength(1);
    // Another program's connection, as a sqlite3 shell would: same key, version and length.
    const other = new Database(path);
    const rewrite = (fill: number) => other.run("UPDATE documents SET value = ? WHERE key = 'big'", [new Uint8Array(1 << 20).fill(fill)]);
    rewrite(2);
    const document = await store.get("big");
    expect([document?.value[0], document?.version, read.length]).toEqual([2, 1, 2]);
    // Rewritten again, then a write of the store's own to another key before the next read: the
    // rewrite is not taken for the store's commit.
    rewrite(3);
    other.close();
    await store.put("unrelated", new Uint8Array(1));
    expect((await store.get("big"))?.value[0]).toBe(3);
  });

  test("a round of 1,000 committed writes is settled a slice per turn of the event loop, not in one burst", async () => {
    await using store = disposableStore(new SqliteStore(join(tempDir(), "gnp.db")));
    let settled = 0;
    let settledWhenTheLoopTurned: number | undefined;
    // Issued together: one round. A reply to each would follow each settle; between slices the
    // loop reads other clients' sockets, which an immediate set at the first settle stands for.
    const puts = Array.from({ length: 1000 }, (_, i) =>
      store.put(`slice/${i}`, new Uint8Array([i & 0xff])).then(() => {
        if (settled++ === 0) setImmediate(() => (settledWhenTheLoopTurned = settled));
      }),
    );
    await Promise.all(puts);
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(1000);
    expect(settledWhenTheLoopTurned).toBeLessThan(1000);
    expect(await store.info()).toMatchObject({ keys: 1000 });
  });

  test("a corrupt file is one STORE_UNAVAILABLE error naming it", () => {
    const path = join(tempDir(), "gnp.db");
    writeFileSync(path, "this is not a database, just text that goes on for a while ".repeat(100));
    let error: unknown;
    try {
      new SqliteStore(path);
    } catch (thrown) {
      error = thrown;
    }
    expect(isGnpError(error, "STORE_UNAVAILABLE")).toBe(true);
    expect((error as Error).message).toContain(path);
  });

  test("a directory that cannot be written is one STORE_UNAVAILABLE error", () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere; a path under a regular file cannot be created by anyone.
      const file = join(tempDir(), "file");
      writeFileSync(file, "");
      expect(() => new SqliteStore(join(file, "sub", "gnp.db"))).toThrow(/cannot open store/);
      return;
    }
    const dir = tempDir();
    chmodSync(dir, 0o500);
    expect(() => new SqliteStore(join(dir, "gnp.db"))).toThrow(/cannot open store/);
  });

  test("store URLs are checked", async () => {
    await expect(openStore("redis://x")).rejects.toThrow(/invalid store/);
    await expect(openStore("sqlite://")).rejects.toThrow(/invalid store/);
    await expect(openStore(`sqlite://${tempDir()}/x.db?sync=maybe`)).rejects.toThrow(/sync must be full or normal/);
    for (const cache of ["-1", "1e6", "16MiB", "", "2000000000"]) {
      await expect(openStore(`sqlite://${tempDir()}/x.db?cache=${cache}`)).rejects.toThrow(/cache must be a number of bytes from 0 to 1073741824/);
    }
    const store = await openStore("memory:");
    expect((await store.info()).kind).toBe("memory");
  });
});
