// The watch registry finds the watches of a change by the prefixes of its key, not by scanning
// every watch: each matching watch gets the push once, others none, and removal unindexes.

import { expect, test } from "bun:test";
import { WatchRegistry } from "../../src/app/watch-commands.ts";
import type { Connection } from "../../src/index.ts";

/** A stand-in for a connection that records its pushes; `open` false makes push refuse. */
function recorder(id: number) {
  const pushes: string[] = [];
  const connection = {
    id,
    open: true,
    may: () => true,
    push(sequence: string, _body: unknown, headers: [string, string][]) {
      if (!this.open) return false;
      pushes.push(`${sequence}:${headers[0]![1]}`);
      return true;
    },
  };
  return { connection, pushes, asConnection: connection as unknown as Connection };
}

const put = (key: string) => ({ op: "PUT" as const, key, version: 1, value: new Uint8Array(0) });

test("a change reaches exactly the watches whose prefix starts its key, each once", () => {
  const registry = new WatchRegistry();
  const a = recorder(1);
  const b = recorder(2);
  registry.add(a.asConnection, "all", "");
  registry.add(a.asConnection, "users", "users/");
  registry.add(b.asConnection, "u1", "users/1");
  registry.add(b.asConnection, "orders", "orders/");
  registry.publish(put("users/12"));
  registry.publish(put("users/2"));
  registry.publish(put("orders/9"));
  registry.publish(put("user"));
  expect(a.pushes.sort()).toEqual(["all:orders/9", "all:user", "all:users/12", "all:users/2", "users:users/12", "users:users/2"]);
  expect(b.pushes.sort()).toEqual(["orders:orders/9", "u1:users/12"]);
  expect(registry.size).toBe(4);
});

test("removing watches unindexes them; a connection that is gone loses all its watches", () => {
  const registry = new WatchRegistry();
  const a = recorder(1);
  const b = recorder(2);
  registry.add(a.asConnection, "x", "k/");
  registry.add(b.asConnection, "y", "k/");
  registry.add(b.asConnection, "z", "k/deep/");
  expect(registry.remove(1, "x")).toBe(true);
  expect(registry.remove(1, "x")).toBe(false);
  b.connection.open = false;
  registry.publish(put("k/deep/1"));
  expect(registry.size).toBe(0);
  registry.publish(put("k/deep/2"));
  expect(a.pushes).toEqual([]);
});
