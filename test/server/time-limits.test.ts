// Time limits that a hostile or an unlucky client meets: the idle timeout counts only the
// client's silence (never time its input spent waiting for the server), and a request must
// arrive whole within --request-timeout of its first byte, however slowly it trickles in.

import { describe, expect, test } from "bun:test";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { GREETING, errorLine, okReply, request } from "../support/wire.ts";
import type { CloseInfo } from "../../src/index.ts";

/** Keeps the event loop busy for `ms`: what a slow synchronous handler does to every client. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe("the idle timeout counts the client's silence only", () => {
  test("a client whose PING waited unread behind another client's slow command is not idle", async () => {
    const closes: CloseInfo[] = [];
    await using server = await startServer({ idleTimeout: 1 }, (s) =>
      s
        .command("PING", () => "PONG")
        .command("BLOCK", () => {
          blockFor(1600);
          return "done";
        })
        .on("close", (_conn, info) => closes.push(info)),
    );
    await using pinger = await connectAdmitted(server.port);
    await using blocker = await connectAdmitted(server.port);
    // The pinger talks every 100 ms: never 1 s of silence. Its PINGs during the block sit
    // unread in the kernel until the loop is free again.
    let sent = 0;
    const timer = setInterval(() => pinger.write(request("PING", String(++sent))), 100);
    try {
      await Bun.sleep(300);
      blocker.write(request("BLOCK", "b"));
      await blocker.waitFor(okReply("b", "done"));
      await Bun.sleep(600);
    } finally {
      clearInterval(timer);
    }
    await pinger.waitFor(okReply(String(sent), "PONG"));
    expect(pinger.isClosed).toBe(false);
    expect(pinger.received).not.toContain("ERR:");
    expect(closes).toEqual([]);
  }, 20_000);

  test("a connection whose command is still running is not idle", async () => {
    await using server = await startServer({ idleTimeout: 0.5 }, (s) =>
      s.command("SLOW", async () => {
        await Bun.sleep(1500);
        return "late";
      }),
    );
    await using client = await connectAdmitted(server.port);
    client.write(request("SLOW", "1"));
    await client.waitFor(okReply("1", "late"));
    expect(client.received).toBe(GREETING + okReply("1", "late"));
    // Once the reply is out, the client's own silence counts again.
    expect(await client.untilClosed()).toBe(GREETING + okReply("1", "late") + errorLine("connection was idle for more than 0.5 s"));
  }, 20_000);

  test("a client that reads its replies slowly, its requests waiting behind flow control, is not idle", async () => {
    const big = "s".repeat(16 * 1024 * 1024);
    const closes: CloseInfo[] = [];
    await using server = await startServer({ idleTimeout: 1 }, (s) =>
      s
        .command("BIG", () => big)
        .command("PING", () => "PONG")
        .on("close", (_conn, info) => closes.push(info)),
    );
    await using client = await connectAdmitted(server.port);
    client.socket.pause();
    // One reply far larger than the kernel's buffers: the PING waits unread behind it.
    client.write(request("BIG", "1") + request("PING", "2"));
    const expected = GREETING.length + okReply("1", big).length + okReply("2", "PONG").length;
    // Take a little output every 200 ms for 3 s: never 1 s without reading, never enough for
    // the server to catch up and read the PING.
    for (let i = 0; i < 15 && !client.isClosed; i++) {
      await Bun.sleep(200);
      const before = client.received.length;
      client.socket.resume();
      await client.waitFor((text) => text.length > before).catch(() => {});
      client.socket.pause();
    }
    expect(client.received.length).toBeLessThan(expected);
    client.socket.resume();
    await client.waitFor((text) => text.length >= expected);
    expect(client.received.endsWith(okReply("2", "PONG"))).toBe(true);
    expect(closes).toEqual([]);
  }, 90_000);
});

describe("a request must arrive whole within --request-timeout of its first byte", () => {
  /** Writes `text` one byte every `everyMs` until the server closes; resolves when it has. */
  async function trickle(client: import("../support/harness.ts").RawClient, text: string, everyMs: number): Promise<void> {
    for (const byte of text) {
      if (client.isClosed) return;
      client.write(byte);
      await Bun.sleep(everyMs);
    }
  }

  test("a head sent one byte at a time is cut off with ERR: at the limit, after the replies already owed", async () => {
    const closed = Promise.withResolvers<CloseInfo>();
    await using server = await startServer({ requestTimeout: 0.5, idleTimeout: 60 }, (s) => s.command("PING", () => "PONG").on("close", (_conn, info) => closed.resolve(info)));
    await using client = await connectAdmitted(server.port);
    client.write(request("PING", "1"));
    await client.waitFor(okReply("1", "PONG"));
    const started = performance.now();
    // Every byte restarts the idle timer, never the request timer (bounded: one head's bytes).
    void trickle(client, request("PING", "2") + request("PING", "3"), 50);
    const received = await client.untilClosed();
    expect(received).toBe(GREETING + okReply("1", "PONG") + errorLine("request did not arrive in full within 0.5 s of its first byte"));
    expect(performance.now() - started).toBeLessThan(3000);
    expect((await closed.promise)?.code).toBe("REQUEST_TIMEOUT");
  }, 20_000);

  test("a body that trickles in is cut off the same way, whatever its size", async () => {
    await using server = await startServer({ requestTimeout: 0.5 }, (s) => s.command("ECHO", (req) => req.body));
    await using client = await connectAdmitted(server.port);
    client.write(`ECHO\r\nSequence: 1\r\nSize: 100000\r\n\r\n${"x".repeat(20_000)}`);
    void trickle(client, "y".repeat(100), 50);
    expect(await client.untilClosed()).toBe(GREETING + errorLine("request did not arrive in full within 0.5 s of its first byte"));
  }, 20_000);

  test("requests that each arrive in time are never cut off, however long the connection lives", async () => {
    await using server = await startServer({ requestTimeout: 0.5 }, (s) => s.command("PING", () => "PONG"));
    await using client = await connectAdmitted(server.port);
    // Each request takes 0.3 s to arrive, the next begins at once: 2.4 s of slow input in all.
    for (let i = 0; i < 8; i++) {
      const wire = request("PING", String(i));
      client.write(wire.slice(0, 5));
      await Bun.sleep(300);
      client.write(wire.slice(5));
    }
    await client.waitFor(okReply("7", "PONG"));
    expect(client.isClosed).toBe(false);
    expect(client.received).not.toContain("ERR:");
  }, 20_000);
});

