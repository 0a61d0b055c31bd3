// Many clients at once: the seed's C server live-locked as soon as a second connection was
// active. Here 1,000 concurrent TLS connections pipeline requests at the same time, and every
// request on every connection must be answered, with nothing crossing between connections.

import { expect, test } from "bun:test";
import { connectAdmitted, startServer, type RawClient } from "../support/harness.ts";
import { GREETING, okReply, request } from "../support/wire.ts";

const CONNECTIONS = 1000;
const PIPELINE = 8;

test(`${CONNECTIONS} concurrent connections pipelining ${PIPELINE} requests each are all answered`, async () => {
  await using server = await startServer({}, (s) => s.command("WHO", (req, conn) => `${conn.id}:${req.sequence}`).command("ECHO", (req) => req.body));
  const clients: RawClient[] = [];
  try {
    // Connect in batches so the handshakes of one batch overlap without exhausting the listen backlog.
    for (let batch = 0; batch < CONNECTIONS; batch += 100) {
      clients.push(...(await Promise.all(Array.from({ length: 100 }, () => connectAdmitted(server.port)))));
    }
    expect(server.stats().connections).toBe(CONNECTIONS);
    const expectations = clients.map((client, c) => {
      let wire = "";
      for (let i = 0; i < PIPELINE; i++) wire += i % 2 === 0 ? request("ECHO", `c${c}-${i}`, `body of ${c}/${i}`) : request("WHO", `c${c}-${i}`);
      client.write(wire);
      return client;
    });
    await Promise.all(
      expectations.map(async (client, c) => {
        await client.waitFor((text) => text.split("\r\n\r\n").length > PIPELINE);
        let expected = GREETING;
        for (let i = 0; i < PIPELINE; i++) expected += i % 2 === 0 ? okReply(`c${c}-${i}`, `body of ${c}/${i}`) : "";
        // WHO replies name the connection's own slab handle: check them apart.
        const whoReplies = [...client.received.matchAll(/OK\r\nSequence: (c\d+-\d+)\r\nSize: \d+\r\n\r\n(\d+):(c\d+-\d+)/g)];
        expect(whoReplies.length).toBe(PIPELINE / 2);
        for (const [, sequence, , echoed] of whoReplies) expect(echoed).toBe(sequence);
        expect(new Set(whoReplies.map((match) => match[2])).size).toBe(1);
        expect(client.received.replace(/OK\r\nSequence: c\d+-\d+\r\nSize: \d+\r\n\r\n\d+:c\d+-\d+/g, "")).toBe(expected);
      }),
    );
  } finally {
    await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
  }
}, 60_000);
