// One turn of the event loop writes at most 512 KiB for one connection and 2 MiB for all: a
// write encrypts what it is offered before it returns, so clients reading large replies as fast
// as they can made one callback encrypt megabytes while every other client waited (a PING's
// p99 went to 300 ms under GETs of 1 MiB values). Over real TLS, the server's bytes written are
// sampled once a turn, from a timer on the same loop.

import { expect, test } from "bun:test";
import { connectAdmitted, startServer, type RawClient } from "../support/harness.ts";
import { GREETING, okReply, request } from "../support/wire.ts";
import { LATE_TURN_BYTES, LOOP_TURN_BYTES } from "../../src/server/write-turns.ts";

const BIG = "b".repeat(8 * 1024 * 1024);

/** Calls `sample` once every turn of the event loop until stopped. */
function everyTurn(sample: () => void): () => void {
  let running = true;
  const turn = () => {
    sample();
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  return () => {
    running = false;
  };
}

test("clients reading 8 MiB replies get at most 512 KiB each, 2 MiB in all, per turn of the loop, and all of it", async () => {
  await using server = await startServer({}, (s) => s.command("BIG", () => BIG).command("PING", () => "PONG"));
  const clients: RawClient[] = await Promise.all(Array.from({ length: 6 }, () => connectAdmitted(server.port)));
  try {
    let last = server.metrics.bytesOut;
    let most = 0;
    const stop = everyTurn(() => {
      const now = server.metrics.bytesOut;
      most = Math.max(most, now - last);
      last = now;
    });
    for (const [c, client] of clients.entries()) client.write(request("BIG", `b${c}`));
    const pinger = await connectAdmitted(server.port);
    pinger.write(request("PING", "p"));
    await pinger.waitFor(GREETING + okReply("p", "PONG"));
    await Promise.all(clients.map((client, c) => client.waitFor((text) => text.length >= GREETING.length + okReply(`b${c}`, BIG).length)));
    stop();
    for (const [c, client] of clients.entries()) expect(client.received === GREETING + okReply(`b${c}`, BIG)).toBe(true);
    // Six connections: 2 MiB, then one TLS record's worth each for those that come later.
    expect(most).toBeLessThanOrEqual(LOOP_TURN_BYTES + 6 * LATE_TURN_BYTES + 1024);
    expect(most).toBeGreaterThan(0);
    await pinger[Symbol.asyncDispose]();
  } finally {
    await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
  }
}, 60_000);
