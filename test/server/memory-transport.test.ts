// The in-memory transport is the engine's own path with another socket: the same input gives
// the same bytes as over TLS, the trust rules admit and refuse its certificates, flow control
// and pushes work on it, setTrust and close() reach it, and the hooks see it.

import { describe, expect, test } from "bun:test";
import type { Connection } from "../../src/index.ts";
import { TURN_REQUESTS } from "../../src/server/flow-control.ts";
import { RawClient, startServer } from "../support/harness.ts";
import { connectInMemory, injectText, memoryServer } from "../support/memory-client.ts";
import { makeTestPki } from "../support/pki.ts";
import { GREETING, errReply, errorLine, okReply, reply, request } from "../support/wire.ts";

const pki = await makeTestPki();

/** Commands of every outcome: sync, async, a reply with headers, a throw, a GnpError, an authorizer's refusal. */
function commands(server: import("../../src/index.ts").GnpServer): void {
  server
    .command("PING", () => "PONG")
    .command("LATER", async (req) => `later ${req.args[0]}`)
    .command("HEADERS", () => ({ body: "b", headers: [["X-One", "1"]] }))
    .command("BOOM", () => {
      throw new Error("kaput");
    })
    .command("SECRET", () => "s3cr3t")
    .authorize((_conn, command) => command !== "SECRET");
}

describe("inject", () => {
  test("gives the bytes a TLS client reads for the same input and FIN, byte for byte", async () => {
    const input =
      request("PING", "1") +
      request("ping", "2") +
      request("HEADERS", "3") +
      request("NOPE", "4") +
      request("BOOM", "5") +
      request("SECRET", "6") +
      request("LATER x", "7", "body") +
      request("PING", undefined);
    await using server = await startServer({}, commands);
    const tls = await RawClient.connect({ port: server.port });
    tls.write(input);
    tls.close();
    const overTls = await tls.untilClosed();
    const inMemory = await injectText(server, input);
    expect(inMemory).toBe(overTls);
    expect(inMemory).toBe(
      GREETING +
        okReply("1", "PONG") +
        okReply("2", "PONG") +
        okReply("3", "b", [["X-One", "1"]]) +
        errReply("4", "unknown command 'NOPE'") +
        errReply("5", "command 'BOOM' failed: kaput") +
        errReply("6", "command 'SECRET' is not allowed for CN=alice") +
        okReply("7", "later x") +
        errorLine("missing Sequence header"),
    );
  });

  test("admits a certificate by the trust rules, and refuses one they do not admit with its ERR: line", async () => {
    await using server = await memoryServer();
    server.command("WHO", (_req, conn) => `${conn.identity} ${conn.certificate?.viaCa} ${conn.certificate?.sha256}`);
    expect(await injectText(server, request("WHO", "1"))).toBe(GREETING + okReply("1", `alice true ${pki.good.sha256}`));
    expect(await injectText(server, request("WHO", "1"), { certificate: pki.selfSignedAllowed })).toBe(GREETING + okReply("1", `carol false ${pki.selfSignedAllowed.sha256}`));
    expect(await injectText(server, request("WHO", "1"), { certificate: pki.unknown })).toBe(errorLine(`unknown certificate CN=eve, SHA-1 ${pki.unknown.sha1}`));
    expect(await injectText(server, request("WHO", "1"), { certificate: pki.expired })).toStartWith("ERR: certificate CN=alice-old expired at ");
  });

  test("an identity given without a certificate is the connection's identity, and authorization sees it", async () => {
    await using server = await memoryServer();
    server.command("WHO", (_req, conn) => `${conn.identity} ${conn.certificate === undefined}`).authorize((conn) => conn.identity === "root");
    expect(await injectText(server, request("WHO", "1"), { identity: "root" })).toBe(GREETING + okReply("1", "root true"));
    expect(await injectText(server, request("WHO", "1"), { identity: "alice" })).toBe(GREETING + errReply("1", "command 'WHO' is not allowed for alice"));
  });

  test("answers every request of an input larger than a turn: flow control pauses and resumes it", async () => {
    await using server = await memoryServer();
    server.command("PING", () => "PONG");
    const count = TURN_REQUESTS * 3 + 7;
    const input = Array.from({ length: count }, (_, i) => request("PING", String(i))).join("");
    const expected = GREETING + Array.from({ length: count }, (_, i) => okReply(String(i), "PONG")).join("");
    expect(await injectText(server, input)).toBe(expected);
    // One read per request: what arrives while the connection is paused waits for its resume.
    const client = await connectInMemory(server);
    for (let i = 0; i < count; i++) client.write(request("PING", String(i)));
    client.close();
    expect(await client.untilClosed()).toBe(expected);
  });

  test("a body over the limit is refused with the ERR: line the wire gets", async () => {
    await using server = await memoryServer({ maxBody: 16 });
    server.command("PUT", () => "stored");
    expect(await injectText(server, request("PUT k", "1", "x".repeat(17)))).toBe(GREETING + errorLine('Size 17 exceeds the body limit of 16 bytes'));
  });
});

describe("connectInMemory", () => {
  test("carries pushes, and the hooks see the connection open and close", async () => {
    await using server = await memoryServer();
    const events: string[] = [];
    server.on("open", (conn) => events.push(`open ${conn.identity} ${conn.remoteAddress}`));
    server.on("close", (conn, info) => events.push(`close ${conn.identity} ${info?.code}`));
    let subscriber: Connection | undefined;
    server.command("SUB", (req, conn) => {
      subscriber = conn;
      queueMicrotask(() => conn.push(req.sequence, "tick", [["N", "1"]]));
    });
    const client = await connectInMemory(server, { identity: "watcher" });
    client.write(request("SUB", "s"));
    await client.waitFor(reply("PUSH", "s", "tick", [["N", "1"]]));
    expect(client.received).toBe(GREETING + okReply("s") + reply("PUSH", "s", "tick", [["N", "1"]]));
    client.close();
    await client.closed;
    expect(subscriber?.isOpen).toBe(false);
    expect(events).toEqual(["open watcher in-memory", "close watcher CLIENT_CLOSED"]);
  });

  test("setTrust cuts a connection whose certificate it no longer admits; one vouched for stays", async () => {
    await using server = await memoryServer();
    server.command("PING", () => "PONG");
    const alice = await connectInMemory(server);
    await using root = await connectInMemory(server, { identity: "root" });
    server.setTrust({ allow: [], trustedCas: [] });
    expect(await alice.untilClosed()).toBe(GREETING + errorLine(`unknown certificate CN=alice, SHA-1 ${pki.good.sha1}`));
    root.write(request("PING", "1"));
    await root.waitFor(okReply("1", "PONG"));
  });

  test("close() answers what is running, sends the shutdown line, and refuses new in-memory connections", async () => {
    const server = await memoryServer();
    const release = Promise.withResolvers<string>();
    server.command("WAIT", () => release.promise);
    const client = await connectInMemory(server);
    client.write(request("WAIT", "1"));
    await Bun.sleep(0);
    const closing = server.close();
    release.resolve("done");
    await closing;
    expect(await client.untilClosed()).toBe(GREETING + okReply("1", "done") + errorLine("server is shutting down"));
    expect(() => server.connectInMemory()).toThrow(TypeError);
  });
});
