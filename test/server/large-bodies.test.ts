// Bodies larger than a connection's slot, over real TLS: however the client cuts its writes,
// the built-in ECHO sends back every byte as it came (from the reads themselves, in parts),
// `body` gives the same bytes joined, and `bodyParts` a handler keeps are not changed by the
// reads that follow (Bun gives each read a buffer of its own).

import { describe, expect, test } from "bun:test";
import { MemoryStore } from "../../src/index.ts";
import { installApp } from "../../src/app/install-app.ts";
import { mulberry32 } from "../support/prng.ts";
import { connectAdmitted, startServer, type RawClient } from "../support/harness.ts";
import { GREETING } from "../support/wire.ts";

const MiB = 1024 * 1024;
const latin1 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");

/** `size` bytes of every value 0-255, seeded, so that a byte out of place shows. */
function bodyOf(size: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const body = new Uint8Array(size);
  for (let i = 0; i < size; i++) body[i] = (next() * 256) | 0;
  return body;
}

/** An OK reply with `body` as the text RawClient shows (latin1: one character a byte). */
function replyText(sequence: string, body: Uint8Array): string {
  return `OK\r\nSequence: ${sequence}\r\nSize: ${body.byteLength}\r\n\r\n${latin1(body)}`;
}

function requestBytes(command: string, sequence: string, body: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(`${command}\r\nSequence: ${sequence}\r\nSize: ${body.byteLength}\r\n\r\n`), body]);
}

/**
 * Writes `wire` in pieces of the sizes given (the rest in one), each waiting for the socket to
 * take the one before, so that the server's reads are cut near those places.
 */
async function writeInPieces(client: RawClient, wire: Uint8Array, pieces: readonly number[]): Promise<void> {
  let at = 0;
  for (const size of [...pieces, wire.byteLength]) {
    const end = Math.min(at + size, wire.byteLength);
    if (end > at) client.write(wire.subarray(at, end));
    at = end;
    await Bun.sleep(0);
  }
}

describe("bodies larger than the slot", () => {
  // Cuts on both sides of the slot's end (8,064 bytes with the head), of a TLS record (16 KiB)
  // and of the size from which a read's piece is kept as it is, and a trickle of single bytes.
  const cuts: Record<string, number[]> = {
    "in one write": [],
    "cut at odd places": [1, 7, 8_063, 8_065, 16_383, 16_385, 65_537, 300_001],
    "trickled a byte at a time at its start and end": [...Array(300).fill(1), 1_048_000, ...Array(200).fill(1)],
  };
  for (const [name, pieces] of Object.entries(cuts)) {
    test(`a 1 MiB body echoed by ECHO comes back byte for byte when ${name}`, async () => {
      await using server = await startServer({}, (s) => s.command("JOINED", (req) => req.body));
      await installApp(server, new MemoryStore());
      await using client = await connectAdmitted(server.port);
      const body = bodyOf(MiB, 1);
      await writeInPieces(client, requestBytes("ECHO", "e", body), pieces);
      await writeInPieces(client, requestBytes("JOINED", "j", body), pieces);
      const expected = GREETING + replyText("e", body) + replyText("j", body);
      await client.waitFor((text) => text.length >= expected.length);
      expect(client.received === expected).toBe(true);
    });
  }

  test("body parts a handler keeps are not changed by the reads after them", async () => {
    const kept = new Map<string, readonly Uint8Array[]>();
    await using server = await startServer({}, (s) =>
      s
        .command("KEEP", (req) => {
          kept.set(req.args[0]!, req.bodyParts);
          return String(req.bodyParts.length);
        })
        .command("SHOW", (req) => kept.get(req.args[0]!)!),
    );
    await using client = await connectAdmitted(server.port);
    const large = bodyOf(600_000, 2);
    await writeInPieces(client, requestBytes("KEEP large", "1", large), [20_000, 200_000]);
    await client.waitFor((text) => text.includes("Sequence: 1\r\n"));
    // Later reads of the same size, with other bytes, over and over.
    for (let i = 0; i < 4; i++) {
      const other = bodyOf(600_000, 10 + i);
      await writeInPieces(client, requestBytes("KEEP other", `x${i}`, other), [20_000, 200_000]);
      await client.waitFor((text) => text.includes(`Sequence: x${i}\r\n`));
    }
    client.write("SHOW large\r\nSequence: 2\r\n\r\n");
    const shown = replyText("2", large);
    await client.waitFor((text) => text.endsWith(shown));
    // The body came as more than one part: parts were kept, not one copy of them.
    expect(Number(/Sequence: 1\r\nSize: \d+\r\n\r\n(\d+)/.exec(client.received)![1])).toBeGreaterThan(1);
  });
});
