// The output queue both sides use, under backpressure: a socket that takes only part of each
// write still receives every byte, once, in order, strings and bytes interleaved; corked
// writes leave in one write; the unsent count is what the server's output limit reads.

import { describe, expect, test } from "bun:test";
import { OutputQueue } from "../../src/protocol/output-queue.ts";

const encoder = new TextEncoder();

/** A socket that takes at most `room` bytes per write, and records every write. */
function stingySocket(room: number) {
  const taken: number[] = [];
  const writes: number[] = [];
  return {
    taken,
    writes,
    room,
    write(data: string | Uint8Array): number {
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      const n = Math.min(this.room, bytes.length);
      for (let i = 0; i < n; i++) taken.push(bytes[i]!);
      writes.push(n);
      return n;
    },
  };
}

const codes = (text: string) => [...encoder.encode(text)];

describe("OutputQueue", () => {
  test("keeps what the socket did not take and sends it, in order, as drains come", () => {
    const counter = { bytesOut: 0 };
    const queue = new OutputQueue(counter);
    const socket = stingySocket(3);
    queue.write(socket, "ABcd");
    queue.write(socket, Uint8Array.of(1, 2, 3));
    queue.write(socket, "é GH");
    expect(queue.isBlocked).toBe(true);
    expect(queue.unsentBytes).toBe(1 + 3 + 5);
    let drains = 0;
    while (!queue.drain(socket)) {
      queue.write(socket, `${drains % 10}`); // more messages arrive while the socket is full
      if (++drains > 100) throw new Error("the queue never emptied");
    }
    const expected = [...codes("ABcd"), 1, 2, 3, ...codes("é GH")];
    for (let i = 0; i < drains; i++) expected.push(...codes(String(i % 10)));
    expect(socket.taken).toEqual(expected);
    expect(queue.unsentBytes).toBe(0);
    expect(counter.bytesOut).toBe(expected.length);
  });

  test("corked writes leave in one write when uncorked", () => {
    const queue = new OutputQueue();
    const socket = stingySocket(1000);
    queue.cork();
    queue.write(socket, "OK\r\n");
    queue.write(socket, Uint8Array.of(0x41));
    queue.write(socket, "B");
    expect(socket.writes).toEqual([]);
    queue.uncork(socket);
    expect(socket.writes).toEqual([6]);
    expect(socket.taken).toEqual(codes("OK\r\nAB"));
  });

  test("a caller's buffer may be reused once write() returns: what is kept is a copy", () => {
    const queue = new OutputQueue();
    const socket = stingySocket(2);
    const buffer = Uint8Array.of(1, 2, 3, 4);
    queue.write(socket, buffer);
    buffer.fill(9);
    socket.room = 100;
    expect(queue.drain(socket)).toBe(true);
    expect(socket.taken).toEqual([1, 2, 3, 4]);
  });

  test("a large binary chunk leaves in a write of its own instead of being copied into one buffer with its neighbours", () => {
    const queue = new OutputQueue();
    const socket = stingySocket(1 << 20);
    const body = new Uint8Array(64 * 1024).fill(7);
    const written: (string | Uint8Array)[] = [];
    const recording = { write: (data: string | Uint8Array) => (written.push(data), socket.write(data)) };
    queue.cork();
    queue.write(recording, "OK\r\n");
    queue.write(recording, "Size: 65536\r\n\r\n");
    queue.write(recording, body);
    queue.write(recording, "PUSH\r\n");
    queue.uncork(recording);
    const text = (data: string | Uint8Array) => (typeof data === "string" ? data : new TextDecoder().decode(data));
    expect(written.map((data) => (data.length === 65536 ? 65536 : text(data)))).toEqual(["OK\r\nSize: 65536\r\n\r\n", 65536, "PUSH\r\n"]);
    expect(written[1]).toBe(body);
  });

  test("a large shared buffer is kept as it is, not copied, when the socket does not take it all", () => {
    const queue = new OutputQueue();
    const socket = stingySocket(2);
    const shared = new Uint8Array(64 * 1024).fill(1);
    queue.write(socket, shared, true);
    shared[shared.length - 1] = 5; // only to show that the queue kept a view of the caller's buffer
    socket.room = 1 << 20;
    expect(queue.drain(socket)).toBe(true);
    expect(socket.taken.length).toBe(shared.length);
    expect(socket.taken.at(-1)).toBe(5);
  });

  test("drops nothing and writes nothing twice when the socket is closed (write returns -1)", () => {
    const queue = new OutputQueue();
    queue.write({ write: () => -1 }, "PING\r\n\r\n");
    expect(queue.unsentBytes).toBe(0);
    expect(queue.drain({ write: () => -1 })).toBe(true);
  });
});
