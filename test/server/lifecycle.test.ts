// A connection's life: slots given back and reused, the connection limit, stale handles,
// handler data, pushes, time limits, a client that stops reading, and graceful close().

import { describe, expect, test } from "bun:test";
import { isGnpError, type CloseInfo, type Connection, type RefusalInfo } from "../../src/index.ts";
import { RawClient, connectAdmitted, startServer } from "../support/harness.ts";
import { GREETING, errorLine, okReply, reply, request } from "../support/wire.ts";

describe("connection life", () => {
  test("a closed connection's slot is reused, and the connection limit refuses the one too many", async () => {
    const refused: RefusalInfo[] = [];
    const closed: Promise<void>[] = [];
    let closeSeen: () => void = () => {};
    await using server = await startServer({ maxConnections: 2 }, (s) =>
      s.command("PING", () => "PONG").on("refuse", (info) => refused.push(info)).on("close", () => closeSeen()),
    );
    const first = await connectAdmitted(server.port);
    await using second = await connectAdmitted(server.port);
    const third = await RawClient.connect({ port: server.port });
    expect(await third.untilClosed()).toBe(errorLine("server is at its connection limit"));
    expect(refused.map((info) => info.code)).toEqual(["CONNECTION_LIMIT"]);

    const { promise, resolve } = Promise.withResolvers<void>();
    closeSeen = resolve;
    closed.push(promise);
    first.close();
    await Promise.all(closed);
    await using fourth = await connectAdmitted(server.port);
    fourth.write(request("PING", "1"));
    await fourth.waitFor(okReply("1", "PONG"));
    expect(server.stats().connections).toBe(2);
  });

  test("a Connection handle kept past its close is refused, even once the slot serves another client", async () => {
    const opened: Connection[] = [];
    let closeSeen: () => void = () => {};
    await using server = await startServer({ maxConnections: 1 }, (s) => s.on("open", (conn) => opened.push(conn)).on("close", () => closeSeen()));
    const first = await connectAdmitted(server.port);
    const stale = opened[0]!;
    stale.data[0] = 7;
    const { promise, resolve } = Promise.withResolvers<void>();
    closeSeen = resolve;
    first.close();
    await promise;
    await using second = await connectAdmitted(server.port);
    const fresh = opened[1]!;
    expect(fresh.id).not.toBe(stale.id);
    expect(fresh.data[0]).toBe(0);
    expect(stale.isOpen).toBe(false);
    expect(stale.push("1", "x")).toBe(false);
    let error: unknown;
    try {
      void stale.data;
    } catch (thrown) {
      error = thrown;
    }
    expect(isGnpError(error, "STALE_CONNECTION")).toBe(true);
  });

  test("the 64 bytes of handler data persist across a connection's requests", async () => {
    await using server = await startServer({}, (s) =>
      s.command("INCR", (_req, conn) => {
        const view = new DataView(conn.data.buffer, conn.data.byteOffset, 64);
        view.setUint32(60, view.getUint32(60) + 1);
        return String(view.getUint32(60));
      }),
    );
    await using a = await connectAdmitted(server.port);
    await using b = await connectAdmitted(server.port);
    a.write(request("INCR", "1") + request("INCR", "2") + request("INCR", "3"));
    b.write(request("INCR", "1"));
    await a.waitFor(okReply("3", "3"));
    await b.waitFor(okReply("1", "1"));
  });

  test("pushes carry the Sequence of the request that asked for them", async () => {
    await using server = await startServer({}, (s) =>
      s.command("TICKS", (req, conn) => {
        const n = Number(req.args[0]);
        queueMicrotask(() => {
          for (let i = 1; i <= n; i++) conn.push(req.sequence, `tick ${i}`, [["Tick", String(i)]]);
        });
        return "subscribed";
      }),
    );
    await using client = await connectAdmitted(server.port);
    client.write(request("TICKS 2", "sub-1"));
    const expected = GREETING + okReply("sub-1", "subscribed") + reply("PUSH", "sub-1", "tick 1", [["Tick", "1"]]) + reply("PUSH", "sub-1", "tick 2", [["Tick", "2"]]);
    await client.waitFor((text) => text.length >= expected.length);
    expect(client.received).toBe(expected);
  });

  test("a client that closes its side after its requests still gets every reply", async () => {
    await using server = await startServer({}, (s) =>
      s.command("PING", () => "PONG").command("SLOW", async () => {
        await Bun.sleep(50);
        return "late";
      }),
    );
    const client = await connectAdmitted(server.port);
    client.write(request("SLOW", "1") + request("PING", "2"));
    client.socket.shutdown();
    expect(await client.untilClosed()).toBe(GREETING + okReply("2", "PONG") + okReply("1", "late"));
  });

  test("push refuses a Sequence that could forge a message, and a body of the wrong type", async () => {
    const errors: string[] = [];
    await using server = await startServer({}, (s) =>
      s.command("EVIL", (req, conn) => {
        for (const bad of ["x\r\nSize: 0\r\n\r\nOK", "", "a b"]) {
          try {
            conn.push(bad, "forged");
          } catch (error) {
            errors.push((error as Error).name);
          }
        }
        try {
          conn.push(req.sequence, 42 as unknown as string);
        } catch (error) {
          errors.push((error as Error).name);
        }
        return "done";
      }),
    );
    await using client = await connectAdmitted(server.port);
    client.write(request("EVIL", "1"));
    await client.waitFor(okReply("1", "done"));
    expect(client.received).toBe(GREETING + okReply("1", "done"));
    expect(errors).toEqual(["TypeError", "TypeError", "TypeError", "TypeError"]);
  });

  test("a handler can close its connection with a reason, after the replies already queued", async () => {
    await using server = await startServer({}, (s) =>
      s.command("PING", () => "PONG").command("BYE", (_req, conn) => {
        conn.close("goodbye");
        return "never sent";
      }),
    );
    await using client = await connectAdmitted(server.port);
    client.write(request("PING", "1") + request("BYE", "2") + request("PING", "3"));
    expect(await client.untilClosed()).toBe(GREETING + okReply("1", "PONG") + errorLine("goodbye"));
  });
});

describe("time limits and flow control", () => {
  test("an idle connection gets ERR: and is closed after the idle timeout", async () => {
    const closed = Promise.withResolvers<CloseInfo>();
    await using server = await startServer({ idleTimeout: 0.3 }, (s) => s.on("close", (_conn, info) => closed.resolve(info)));
    const client = await connectAdmitted(server.port);
    expect(await client.untilClosed()).toBe(GREETING + errorLine("connection was idle for more than 0.3 s"));
    expect((await closed.promise)?.code).toBe("IDLE_TIMEOUT");
  });

  test("a connection that never finishes its handshake is cut at the handshake timeout", async () => {
    const refused: RefusalInfo[] = [];
    await using server = await startServer({ handshakeTimeout: 0.3 }, (s) => s.on("refuse", (info) => refused.push(info)));
    const { promise: closed, resolve } = Promise.withResolvers<void>();
    // Plain TCP that sends nothing: the TLS handshake never starts.
    await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {}, close: () => resolve() } });
    await closed;
    expect(refused.map((info) => info.code)).toEqual(["HANDSHAKE_TIMEOUT"]);
    expect(server.stats().connections).toBe(0);
  });

  test("a client that stops reading is cut off once its unsent output passes --max-output", async () => {
    const closes: CloseInfo[] = [];
    const serverClosed = Promise.withResolvers<void>();
    const chunk = "x".repeat(64 * 1024);
    await using server = await startServer({ maxOutput: 512 * 1024 }, (s) =>
      // Pushes cannot be held back by pausing input: they are what the output limit is for.
      s.command("FLOOD", (req, conn) => {
        queueMicrotask(() => {
          for (let i = 0; i < 400 && conn.push(req.sequence, chunk); i++);
        });
        return "flooding";
      }).on("close", (_conn, info) => {
        closes.push(info);
        serverClosed.resolve();
      }),
    );
    const client = await connectAdmitted(server.port);
    client.socket.pause();
    client.write(request("FLOOD", "1"));
    await serverClosed.promise;
    client.socket.resume();
    await client.closed;
    expect(closes.map((info) => info?.code)).toEqual(["OUTPUT_OVERFLOW"]);
  });

  test("a client that pipelines more than it reads is paused, not cut off, and gets every reply", async () => {
    const big = "z".repeat(200 * 1024);
    const closes: CloseInfo[] = [];
    await using server = await startServer({ maxOutput: 512 * 1024 }, (s) => s.command("BIG", () => big).on("close", (_conn, info) => closes.push(info)));
    await using client = await connectAdmitted(server.port);
    client.socket.pause();
    // 100 x 200 KiB = 20 MiB of replies asked for in one write, 40 times the output limit.
    client.write(Array.from({ length: 100 }, (_, i) => request("BIG", String(i))).join(""));
    await Bun.sleep(200);
    expect(server.stats().connections).toBe(1);
    client.socket.resume();
    const expectedLength = GREETING.length + Array.from({ length: 100 }, (_, i) => okReply(String(i), big).length).reduce((a, b) => a + b, 0);
    await client.waitFor((text) => text.length >= expectedLength);
    expect(client.received.endsWith(okReply("99", big))).toBe(true);
    expect(closes).toEqual([]);
  });

  test("a slow reader gets every byte once it reads again (backpressure keeps the rest)", async () => {
    const big = "y".repeat(200 * 1024);
    await using server = await startServer({}, (s) => s.command("BIG", () => big));
    await using client = await connectAdmitted(server.port);
    client.socket.pause();
    client.write(Array.from({ length: 10 }, (_, i) => request("BIG", String(i))).join(""));
    await Bun.sleep(100);
    client.socket.resume();
    const expected = GREETING + Array.from({ length: 10 }, (_, i) => okReply(String(i), big)).join("");
    await client.waitFor((text) => text.length >= expected.length);
    expect(client.received === expected).toBe(true);
  });
});

describe("graceful close", () => {
  test("close() lets in-flight commands reply, then sends ERR: server is shutting down, and refuses new work", async () => {
    const executed: string[] = [];
    const server = await startServer({}, (s) =>
      s.command("SLOW", async (req) => {
        executed.push(req.sequence);
        await Bun.sleep(100);
        return "done";
      }),
    );
    const client = await connectAdmitted(server.port);
    client.write(request("SLOW", "1"));
    await Bun.sleep(20);
    const closing = server.close();
    client.write(request("SLOW", "2"));
    expect(await client.untilClosed()).toBe(GREETING + okReply("1", "done") + errorLine("server is shutting down"));
    await closing;
    expect(executed).toEqual(["1"]);
    expect(server.isListening).toBe(false);
  });
});
