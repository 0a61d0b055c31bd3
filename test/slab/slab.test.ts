// The slab: one ArrayBuffer of 8 KiB slots, columns laid out as documented, slots reused
// with a new generation so that stale handles are refused.

import { describe, expect, test } from "bun:test";
import { ConnectionSlab, MESSAGE_BYTES, SLOT_BYTES, SlotFlag, USER_DATA_BYTES } from "../../src/slab/slab.ts";

describe("ConnectionSlab", () => {
  test("one ArrayBuffer holds 8 KiB per slot: 64 private, 64 handler data aligned on 64, 8064 message", () => {
    const slab = new ConnectionSlab(100);
    expect(SLOT_BYTES).toBe(8192);
    expect(MESSAGE_BYTES).toBe(8064);
    expect(slab.memory.byteLength).toBe(100 * 8192);
    for (const column of [slab.deadline, slab.generation, slab.flags, slab.fill, slab.scanFrom, slab.inflight]) {
      expect(column.buffer).toBe(slab.memory);
    }
    expect(slab.userData.buffer).toBe(slab.memory);
    expect(slab.userData.byteOffset % 64).toBe(0);
    expect(slab.userData.byteOffset).toBe(100 * 64);
    expect(slab.messages.byteOffset).toBe(100 * 128);
    expect(slab.messages.byteOffset + slab.messages.byteLength).toBe(slab.memory.byteLength);
    expect(slab.userDataOf(3).byteOffset).toBe(100 * 64 + 3 * USER_DATA_BYTES);
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
