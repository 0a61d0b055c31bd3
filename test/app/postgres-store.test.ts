// The PostgreSQL store against a real, throwaway PostgreSQL: the shared store suite (a fresh
// database per test), plus what only a shared store has: a change made through one instance is
// announced on another, If-Match holds across instances, and open failures are one clean line;
// and over TLS, large values read for one GET are freed once sent without corrupting later reads.

import { SQL } from "bun";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isGnpError, type Change } from "../../src/index.ts";
import { openStore } from "../../src/app/open-store.ts";
import { PostgresStore } from "../../src/app/postgres-store.ts";
import { prefixUpperBound } from "../../src/app/document-store.ts";
import { skipWithoutPostgres, startPostgres, type TestPostgres } from "../support/postgres.ts";
import { storeSuite } from "./store-suite.ts";
import { installApp } from "../../src/app/install-app.ts";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { freed, getReply, readSlowly, valueOf, watched } from "../support/slow-reader.ts";
import { request } from "../support/wire.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

type Stores = AsyncDisposable & { a: PostgresStore; b: PostgresStore; url: string };

describe.skipIf(skipWithoutPostgres())("postgres", () => {
  let pg: TestPostgres;
  // initdb and the first start take seconds on a busy machine: far more than a hook's default.
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });

  /** Two instances on one fresh database, closed together. */
  async function twoInstances(): Promise<Stores> {
    const url = await pg.createDatabase();
    const a = await PostgresStore.open(url);
    const b = await PostgresStore.open(url);
    return { a, b, url, [Symbol.asyncDispose]: async () => void (await Promise.all([a.close(), b.close()])) };
  }

  storeSuite("postgres", async () => PostgresStore.open(await pg.createDatabase()));

  describe("postgres store", () => {
    test("openStore routes postgres:// and postgresql:// URLs to it", async () => {
      const url = await pg.createDatabase();
      for (const scheme of ["postgres://", "postgresql://"]) {
        const store = await openStore(url.replace("postgres://", scheme));
        expect(await store.info()).toMatchObject({ kind: "postgres", keys: 0, location: url });
        await store.close();
      }
    });

    test("a change made through one instance is announced on the other, once, value included", async () => {
      await using stores = await twoInstances();
      const seenOnA: Change[] = [];
      const seenOnB: Change[] = [];
      const { promise: bSawAll, resolve } = Promise.withResolvers<void>();
      stores.a.onChange((change) => seenOnA.push(change));
      stores.b.onChange((change) => {
        seenOnB.push(change);
        if (seenOnB.length === 3) resolve();
      });
      const large = new Uint8Array(20_000).fill(7); // beyond NOTIFY's 8000 bytes: read back by key
      await stores.a.put("users/1", bytes("jo"));
      await stores.a.put("users/2", large);
      await stores.a.delete("users/1");
      await bSawAll;
      const summary = (changes: Change[]) => changes.map((c) => [c.op, c.key, c.version, c.op === "PUT" ? c.value.byteLength : null]);
      const expected = [
        ["PUT", "users/1", 1, 2],
        ["PUT", "users/2", 1, 20_000],
        ["DEL", "users/1", 2, null],
      ];
      expect(summary(seenOnB)).toEqual(expected);
      // The writer hears its own changes the same way, from the notifications, exactly once.
      const { promise: aSawSync, resolve: onSync } = Promise.withResolvers<void>();
      stores.a.onChange((change) => change.key === "sync" && onSync());
      await stores.a.put("sync", bytes("x"));
      await aSawSync;
      expect(summary(seenOnA.filter((change) => change.key !== "sync"))).toEqual(expected);
    });

    test("20 concurrent PUTs with the same If-Match from two instances: exactly one succeeds", async () => {
      await using stores = await twoInstances();
      expect(await stores.a.put("race", bytes("v1"))).toBe(1);
      const attempts = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? stores.a : stores.b).put("race", bytes(`try ${i}`), 1));
      const outcomes = await Promise.allSettled(attempts);
      const won = outcomes.filter((outcome) => outcome.status === "fulfilled");
      const lost = outcomes.filter((outcome) => outcome.status === "rejected");
      expect(won.map((outcome) => (outcome as PromiseFulfilledResult<number>).value)).toEqual([2]);
      expect(lost.every((outcome) => isGnpError((outcome as PromiseRejectedResult).reason, "CONFLICT"))).toBe(true);
      expect((await stores.b.get("race"))?.version).toBe(2);
    });

    test("If-Match 0 from two instances at once creates the key exactly once", async () => {
      await using stores = await twoInstances();
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? stores.a : stores.b).put("new", bytes(String(i)), 0)));
      expect(outcomes.filter((outcome) => outcome.status === "fulfilled").length).toBe(1);
    });

    test("operations issued together run in order: GET, PUT, GET read before and after the write", async () => {
      await using stores = await twoInstances();
      await stores.a.put("rw", bytes("old"));
      const before = stores.a.get("rw");
      const put = stores.a.put("rw", bytes("new"));
      const after = stores.a.get("rw");
      const keys = stores.a.keys("r", 10);
      expect(await put).toBe(2);
      expect((await before)?.version).toBe(1);
      expect((await after)?.version).toBe(2);
      expect(await keys).toEqual(["rw"]);
    });

    test("INFO counts the writes of both instances exactly, and never reads the documents to do it", async () => {
      await using stores = await twoInstances();
      await Promise.all([
        ...Array.from({ length: 30 }, (_, i) => stores.a.put(`n/${i}`, bytes("abc"))),
        ...Array.from({ length: 30 }, (_, i) => stores.b.put(`n/${i + 20}`, bytes("de"))),
      ]);
      await Promise.all([stores.a.delete("n/0"), stores.b.put("n/1", bytes("123456"))]);
      // n/0..19 written by A (3 bytes; n/0 deleted, n/1 now 6), n/20..29 by both (A or B last), n/30..49 by B (2).
      const sizes = await Promise.all(Array.from({ length: 50 }, async (_, i) => (await stores.a.get(`n/${i}`))?.value.byteLength ?? 0));
      const expected = { keys: 49, bytes: sizes.reduce((a, b) => a + b, 0) };
      expect(await stores.a.info()).toMatchObject(expected);
      expect(await stores.b.info()).toMatchObject(expected);
      // With the documents locked against every reader, INFO still answers: it reads only the counters.
      const admin = new SQL(stores.url, { max: 1 });
      await admin.begin(async (tx) => {
        await tx`LOCK TABLE gnp_documents IN ACCESS EXCLUSIVE MODE`;
        expect(await stores.a.info()).toMatchObject(expected);
      });
      await admin.close();
    });

    test("keys match prefixes with LIKE's special characters literally", async () => {
      await using stores = await twoInstances();
      for (const key of ["a%b", "a_b", "axb", "a\\b", "a%"]) await stores.a.put(key, bytes(key));
      expect(await stores.a.keys("a%", 10)).toEqual(["a%", "a%b"]);
      expect(await stores.a.keys("a_", 10)).toEqual(["a_b"]);
      expect(await stores.a.keys("a\\", 10)).toEqual(["a\\b"]);
    });

    test("prefixUpperBound increments the last code point", () => {
      expect(prefixUpperBound("users/")).toBe("users0");
      expect(prefixUpperBound("")).toBeUndefined();
      expect(prefixUpperBound("a\u{10FFFF}")).toBe("b");
      expect(prefixUpperBound("\u{D7FF}")).toBe("\u{E000}");
    });

    test("a store that cannot be reached is one STORE_UNAVAILABLE line without the password", async () => {
      let error: unknown;
      try {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        await PostgresStore.open("postgres://gnp:s3cret-pw@127.0.0.1:1/gnp");
      } catch (thrown) {
        error = thrown;
      }
      expect(isGnpError(error, "STORE_UNAVAILABLE")).toBe(true);
      const message = (error as Error).message;
      expect(message).toStartWith("cannot open store postgres://gnp@127.0.0.1:1/gnp: ");
      expect(message).not.toContain("s3cret-pw");
      expect(message).not.toContain("\n");
    });

    test("a missing database is STORE_UNAVAILABLE naming it", async () => {
      const url = pg.url.replace(/\/gnp$/, "/no_such_db");
      await expect(PostgresStore.open(url)).rejects.toThrow(/cannot open store postgres:\/\/postgres@127\.0\.0\.1:\d+\/no_such_db: .*no_such_db/);
    });

    test("a failure at run time is STORE_FAILED, an ERR reply, for reads and writes", async () => {
      const url = await pg.createDatabase();
      const store = await PostgresStore.open(url);
      // Dropping the table under a running store: every later statement fails in the server.
      const admin = new SQL(url, { max: 1 });
      await admin`DROP TABLE gnp_documents`;
      await admin.close();
      const failures = await Promise.allSettled([store.put("k", bytes("v")), store.get("k")]);
      await store.close();
      for (const failure of failures) {
        expect(failure.status).toBe("rejected");
        const reason = (failure as PromiseRejectedResult).reason as Error;
        expect(isGnpError(reason, "STORE_FAILED")).toBe(true);
        expect(reason.message).toMatch(/^store (write|read) failed: .*gnp_documents/);
      }
    });

    test("a closed store refuses work with STORE_FAILED", async () => {
      const store = await PostgresStore.open(await pg.createDatabase());
      await store.close();
      let error: unknown;
      try {
        await store.put("k", bytes("v"));
      } catch (thrown) {
        error = thrown;
      }
      expect(isGnpError(error, "STORE_FAILED")).toBe(true);
      expect((error as { kind?: string }).kind).toBe("reply");
    });

    test("over TLS, large GETs read the same values three times, byte-exact to a slow reader, each read freed once sent", async () => {
      const sql = await PostgresStore.open(await pg.createDatabase());
      try {
        const values = [valueOf(1, 512 * 1024), valueOf(2, 700 * 1024), valueOf(3, 90 * 1024)];
        for (const [i, value] of values.entries()) await sql.put(`big/${i}`, value);
        const { store, returned } = watched(sql);
        await using server = await startServer({});
        await installApp(server, store);
        await using client = await connectAdmitted(server.port);
        let requests = "";
        const replies = new Map<string, string>();
        for (let round = 0; round < 3; round++) {
          for (const [i, value] of values.entries()) {
            requests += request(`GET big/${i}`, `${round}-${i}`);
            replies.set(`${round}-${i}`, getReply(`${round}-${i}`, value));
          }
        }
        await readSlowly(client, requests, 4 + [...replies.values()].join("").length);
        // Async reads may answer in any order: expected is the replies in the order their Sequences came (bodies hold only capitals).
        const order = [...client.received.matchAll(/Sequence: (\S+)\r\n/g)].map((match) => match[1]!);
        expect(order.toSorted()).toEqual([...replies.keys()].toSorted());
        expect(client.received === "OK\r\n" + order.map((sequence) => replies.get(sequence)).join("")).toBe(true);
        // Every read is the driver's buffer for that row alone: freed once sent, never reused by a later read.
        expect(returned.map((document) => [document.fresh, freed(document.value)])).toEqual(Array.from({ length: 9 }, () => [true, true]));
      } finally {
        await sql.close();
      }
    });
  });
});
