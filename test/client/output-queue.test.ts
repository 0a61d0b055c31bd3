// The client's output queue under backpressure: a socket that takes only part of each write
// still receives every byte, once, in order, text and binary bodies interleaved.

import { describe, expect, test } from "bun:test";
import { OutputQueue } from "../../src/client/output-queue.ts";

/** A socket that takes at most `room` bytes per write, and records them. */
function stingySocket(room: number) {
  const taken: number[] = [];
  return {
    taken,
    room,
    write(data: Uint8Array): number {
      const n = Math.min(this.room, data.length);
      for (let i = 0; i < n; i++) taken.push(data[i]!);
      return n;
    },
  };
}

describe("OutputQueue", () => {
  test("keeps what the socket did not take and writes it first on the next drain", () => {
    const queue = new OutputQueue();
    const socket = stingySocket(3);
    queue.enqueue("AB", "cd");
    queue.enqueue("EF", Uint8Array.of(1, 2, 3));
    queue.enqueue("GH", undefined);
    let drains = 0;
    while (!queue.writeTo(socket)) {
      queue.enqueue(`${drains % 10}`, undefined); // more calls arrive while the socket is full
      drains++;
      if (drains > 100) throw new Error("the queue never emptied");
    }
    const expected = [..."ABcdEF"].map((c) => c.charCodeAt(0)).concat([1, 2, 3], [..."GH"].map((c) => c.charCodeAt(0)));
    for (let i = 0; i < drains; i++) expected.push(String(i % 10).charCodeAt(0));
    expect(socket.taken).toEqual(expected);
    expect(queue.buffered).toBe(0);
  });

  test("drops nothing and writes nothing twice when the socket is closed (write returns -1)", () => {
    const queue = new OutputQueue();
    queue.enqueue("PING\r\n\r\n", undefined);
    expect(queue.writeTo({ write: () => -1 })).toBe(true);
    expect(queue.buffered).toBe(0);
  });
});
