// Large GET replies whose value the server owns alone (read fresh from the store for this reply)
// are freed as soon as the socket took their last byte; values a cache or the memory store holds
// are never freed. Over real TLS, against readers that stop and start so that the server's writes
// are partial and its output waits for drain: every reply stays byte-exact.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore, SqliteStore } from "../../src/index.ts";
import { installApp } from "../../src/app/install-app.ts";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { freed, getReply, latin1, readSlowly, valueOf, watched } from "../support/slow-reader.ts";
import { request } from "../support/wire.ts";
import { FREE_AT } from "../../src/protocol/owned-memory.ts";

const KiB = 1024;

async function withSqlite(cacheBytes: number | undefined, run: (store: SqliteStore) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "gnp-owned-"));
  const store = new SqliteStore(join(dir, "gnp.db"), cacheBytes === undefined ? {} : { cacheBytes });
  try {
    await run(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("large replies the server owns", () => {
  for (const [name, cacheBytes] of [["without a cache", 0], ["with the default cache", undefined]] as const) {
    test(`many distinct large GETs from SQLite ${name} arrive byte-exact to a slow reader, and each fresh value is freed once sent`, async () => {
      await withSqlite(cacheBytes, async (sqlite) => {
        // 40 values of 200 KiB to 1 MiB: ten times what the default cache holds, each read twice.
        const values = Array.from({ length: 40 }, (_, i) => valueOf(i, 200 * KiB + ((i * 97 * KiB) % (825 * KiB))));
        for (const [i, value] of values.entries()) await sqlite.put(`v/${i}`, value);
        const { store, returned } = watched(sqlite);
        await using server = await startServer({});
        await installApp(server, store);
        await using client = await connectAdmitted(server.port);
        let requests = "";
        let expected = "OK\r\n";
        for (let round = 0; round < 2; round++) {
          for (const [i, value] of values.entries()) {
            requests += request(`GET v/${i}`, `${round}-${i}`);
            expected += getReply(`${round}-${i}`, value);
          }
        }
        await readSlowly(client, requests, expected.length);
        expect(client.received.length).toBe(expected.length);
        expect(client.received === expected).toBe(true);
        const fresh = returned.filter((document) => document.fresh === true);
        // Every fresh value was freed; no value the cache holds was.
        expect(fresh.length).toBeGreaterThan(0);
        expect(fresh.every((document) => freed(document.value))).toBe(true);
        expect(returned.filter((document) => document.fresh !== true).every((document) => !freed(document.value))).toBe(true);
      });
    });
  }

  test("one value read in flight on two slow connections at once stays whole for both, and for a read after them", async () => {
    await withSqlite(undefined, async (store) => {
      const value = valueOf(1, 1024 * KiB);
      await store.put("shared", value);
      await using server = await startServer({});
      await installApp(server, store);
      await using first = await connectAdmitted(server.port);
      await using second = await connectAdmitted(server.port);
      let requests = "";
      let expected = "OK\r\n";
      for (let i = 0; i < 6; i++) {
        requests += request("GET shared", `${i}`);
        expected += getReply(`${i}`, value);
      }
      await Promise.all([readSlowly(first, requests, expected.length), readSlowly(second, requests, expected.length)]);
      expect([first.received === expected, second.received === expected]).toEqual([true, true]);
      // The cache's copy was never freed: a later reader gets the same bytes.
      await using third = await connectAdmitted(server.port);
      third.write(request("GET shared", "after"));
      await third.waitFor((text) => text.length >= 4 + getReply("after", value).length);
      expect(third.received === "OK\r\n" + getReply("after", value)).toBe(true);
    });
  });

  test("the memory store's values are shared: sent to a slow reader, never freed", async () => {
    const memory = new MemoryStore();
    const value = valueOf(2, 512 * KiB);
    await memory.put("m", value);
    const { store, returned } = watched(memory);
    await using server = await startServer({});
    await installApp(server, store);
    await using client = await connectAdmitted(server.port);
    const requests = request("GET m", "1") + request("GET m", "2");
    const expected = "OK\r\n" + getReply("1", value) + getReply("2", value);
    await readSlowly(client, requests, expected.length);
    expect(client.received === expected).toBe(true);
    expect(returned.map((document) => [document.fresh === true, freed(document.value)])).toEqual([[false, false], [false, false]]);
  });

  test("a handler's body given with transfer is freed once sent; one given without it is left alone", async () => {
    const given: Uint8Array[] = [];
    await using server = await startServer({}, (s) =>
      s.command("BLOB", (req) => {
        const body = valueOf(3, 300 * KiB);
        given.push(body);
        return { body, transfer: req.args[0] === "transfer" };
      }),
    );
    await using client = await connectAdmitted(server.port);
    const value = valueOf(3, 300 * KiB);
    const requests = request("BLOB transfer", "1") + request("BLOB keep", "2");
    const expected = "OK\r\n" + `OK\r\nSequence: 1\r\nSize: ${value.byteLength}\r\n\r\n${latin1.decode(value)}` + `OK\r\nSequence: 2\r\nSize: ${value.byteLength}\r\n\r\n${latin1.decode(value)}`;
    await readSlowly(client, requests, expected.length);
    expect(client.received === expected).toBe(true);
    expect(given.map((body) => freed(body))).toEqual([true, false]);
  });

  test("a small body given with transfer is left to the collector: freeing it costs more than it saves", async () => {
    const given: Uint8Array[] = [];
    await using server = await startServer({}, (s) =>
      s.command("BLOB", (req) => {
        const body = valueOf(4, Number(req.args[0]));
        given.push(body);
        return { body, transfer: true };
      }),
    );
    await using client = await connectAdmitted(server.port);
    const sizes = [100, FREE_AT - 1, FREE_AT];
    const requests = sizes.map((size, i) => request(`BLOB ${size}`, String(i))).join("");
    const expected = "OK\r\n" + sizes.map((size, i) => `OK\r\nSequence: ${i}\r\nSize: ${size}\r\n\r\n${latin1.decode(valueOf(4, size))}`).join("");
    await readSlowly(client, requests, expected.length);
    expect(client.received === expected).toBe(true);
    expect(given.map((body) => freed(body))).toEqual([false, false, true]);
  });
});
