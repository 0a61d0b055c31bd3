// The slab: 8 KiB per slot, columns laid out as documented in one ArrayBuffer, message buffers
// made 128 slots at a time as slots are first used, slots reused with a new generation so that
// stale handles are refused.

import { describe, expect, test } from "bun:test";
import { ConnectionSlab, MESSAGE_BYTES, MESSAGE_CHUNK_SLOTS, SLOT_BYTES, SlotFlag, USER_DATA_BYTES } from "../../src/slab/slab.ts";

describe("ConnectionSlab", () => {
  test("8 KiB per slot: 64 private and 64 handler data aligned on 64 in one ArrayBuffer, 8064 message", () => {
    const slab = new ConnectionSlab(100);
    expect(SLOT_BYTES).toBe(8192);
    expect(MESSAGE_BYTES).toBe(8064);
    expect(slab.memory.byteLength).toBe(100 * 128);
    for (const column of [slab.deadline, slab.generation, slab.flags, slab.fill, slab.scanFrom, slab.inflight]) {
      expect(column.buffer).toBe(slab.memory);
    }
    expect(slab.userData.buffer).toBe(slab.memory);
    expect(slab.userData.byteOffset % 64).toBe(0);
    expect(slab.userData.byteOffset).toBe(100 * 64);
    expect(slab.userDataOf(3).byteOffset).toBe(100 * 64 + 3 * USER_DATA_BYTES);
    slab.allocate();
    expect(slab.messagesOf(0).byteLength).toBe(100 * MESSAGE_BYTES);
    expect(slab.messageBase(99)).toBe(99 * MESSAGE_BYTES);
    expect(slab.bytes).toBe(100 * SLOT_BYTES);
  });

  test("message buffers are made 128 slots at a time, as the slots are first handed out", () => {
    const capacity = 10_000;
    const slab = new ConnectionSlab(capacity);
    // Only the columns up front: 1.25 MiB for 10,000 slots, not 80 MB.
    expect(slab.bytes).toBe(capacity * 128);
    const handles = Array.from({ length: MESSAGE_CHUNK_SLOTS + 1 }, () => slab.allocate());
    expect(slab.bytes).toBe(capacity * 128 + 2 * MESSAGE_CHUNK_SLOTS * MESSAGE_BYTES);
    const last = slab.slotOf(handles.at(-1)!);
    const first = slab.slotOf(handles[0]!);
    expect(last).toBe(MESSAGE_CHUNK_SLOTS);
    expect(slab.messageBase(last)).toBe(0);
    expect(slab.messagesOf(last)).not.toBe(slab.messagesOf(first));
    // Slots of one chunk have message buffers that do not overlap.
    const [a, b] = [slab.slotOf(handles[126]!), slab.slotOf(handles[127]!)];
    expect(slab.messagesOf(a)).toBe(slab.messagesOf(b));
    expect(slab.messageBase(b) - slab.messageBase(a)).toBe(MESSAGE_BYTES);
    expect(slab.messageBase(b) + MESSAGE_BYTES).toBe(slab.messagesOf(b).byteLength);
    // A released slot is reused before a new one: no new chunk.
    slab.release(handles[5]!);
    slab.allocate();
    expect(slab.bytes).toBe(capacity * 128 + 2 * MESSAGE_CHUNK_SLOTS * MESSAGE_BYTES);
    // The last chunk holds only what is left of the capacity.
    const small = new ConnectionSlab(130);
    for (let i = 0; i < 130; i++) small.allocate();
    expect(small.messagesOf(129).byteLength).toBe(2 * MESSAGE_BYTES);
    expect(small.bytes).toBe(130 * SLOT_BYTES);
  });

  test("allocate hands out every slot once, then -1", () => {
    const slab = new ConnectionSlab(3);
    const handles = [slab.allocate(), slab.allocate(), slab.allocate()];
    expect(new Set(handles.map((h) => slab.slotOf(h)))).toEqual(new Set([0, 1, 2]));
    expect(slab.allocate()).toBe(-1);
    expect(slab.inUse).toBe(3);
  });

  test("a released slot comes back with a new generation and the old handle is stale", () => {
    const slab = new ConnectionSlab(1);
    const first = slab.allocate();
    slab.userDataOf(0)[5] = 42;
    slab.fill[0] = 100;
    expect(slab.release(first)).toBe(true);
    expect(slab.slotOf(first)).toBe(-1);
    expect(slab.release(first)).toBe(false);
    const second = slab.allocate();
    expect(second).not.toBe(first);
    expect(slab.slotOf(second)).toBe(0);
    expect(slab.slotOf(first)).toBe(-1);
    expect(slab.userDataOf(0)[5]).toBe(0);
    expect(slab.fill[0]).toBe(0);
    expect(slab.flags[0]).toBe(SlotFlag.IN_USE);
  });

  test("slotOf refuses malformed handles", () => {
    const slab = new ConnectionSlab(2);
    slab.allocate();
    for (const bad of [-1, 1.5, Number.NaN, 2, 2 ** 21 + 5]) expect(slab.slotOf(bad)).toBe(-1);
  });

  test("capacity is checked", () => {
    expect(() => new ConnectionSlab(0)).toThrow(RangeError);
    expect(() => new ConnectionSlab(1.5)).toThrow(RangeError);
  });
});
