// Connections still in their TLS handshake have proved nothing, so they cannot lock anyone out:
// they get a budget of their own, the oldest one that has not even sent a ClientHello makes
// room for a newcomer, one address may hold only so many, and a flood of refusals is counted
// in full but logged once per address and interval. 127.0.0.2 plays the attacker's address.

import { describe, expect, test } from "bun:test";
import { connect, type Socket as NetSocket } from "node:net";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { GREETING, okReply, request } from "../support/wire.ts";
import type { RefusalInfo } from "../../src/index.ts";

/** Opens `count` plain TCP sockets from `localAddress` that never start TLS; resolves once all are connected. */
async function idleSockets(port: number, count: number, localAddress = "127.0.0.2"): Promise<NetSocket[] & Disposable> {
  const sockets = await Promise.all(
    Array.from({ length: count }, () => {
      const { promise, resolve } = Promise.withResolvers<NetSocket>();
      const socket = connect({ host: "127.0.0.1", port, localAddress }, () => resolve(socket));
      socket.on("error", () => resolve(socket));
      return promise;
    }),
  );
  return Object.assign(sockets, { [Symbol.dispose]: () => sockets.forEach((socket) => socket.destroy()) });
}

/** Polls `condition` every 10 ms (bounded: 5 s), for server-side counters no event announces. */
async function eventually(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await Bun.sleep(10);
  expect(condition()).toBe(true);
}

describe("connections in their handshake", () => {
  test("while 60 sockets from one address sit before their handshake, a client from another is admitted within a second, every time", async () => {
    await using server = await startServer({ maxConnections: 50 }, (s) => s.command("PING", () => "PONG"));
    using attackers = await idleSockets(server.port, 60);
    // Every slot is held by a socket that never said a word.
    await eventually(() => server.stats().connections === 50);
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      await using client = await connectAdmitted(server.port);
      expect(performance.now() - started).toBeLessThan(1000);
      client.write(request("PING", String(round)));
      await client.waitFor(okReply(String(round), "PONG"));
      expect(client.received).toBe(GREETING + okReply(String(round), "PONG"));
    }
    expect(attackers.length).toBe(60);
    // 10 made room for the last attackers, at least one for the first client (later ones may reuse its slot).
    expect(server.metrics.refused.get("HANDSHAKE_EVICTED")).toBeGreaterThanOrEqual(10 + 1);
  }, 30_000);

  test("handshakes get a budget of their own: admitted clients keep the other slots", async () => {
    await using server = await startServer({ maxConnections: 50, maxHandshakes: 10 });
    const admitted = await Promise.all(Array.from({ length: 5 }, () => connectAdmitted(server.port)));
    try {
      using _attackers = await idleSockets(server.port, 30);
      // 10 handshaking sockets at most; the 20 others made room for each other, oldest first.
      await eventually(() => server.metrics.refused.get("HANDSHAKE_EVICTED") === 20);
      expect(server.stats().connections).toBe(5 + 10);
      await using late = await connectAdmitted(server.port);
      expect(late.received).toBe(GREETING);
    } finally {
      await Promise.all(admitted.map((client) => client[Symbol.asyncDispose]()));
    }
  }, 30_000);

  test("one address may hold only --max-handshakes-per-address; the refusals are counted each and logged once", async () => {
    const refused: RefusalInfo[] = [];
    await using server = await startServer({ maxHandshakesPerAddress: 20 }, (s) => s.on("refuse", (info) => refused.push(info)));
    using _attackers = await idleSockets(server.port, 60);
    await eventually(() => server.metrics.refused.get("ADDRESS_LIMIT") === 40);
    expect(server.stats().connections).toBe(20);
    expect(refused.map((info) => [info.code, info.remoteAddress, info.repeated])).toEqual([["ADDRESS_LIMIT", "127.0.0.2", undefined]]);
    expect(refused[0]!.reason).toBe("127.0.0.2 has 20 connections in their TLS handshake, its limit");
    await using client = await connectAdmitted(server.port);
    expect(client.received).toBe(GREETING);
  }, 30_000);
});
