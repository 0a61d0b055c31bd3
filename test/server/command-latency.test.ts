// The command latency histogram (gnp_command_duration_seconds) over real TLS: a command is
// timed from the read that completed its request to its reply's write. The replies one read
// answers at once leave together at its end, so they are timed together, with two clock
// readings for the read instead of two for each command; an async command runs to its settle.

import { describe, expect, test } from "bun:test";
import { LATENCY_BUCKETS_S } from "../../src/server/metrics.ts";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { okReply, request } from "../support/wire.ts";

/** Keeps the event loop busy for `ms`, as a slow synchronous handler does. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** How many commands the histogram holds at `seconds` or more. */
function atLeast(buckets: Float64Array, seconds: number): number {
  let count = 0;
  for (let i = 0; i < buckets.length; i++) if (i === LATENCY_BUCKETS_S.length || LATENCY_BUCKETS_S[i]! > seconds) count += buckets[i]!;
  return count;
}

describe("command latency", () => {
  test("the commands one read answers at once are timed together, from the read to the write of their replies", async () => {
    await using server = await startServer({}, (s) =>
      s.command("PING", () => "PONG").command("BLOCK", () => {
        blockFor(30);
        return "done";
      }),
    );
    await using client = await connectAdmitted(server.port);
    // One write, one TLS record: one read on the server, whose replies leave after BLOCK's 30 ms.
    client.write(request("PING", "1") + request("PING", "2") + request("BLOCK", "3") + request("PING", "4"));
    await client.waitFor(okReply("4", "PONG"));
    const metrics = server.metrics;
    expect({ count: metrics.latencyCount, slow: atLeast(metrics.latencyBuckets, 0.025) }).toEqual({ count: 4, slow: 4 });
    expect(metrics.latencySum).toBeGreaterThanOrEqual(4 * 0.03);
  });

  test("an async command is timed from the read to its settle", async () => {
    await using server = await startServer({}, (s) => s.command("SLOW", async () => (await Bun.sleep(60), "late")));
    await using client = await connectAdmitted(server.port);
    client.write(request("SLOW", "1"));
    await client.waitFor(okReply("1", "late"));
    expect({ count: server.metrics.latencyCount, slow: atLeast(server.metrics.latencyBuckets, 0.05) }).toEqual({ count: 1, slow: 1 });
  });
});
