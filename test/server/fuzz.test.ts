// A seeded fuzz over real sockets: connections that send valid requests mixed with garbage,
// cut at random offsets, must each get well-formed replies and at most one ERR: line before
// the close, while a well-behaved connection beside them is served in full. Print the seed
// on failure; rerun with GNP_FUZZ_SEED to reproduce.

import { expect, test } from "bun:test";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { GREETING, okReply, request } from "../support/wire.ts";
import { fuzzSeed, mulberry32 } from "../support/prng.ts";


const REPLY_OR_ERROR = /^(?:(?:OK|ERR)\r\nSequence: [^\r\n]+\r\nSize: (\d+)\r\n\r\n)|^ERR: [^\r\n]+\r\n$/;

/** Checks that `text` is the greeting, well-formed replies, and at most one final ERR: line. */
function assertWellFormed(text: string): void {
  expect(text.startsWith(GREETING)).toBe(true);
  let rest = text.slice(GREETING.length);
  for (let guard = 0; rest.length > 0 && guard < 10_000; guard++) {
    const match = REPLY_OR_ERROR.exec(rest);
    if (match === null) throw new Error(`malformed output at ${JSON.stringify(rest.slice(0, 80))}`);
    if (match[0].startsWith("ERR: ")) {
      rest = rest.slice(match[0].length);
      expect(rest).toBe("");
      return;
    }
    rest = rest.slice(match[0].length + Number(match[1]));
  }
  expect(rest).toBe("");
}

test("random garbage and random cuts never break the server or a neighbour", async () => {
  const seed = fuzzSeed();
  const random = mulberry32(seed);
  const pieces = ["PING", " ", "\r\n", "\r", "\n", "Sequence: 1", "Size: 3", "Size: x", ":", "\0", "\xff", "é", "abc", "\r\n\r\n"];
  try {
    await using server = await startServer({ maxBody: 64 }, (s) => s.command("PING", () => "PONG").command("ECHO", (req) => req.body));
    await using neighbour = await connectAdmitted(server.port);
    const fuzzed = await Promise.all(Array.from({ length: 30 }, () => connectAdmitted(server.port)));
    let neighbourExpected = GREETING;
    for (let round = 0; round < 20; round++) {
      for (const [index, client] of fuzzed.entries()) {
        if (client.isClosed) continue;
        let wire = "";
        const parts = 1 + Math.floor(random() * 8);
        for (let p = 0; p < parts; p++) {
          wire += random() < 0.5 ? request("PING", `${index}-${round}-${p}`) : pieces[Math.floor(random() * pieces.length)];
        }
        const bytes = Uint8Array.from(wire, (c) => c.charCodeAt(0) & 0xff);
        let offset = 0;
        while (offset < bytes.length) {
          const take = 1 + Math.floor(random() * 16);
          client.write(bytes.subarray(offset, offset + take));
          offset += take;
        }
      }
      neighbour.write(request("ECHO", `n${round}`, `r${round}`));
      neighbourExpected += okReply(`n${round}`, `r${round}`);
      await Bun.sleep(1);
    }
    await neighbour.waitFor((text) => text.length >= neighbourExpected.length);
    expect(neighbour.received).toBe(neighbourExpected);
    await Promise.all(fuzzed.map((client) => client[Symbol.asyncDispose]()));
    for (const client of fuzzed) assertWellFormed(client.received);
  } catch (error) {
    console.error(`server fuzz failed with GNP_FUZZ_SEED=${seed}`);
    throw error;
  }
}, 30_000);
