// One suite every DocumentStore must pass (memory, sqlite, PostgreSQL): versions, If-Match,
// sorted bounded KEYS that match prefixes byte for byte, change announcements once per
// committed change, bytes kept exactly, writes issued together settling as if run one by one,
// and INFO's counters exact through every kind of write.

import { describe, expect, test } from "bun:test";
import { isGnpError, type Change, type DocumentStore } from "../../src/index.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined) => (value === undefined ? undefined : new TextDecoder().decode(value));

/** Registers the shared store tests; `open` gives a fresh, empty store each time. */
export function storeSuite(name: string, open: () => Promise<DocumentStore>): void {
  describe(`${name} store`, () => {
    test("put then get returns the bytes and version 1, and each put bumps the version", async () => {
      await using store = disposable(await open());
      expect(await store.get("a")).toBeUndefined();
      expect(await store.put("a", bytes("one"))).toBe(1);
      expect(await store.put("a", bytes("two"))).toBe(2);
      const document = await store.get("a");
      expect(text(document?.value)).toBe("two");
      expect(document?.version).toBe(2);
    });

    test("values are kept byte for byte, empty and binary included", async () => {
      await using store = disposable(await open());
      const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
      await store.put("bin", binary);
      await store.put("empty", new Uint8Array(0));
      expect([...((await store.get("bin"))?.value ?? [])]).toEqual([...binary]);
      expect((await store.get("empty"))?.value.byteLength).toBe(0);
    });

    test("a value comes back as a plain Uint8Array of exactly its bytes, whatever the store", async () => {
      await using store = disposable(await open());
      await store.put("plain", bytes("twelve bytes"));
      const value = (await store.get("plain"))!.value;
      // Handlers see the same type from every store: not a Buffer, not a view past its bytes.
      expect(Object.getPrototypeOf(value)).toBe(Uint8Array.prototype);
      expect(value.byteLength).toBe(12);
      expect(text(value)).toBe("twelve bytes");
    });

    test("If-Match must equal the current version, 0 meaning the key must not exist", async () => {
      await using store = disposable(await open());
      expect(await store.put("k", bytes("v1"), 0)).toBe(1);
      await expectConflict(() => store.put("k", bytes("v2"), 0));
      await expectConflict(() => store.put("k", bytes("v2"), 5));
      expect(await store.put("k", bytes("v2"), 1)).toBe(2);
      await expectConflict(() => store.delete("k", 1));
      expect(await store.delete("k", 2)).toBe(true);
      expect(text((await store.get("k"))?.value)).toBeUndefined();
    });

    test("delete says whether the key existed", async () => {
      await using store = disposable(await open());
      expect(await store.delete("nope")).toBe(false);
      await store.put("yes", bytes("1"));
      expect(await store.delete("yes")).toBe(true);
      expect(await store.get("yes")).toBeUndefined();
    });

    test("keys are filtered by prefix, sorted by bytes and bounded", async () => {
      await using store = disposable(await open());
      for (const key of ["users/2", "users/10", "users/1", "orders/1", "users/é", "usersX", "users/Z"]) await store.put(key, bytes(key));
      expect(await store.keys("users/", 100)).toEqual(["users/1", "users/10", "users/2", "users/Z", "users/é"]);
      expect(await store.keys("users/", 2)).toEqual(["users/1", "users/10"]);
      expect(await store.keys("", 3)).toEqual(["orders/1", "users/1", "users/10"]);
      expect(await store.keys("none/", 10)).toEqual([]);
      expect(await store.keys("users%", 10)).toEqual([]);
    });

    test("keys match a prefix byte for byte, U+10FFFF and what follows it included", async () => {
      await using store = disposable(await open());
      const inside = ["kp/", "kp/a", "kp/\u{FFFF}", "kp/\u{10000}", "kp/\u{10FFFF}", "kp/\u{10FFFF}z", "kp/\u{10FFFF}\u{10FFFF}"];
      const outside = ["kp", "kp.", "kp0", "kq/", "k"];
      for (const key of [...outside, ...inside]) await store.put(key, bytes(key));
      expect(await store.keys("kp/", 100)).toEqual(inside);
      expect(await store.keys("kp/\u{10FFFF}", 100)).toEqual(["kp/\u{10FFFF}", "kp/\u{10FFFF}z", "kp/\u{10FFFF}\u{10FFFF}"]);
      expect(await store.keys("kp/\u{10FFFF}\u{10FFFF}", 100)).toEqual(["kp/\u{10FFFF}\u{10FFFF}"]);
      expect(await store.keys("kp/\u{10FFFF}", 2)).toEqual(["kp/\u{10FFFF}", "kp/\u{10FFFF}z"]);
    });

    test("writes issued together settle as if run one by one; a read issued after a write sees it, one issued before does not", async () => {
      await using store = disposable(await open());
      await store.put("t", bytes("v1"));
      // Nothing awaited until every call is made: a store that batches gets them in one round.
      const before = store.get("t");
      const settled = Promise.allSettled([
        attempt(() => store.put("t", bytes("v2"))),
        attempt(() => store.get("t")).then((document) => text(document?.value)),
        attempt(() => store.put("t", bytes("lost"), 1)),
        attempt(() => store.delete("t", 2)),
        attempt(() => store.delete("t")),
        attempt(() => store.put("t", bytes("v3"), 0)),
        attempt(() => store.put("t", bytes("v4"), 1)),
        attempt(() => store.put("other", bytes("o"))),
      ]);
      const after = store.get("t");
      const listed = store.keys("", 10);
      const outcomes = (await settled).map((outcome) => (outcome.status === "fulfilled" ? outcome.value : (outcome.reason as Error).message));
      expect(outcomes).toEqual([2, "v2", "conflict on t: If-Match 1 but its version is 2", true, false, 1, 2, 1]);
      expect(text((await before)?.value)).toBe("v1");
      expect(await after).toMatchObject({ version: 2 });
      expect(text((await after)?.value)).toBe("v4");
      expect(await listed).toEqual(["other", "t"]);
    });

    test("a large value read, deleted and written again with the same length and version reads back as the last write", async () => {
      await using store = disposable(await open());
      // 1 MiB values that differ only in their fill: a read that served an older one would show it.
      const large = (fill: number) => new Uint8Array(1 << 20).fill(fill);
      const fillOf = async (key: string) => {
        const document = await store.get(key);
        return document === undefined ? undefined : [document.value[0], document.value.at(-1), document.value.byteLength, document.version];
      };
      expect(await store.put("big", large(1))).toBe(1);
      expect(await fillOf("big")).toEqual([1, 1, 1 << 20, 1]);
      expect(await fillOf("big")).toEqual([1, 1, 1 << 20, 1]);
      expect(await store.delete("big")).toBe(true);
      expect(await fillOf("big")).toBeUndefined();
      expect(await store.put("big", large(2))).toBe(1);
      expect(await fillOf("big")).toEqual([2, 2, 1 << 20, 1]);
      // Issued together: the read after the DEL and the PUT sees the PUT.
      expect(await Promise.all([attempt(() => store.delete("big")), attempt(() => store.put("big", large(3))), fillOf("big")])).toEqual([true, 1, [3, 3, 1 << 20, 1]]);
      await expectConflict(() => store.put("big", large(4), 7));
      expect(await fillOf("big")).toEqual([3, 3, 1 << 20, 1]);
      expect(await store.put("big", large(5), 1)).toBe(2);
      expect(await fillOf("big")).toEqual([5, 5, 1 << 20, 2]);
    });

    test("info counts keys and bytes exactly through overwrites, deletes and failed If-Match", async () => {
      await using store = disposable(await open());
      await Promise.allSettled([
        attempt(() => store.put("c/1", bytes("12345"))),
        attempt(() => store.put("c/2", bytes("12"))),
        attempt(() => store.put("c/1", bytes("123"))),
        attempt(() => store.put("c/3", bytes("1234567"), 5)),
        attempt(() => store.delete("c/2")),
        attempt(() => store.delete("c/4")),
        attempt(() => store.put("c/5", new Uint8Array(0))),
      ]);
      expect(await store.info()).toMatchObject({ keys: 2, bytes: 3 });
      await store.put("c/5", bytes("abcd"));
      await store.delete("c/1");
      await expectConflict(() => store.delete("c/5", 9));
      expect(await store.info()).toMatchObject({ keys: 1, bytes: 4 });
    });

    test("every committed change is announced once, conflicts are not", async () => {
      await using store = disposable(await open());
      const changes: Change[] = [];
      const { promise: sawAll, resolve } = Promise.withResolvers<void>();
      const stop = store.onChange((change) => {
        changes.push(change);
        if (changes.length === 3) resolve();
      });
      await store.put("w/1", bytes("a"));
      await expectConflict(() => store.put("w/1", bytes("b"), 7));
      await store.put("w/1", bytes("c"));
      await store.delete("w/1");
      await sawAll;
      stop();
      expect(changes.map((change) => [change.op, change.key, change.version, change.op === "PUT" ? text(change.value) : null])).toEqual([
        ["PUT", "w/1", 1, "a"],
        ["PUT", "w/1", 2, "c"],
        ["DEL", "w/1", 3, null],
      ]);
    });

    test("300 writes issued together, more than one slice of replies, settle and are announced once each, in commit order", async () => {
      await using store = disposable(await open());
      const changes: string[] = [];
      const { promise: sawAll, resolve } = Promise.withResolvers<void>();
      const stop = store.onChange((change) => {
        changes.push(`${change.key}@${change.version}`);
        if (changes.length === 300) resolve();
      });
      const keyOf = (i: number) => `slices/${i % 7}`;
      const put = (i: number) => store.put(keyOf(i), bytes(String(i)));
      const first = Array.from({ length: 150 }, (_, i) => put(i));
      // Issued after the first 150 writes and before the rest: it sees the 150th, not the 157th.
      const read = store.get(keyOf(149));
      const rest = Array.from({ length: 150 }, (_, i) => put(150 + i));
      const versions = await Promise.all([...first, ...rest]);
      await sawAll;
      stop();
      const expected = Array.from({ length: 300 }, (_, i) => Math.floor(i / 7) + 1);
      expect(versions).toEqual(expected);
      expect(changes).toEqual(expected.map((version, i) => `${keyOf(i)}@${version}`));
      expect(text((await read)?.value)).toBe("149");
    });

    test("a burst of writes issued together all commit, in order", async () => {
      await using store = disposable(await open());
      const versions = await Promise.all(Array.from({ length: 50 }, (_, i) => store.put("burst", bytes(String(i)))));
      expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(text((await store.get("burst"))?.value)).toBe("49");
    });

    test("info counts keys and bytes", async () => {
      await using store = disposable(await open());
      await store.put("i/1", bytes("abc"));
      await store.put("i/2", bytes("de"));
      const info = await store.info();
      expect(info.keys).toBe(2);
      expect(info.bytes).toBe(5);
    });
  });
}

/** A store may answer at once, throwing or not (memory), or with a promise: one promise either way. */
function attempt<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error);
  }
}

async function expectConflict(run: () => unknown): Promise<void> {
  let error: unknown;
  try {
    await run();
  } catch (thrown) {
    error = thrown;
  }
  expect(isGnpError(error, "CONFLICT")).toBe(true);
}

function disposable(store: DocumentStore): DocumentStore & AsyncDisposable {
  return Object.assign(store, { [Symbol.asyncDispose]: async () => void (await store.close()) });
}
