// The slab makes message buffers as slots are used, not one for every --max-connections slot up
// front: JavaScriptCore counts every ArrayBuffer's bytes in the heap size that paces its
// collections, and 77 MiB of untouched message buffers let as much garbage pile up between two
// of them (watchers that never read took the server 300 MiB over idle, and it stayed there).

import { heapStats } from "bun:jsc";
import { expect, test } from "bun:test";
import { connectAdmitted, startServer, type RawClient } from "../support/harness.ts";
import { GREETING, okReply, request } from "../support/wire.ts";
import { MESSAGE_BYTES, MESSAGE_CHUNK_SLOTS } from "../../src/slab/slab.ts";

/** ArrayBuffer and other outside-the-heap bytes the collector counts, after a full collection. */
function countedOutsideHeap(): number {
  Bun.gc(true);
  return heapStats().extraMemorySize;
}

test("a server of 10,000 slots counts in the heap only the message buffers of the slots it used", async () => {
  const before = countedOutsideHeap();
  await using server = await startServer({ maxConnections: 10_000 }, (s) => s.command("ECHO", (req) => req.body));
  const clients: RawClient[] = [];
  try {
    // One past the first chunk of message buffers, so that a second one is made.
    const connections = MESSAGE_CHUNK_SLOTS + 1;
    for (let batch = 0; batch < connections; batch += 43) {
      clients.push(...(await Promise.all(Array.from({ length: Math.min(43, connections - batch) }, () => connectAdmitted(server.port)))));
    }
    // Each request's head arrives in two reads, so its first half waits in the slot's message
    // buffer: a connection of the second chunk reads its own bytes, not another slot's.
    await Promise.all(
      clients.map(async (client, c) => {
        const wire = request("ECHO", `c${c}`, `body of ${c}`);
        const cut = 1 + (c % (wire.length - 2));
        client.write(wire.slice(0, cut));
        await Bun.sleep(5);
        client.write(wire.slice(cut));
        await client.waitFor(GREETING + okReply(`c${c}`, `body of ${c}`));
      }),
    );
    const columns = 10_000 * 128;
    expect(server.stats().slabBytes).toBe(columns + 2 * MESSAGE_CHUNK_SLOTS * MESSAGE_BYTES);
    // Before, the slab alone was 10,000 x 8 KiB = 78 MiB of it.
    const grown = countedOutsideHeap() - before;
    expect(grown).toBeLessThan(16 * 2 ** 20);
  } finally {
    await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
  }
}, 60_000);
