// The cache of large values: bounded in bytes, least recently read out first (when full, only
// for a value read more often lately than what it evicts), never serving
// a value that the store's own writes or another writer replaced; and, over real TLS, a client
// that pipelines PUT, GET, DEL, PUT, GET of 1 MiB values reads each write's own bytes.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/index.ts";
import { installApp } from "../../src/app/install-app.ts";
import { ValueCache } from "../../src/app/value-cache.ts";
import { connect, type Reply } from "../../src/client/index.ts";
import { startServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";

const KiB = 1024;
const doc = (length: number, version = 1) => ({ value: new Uint8Array(length), version });

/** A cache over a file whose data_version the test moves by hand. */
function cacheOver(options: { maxBytes: number; minBytes?: number }) {
  const file = { version: 1 };
  const cache = new ValueCache({ ...options, fileVersion: () => file.version });
  return { cache, file };
}

describe("value cache", () => {
  test("keeps values from the threshold up, within its bound, evicting the least recently read", () => {
    const { cache } = cacheOver({ maxBytes: 300 * KiB, minBytes: 64 * KiB });
    const small = doc(64 * KiB - 1);
    expect(cache.offer("small", small)).toBe(small);
    expect(cache.offer("huge", doc(301 * KiB)).value.byteLength).toBe(301 * KiB);
    expect([cache.size, cache.bytes]).toEqual([0, 0]);
    const [a, b, c] = [doc(100 * KiB), doc(100 * KiB), doc(100 * KiB)];
    cache.offer("a", a);
    cache.offer("b", b);
    cache.offer("c", c);
    expect(cache.get("a")).toBe(a); // a is now the most recent: b goes first
    // Full: d read once is no more wanted than b; read again, it is, and b goes.
    expect([cache.keep("d", doc(100 * KiB)), cache.size]).toEqual([false, 3]);
    expect(cache.keep("d", doc(100 * KiB))).toBe(true);
    expect([cache.get("b"), cache.get("a"), cache.get("c"), cache.bytes]).toEqual([undefined, a, c, 300 * KiB]);
    // A value as large as the bound, read more often than the oldest entry, empties the rest.
    for (let i = 0; i < 3; i++) cache.keep("e", doc(300 * KiB));
    expect([cache.size, cache.bytes, cache.get("a")]).toEqual([1, 300 * KiB, undefined]);
  });

  test("under a cyclic scan of four times what fits, the first values stay and serve a quarter of the reads, the rest pass through", () => {
    const { cache } = cacheOver({ maxBytes: 16 * 100 * KiB });
    let hits = 0;
    let kept = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 64; i++) {
        if (cache.get(`k${i}`) !== undefined) hits++;
        else if (cache.keep(`k${i}`, doc(100 * KiB))) kept++;
      }
    }
    // Admitting every read would keep 640 values and hit none.
    expect([hits, kept, cache.size]).toEqual([9 * 16, 16, 16]);
  });

  test("a round of the store's own writes forgets its keys and keeps the rest", () => {
    const { cache, file } = cacheOver({ maxBytes: 1024 * KiB });
    const [a, b] = [doc(100 * KiB), doc(100 * KiB)];
    cache.offer("a", a);
    cache.offer("b", b);
    cache.writing();
    file.version++; // the round's commit
    cache.wrote(["a"]);
    expect([cache.get("a"), cache.get("b"), cache.bytes]).toEqual([undefined, b, 100 * KiB]);
    // A read while a round commits is kept too: its own keys are never read meanwhile.
    cache.writing();
    file.version++;
    expect(cache.offer("c", doc(100 * KiB))).toBeDefined();
    cache.wrote(["b"]);
    expect([cache.get("b"), cache.size]).toEqual([undefined, 1]);
  });

  test("another writer's commit just before or just after one of the store's own rounds is not taken for the round's", () => {
    const { cache, file } = cacheOver({ maxBytes: 1024 * KiB });
    cache.offer("a", doc(100 * KiB));
    file.version++; // another writer, while the store is idle
    cache.writing();
    file.version++; // the round's commit
    cache.wrote(["b"]);
    expect([cache.get("a"), cache.size]).toEqual([undefined, 0]);
    cache.offer("a", doc(100 * KiB, 2));
    cache.writing();
    file.version++;
    cache.wrote(["b"]);
    file.version++; // another writer, right after the round
    expect([cache.get("a"), cache.size]).toEqual([undefined, 0]);
  });

  test("another writer's commit drops everything, and a value read across it is not kept", () => {
    const { cache, file } = cacheOver({ maxBytes: 1024 * KiB });
    cache.offer("a", doc(100 * KiB));
    expect(cache.get("a")).toBeDefined();
    file.version++;
    expect([cache.get("a"), cache.size]).toEqual([undefined, 0]);
    cache.offer("a", doc(100 * KiB, 2));
    expect(cache.get("a")?.version).toBe(2);
    // The read happened, then the file changed before the offer looked: the value may predate the change.
    file.version++;
    cache.offer("b", doc(100 * KiB));
    expect([cache.get("b"), cache.size]).toEqual([undefined, 0]);
  });

  test("over TLS, pipelined PUT, GET, DEL, PUT, GET of 1 MiB values with the same length and version read each write's own bytes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gnp-cache-"));
    const store = new SqliteStore(join(dir, "gnp.db"));
    try {
      await using server = await startServer({});
      await installApp(server, store);
      const pki = await makeTestPki();
      await using client = await connect({ port: server.port, cert: pki.good.certificatePem, key: pki.good.privateKeyPem, ca: pki.ca.certificatePem });
      const body = (fill: number) => new Uint8Array(1 << 20).fill(fill);
      const seen = async (call: Promise<Reply>) => {
        const reply = await call;
        return `${reply.body[0]}x${reply.body.byteLength}@${reply.header("Version")}`;
      };
      await client.call("PUT", ["big"], { body: body(1) });
      expect(await seen(client.call("GET", ["big"]))).toBe(`1x${1 << 20}@1`);
      // Nothing awaited in between: one pipeline, whose GETs run once the writes before them committed.
      const replies = await Promise.all([
        seen(client.call("GET", ["big"])),
        client.call("DEL", ["big"]).then(() => "deleted"),
        client.call("PUT", ["big"], { body: body(2) }).then((reply) => reply.header("Version")),
        seen(client.call("GET", ["big"])),
        client.call("PUT", ["big"], { body: body(3), headers: [["If-Match", "1"]] }).then((reply) => reply.header("Version")),
        seen(client.call("GET", ["big"])),
      ]);
      expect(replies).toEqual([`1x${1 << 20}@1`, "deleted", "1", `2x${1 << 20}@1`, "2", `3x${1 << 20}@2`]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
