// The client library against the real server over real TLS on 127.0.0.1: calls, pipelining,
// replies out of order, ERR replies, bodies and headers, pushes, timeouts, close and misuse.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type GnpClient, type Push } from "../../src/client/index.ts";
import { GnpError } from "../../src/errors.ts";
import { startServer, type TestServer } from "../support/harness.ts";
import { makeTestPki, type TestPki } from "../support/pki.ts";
import { rejection } from "../support/rejection.ts";

let pki: TestPki;
let server: TestServer;
/** Resolved by tests that need a handler to stay pending until they say so. */
let release = Promise.withResolvers<void>();

beforeAll(async () => {
  pki = await makeTestPki();
  // Room for the backpressure test's 14 MB of echoes: the default 4 MiB would cut it off.
  server = await startServer({ maxOutput: 32 * 1024 * 1024 }, (s) => {
    s.command("PING", () => "PONG");
    s.command("ECHO", (req) => ({ body: req.body, headers: [["X-Seen", req.header("x-test") ?? "-"]] }));
    s.command("SLOW", async (req) => {
      await Bun.sleep(Number(req.args[0]));
      return req.args[0];
    });
    s.command("HANG", async () => {
      await release.promise;
      return "late";
    });
    s.command("FAIL", (req) => {
      throw new GnpError("NOT_FOUND", `not found: ${req.args[0]}`);
    });
    s.command("WATCH", (req, conn) => {
      conn.push(req.sequence, "before");
      setTimeout(() => {
        conn.push(req.sequence, "after-1", [["Topic", "t"]]);
        conn.push(req.sequence, "after-2");
      }, 1);
      return "watching";
    });
  });
});

afterAll(async () => {
  release.resolve();
  await server.close();
});

function open(extra: Partial<Parameters<typeof connect>[0]> = {}): Promise<GnpClient> {
  return connect({ port: server.port, cert: pki.good.certificatePem, key: pki.good.privateKeyPem, ca: pki.ca.certificatePem, servername: "localhost", ...extra });
}

describe("GnpClient", () => {
  test("call resolves with the OK reply: status, Sequence, headers and body", async () => {
    await using client = await open();
    const reply = await client.call("PING");
    expect([reply.status, reply.text(), reply.header("size"), reply.headers[0]?.[0]]).toEqual(["OK", "PONG", "4", "Sequence"]);
  });

  test("10,000 pipelined calls each get their own reply", async () => {
    await using client = await open();
    const replies = await Promise.all(Array.from({ length: 10_000 }, (_, i) => client.call("ECHO", [], { body: `n${i}` })));
    expect(replies.every((reply, i) => reply.text() === `n${i}`)).toBe(true);
    expect(new Set(replies.map((reply) => reply.sequence)).size).toBe(10_000);
    expect(client.pending).toBe(0);
  });

  test("replies that come back out of order settle the call with their Sequence", async () => {
    await using client = await open();
    const order: string[] = [];
    const slow = client.call("SLOW", ["60"]).then((reply) => order.push(reply.text()));
    const fast = client.call("SLOW", ["1"]).then((reply) => order.push(reply.text()));
    await Promise.all([slow, fast]);
    expect(order).toEqual(["1", "60"]);
  });

  test("an ERR reply rejects with REPLY_ERROR and the server's message, and the connection stays usable", async () => {
    await using client = await open();
    const error = await rejection(client.call("FAIL", ["users/1"]));
    expect([error.code, error.message]).toEqual(["REPLY_ERROR", "not found: users/1"]);
    const unknown = await rejection(client.call("NOPE"));
    expect([unknown.code, unknown.message]).toEqual(["REPLY_ERROR", "unknown command 'NOPE'"]);
    expect((await client.call("PING")).text()).toBe("PONG");
  });

  test("bodies go out as bytes and headers arrive in order", async () => {
    await using client = await open();
    const binary = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256);
    const reply = await client.call("ECHO", [], { body: binary, headers: { "X-Test": "yes" } });
    expect(reply.body).toEqual(binary);
    expect(reply.header("X-SEEN")).toBe("yes");
    const text = await client.call("ECHO", [], { body: '{"name":"Jö"}', headers: [["X-Test", "json"]] });
    expect(text.json()).toEqual({ name: "Jö" });
    expect(text.header("x-seen")).toBe("json");
  });

  test("calls larger than what the socket takes at once all arrive, in order (backpressure)", async () => {
    await using client = await open();
    const bodies = Array.from({ length: 16 }, (_, i) => new Uint8Array(900_000).fill(i + 1));
    const replies = await Promise.all(bodies.map((body) => client.call("ECHO", [], { body })));
    expect(replies.map((reply) => reply.body.length === 900_000 && reply.body.every((b) => b === reply.body[0]) && reply.body[0])).toEqual(
      bodies.map((_, i) => i + 1),
    );
  });

  test("json() of a body that is not JSON throws BAD_REPLY", async () => {
    await using client = await open();
    const reply = await client.call("PING");
    expect(() => reply.json()).toThrow(GnpError);
  });

  test("a caller's own Sequence is used and returned", async () => {
    await using client = await open();
    expect((await client.call("PING", [], { sequence: "req-42" })).sequence).toBe("req-42");
  });

  test("pushes reach the subscriber of their Sequence, before and after the OK reply", async () => {
    await using client = await open();
    const got: string[] = [];
    const done = Promise.withResolvers<void>();
    const subscription = await client.subscribe("WATCH", [], (push: Push) => {
      got.push(`${push.status} ${push.sequence} ${push.text()} ${push.header("topic") ?? ""}`);
      if (got.length === 3) done.resolve();
    });
    expect(subscription.reply.text()).toBe("watching");
    await done.promise;
    const seq = subscription.sequence;
    expect(got).toEqual([`PUSH ${seq} before `, `PUSH ${seq} after-1 t`, `PUSH ${seq} after-2 `]);
    subscription.unsubscribe();
    expect(client.unsubscribe(subscription.sequence)).toBe(false);
  });

  test("pushes nobody subscribed to go to the connection's onPush", async () => {
    const got: string[] = [];
    const done = Promise.withResolvers<void>();
    await using client = await open({
      onPush: (push) => {
        got.push(push.text());
        if (got.length === 3) done.resolve();
      },
    });
    await client.call("WATCH");
    await done.promise;
    expect(got).toEqual(["before", "after-1", "after-2"]);
  });

  test("a call without a reply in time rejects with CALL_TIMEOUT, and its late reply is ignored", async () => {
    release = Promise.withResolvers<void>();
    await using client = await open();
    const error = await rejection(client.call("HANG", [], { timeout: 20 }));
    expect(error.code).toBe("CALL_TIMEOUT");
    expect(error.message).toContain("HANG (Sequence");
    release.resolve();
    expect((await client.call("PING")).text()).toBe("PONG");
    expect(client.pending).toBe(0);
  });

  test("close() lets calls in flight finish, then refuses new calls with STALE_CONNECTION", async () => {
    const client = await open();
    const inFlight = client.call("SLOW", ["20"]);
    const closing = client.close();
    const late = await rejection(client.call("PING"));
    expect(late.code).toBe("STALE_CONNECTION");
    expect((await inFlight).text()).toBe("20");
    await closing;
    expect(await client.closed).toBeUndefined();
  });

  test("a second close() waits for the first: calls in flight still get their replies", async () => {
    const client = await open();
    const slow = client.call("SLOW", ["60"]);
    void client.close();
    await client.close();
    expect((await slow).text()).toBe("60");
  });

  test("a Sequence whose call timed out is not reused until its late reply has come", async () => {
    await using client = await open();
    const timedOut = rejection(client.call("SLOW", ["80"], { sequence: "x", timeout: 20 }));
    expect((await timedOut).code).toBe("CALL_TIMEOUT");
    expect(() => client.call("PING", [], { sequence: "x" })).toThrow(RangeError);
    // A later, longer SLOW is answered after the late one (earlier timer, same socket): by then it has arrived and been dropped.
    await client.call("SLOW", ["100"]);
    expect((await client.call("PING", [], { sequence: "x" })).text()).toBe("PONG");
  });

  test("terminate() rejects pending calls with CONNECTION_LOST", async () => {
    release = Promise.withResolvers<void>();
    const client = await open();
    const pending = rejection(client.call("HANG"));
    await client.call("PING"); // HANG is surely on the server now
    client.terminate();
    const error = await pending;
    expect([error.code, error.message]).toEqual(["CONNECTION_LOST", "connection closed by the client"]);
    release.resolve();
  });

  test("misuse throws TypeError or RangeError before anything is sent", async () => {
    await using client = await open();
    expect(() => client.call("TWO WORDS")).toThrow(TypeError);
    expect(() => client.call("GET", ["a b"])).toThrow(TypeError);
    expect(() => client.call("GET", [], { headers: [["Sequence", "9"]] })).toThrow(TypeError);
    expect(() => client.call("GET", [], { headers: [["X-Bad", "a\r\nb"]] })).toThrow(TypeError);
    expect(() => client.call("GET", [], { sequence: "has space" })).toThrow(TypeError);
    expect(() => client.call("GET", [], { timeout: -1 })).toThrow(RangeError);
    const held = client.call("SLOW", ["5"], { sequence: "mine" });
    expect(() => client.call("PING", [], { sequence: "mine" })).toThrow(RangeError);
    await held;
    expect(() => connect({ port: 0, cert: "x", key: "y" })).toThrow(RangeError);
    expect(() => connect({ port: 1, cert: pki.good.certificatePem, key: pki.good.privateKeyPem, ca: pki.ca.certificatePem, insecure: true })).toThrow(TypeError);
  });
});
