// BodyAssembly, bytes in and parts out: the parts joined are the body whatever the cuts; a large
// piece of a read of ours stays a view of it, small pieces and bytes not ours are copied; a
// trickle makes few parts; and what the parts hold alive stays near the body's own size.

import { describe, expect, test } from "bun:test";
import { BodyAssembly } from "../../src/server/body-assembly.ts";
import { fuzzSeed, mulberry32 } from "../support/prng.ts";

function joined(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Feeds `body` cut at `cuts` (each read a buffer of its own, as Bun gives them) and returns the parts. */
function assemble(body: Uint8Array, cuts: readonly number[], owned = true): readonly Uint8Array[] {
  const assembly = new BodyAssembly(body.byteLength);
  let at = 0;
  for (const end of [...cuts, body.byteLength]) {
    if (end <= at) continue;
    assembly.add(body.slice(at, end), 0, end - at, owned);
    at = end;
  }
  expect(assembly.missing).toBe(0);
  return assembly.finish();
}

/** Bytes of distinct ArrayBuffers the parts keep alive. */
function heldBytes(parts: readonly Uint8Array[]): number {
  return [...new Set(parts.map((part) => part.buffer))].reduce((sum, buffer) => sum + buffer.byteLength, 0);
}

const body = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);

describe("BodyAssembly", () => {
  test("the parts joined are the body, for seeded random cuts of reads ours and not ours", () => {
    const seed = fuzzSeed();
    const next = mulberry32(seed);
    for (let round = 0; round < 200; round++) {
      const cuts = Array.from({ length: 1 + ((next() * 20) | 0) }, () => (next() * body.byteLength) | 0).sort((a, b) => a - b);
      const owned = next() < 0.7;
      const parts = assemble(body, cuts, owned);
      if (Buffer.compare(joined(parts), body) !== 0) throw new Error(`seed ${seed}, round ${round}: cuts ${cuts.join(",")} gave other bytes`);
      expect(heldBytes(parts)).toBeLessThanOrEqual(2 * body.byteLength + 64 * 1024);
    }
  });

  test("a large piece of a read of ours is kept as it is, a small one and a piece not ours are copied", () => {
    const assembly = new BodyAssembly(100_000);
    const large = new Uint8Array(60_000).fill(1);
    const small = new Uint8Array(1_000).fill(2);
    const slot = new Uint8Array(39_000).fill(3);
    assembly.add(small, 0, small.byteLength, true);
    assembly.add(large, 0, large.byteLength, true);
    assembly.add(slot, 0, slot.byteLength, false);
    const parts = assembly.finish();
    expect(parts.map((part) => part.byteLength)).toEqual([1_000, 60_000, 39_000]);
    expect(parts[1]).toBe(large);
    expect(parts[0]!.buffer).not.toBe(small.buffer);
    expect(parts[2]!.buffer).not.toBe(slot.buffer);
  });

  test("a piece that is less than half of its read is copied, so that no view holds a read twice its size alive", () => {
    const read = new Uint8Array(100_000).fill(4);
    const assembly = new BodyAssembly(40_000);
    assembly.add(read, 60_000, 100_000, true);
    const [part] = assembly.finish();
    expect(part!.buffer).not.toBe(read.buffer);
    expect(Buffer.compare(part!, read.subarray(60_000))).toBe(0);
  });

  test("1 MiB trickled a byte at a time makes a part per 64 KiB, not one per byte", () => {
    const size = 1024 * 1024;
    const assembly = new BodyAssembly(size);
    const byte = new Uint8Array(1);
    for (let i = 0; i < size; i++) {
      byte[0] = i & 0xff;
      assembly.add(byte, 0, 1, true);
    }
    const parts = assembly.finish();
    expect(parts.length).toBe(16);
    expect(joined(parts).every((value, i) => value === (i & 0xff))).toBe(true);
  });
});
