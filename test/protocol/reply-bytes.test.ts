// The byte encoder of replies writes exactly what the string encoder wrote: the same head for
// every status, Sequence, Size and header (non-ASCII values included), the same UTF-8 for every
// body, the same refusals of header names and values; and the output queue that writes it
// through a shared pool of buffers delivers every message intact, in order, under backpressure.

import { describe, expect, test } from "bun:test";
import { bodyBytes, encodeHeaderLines, encodeReplyHead, replyHeadRoom, writeReplyHead, writeText, type HeaderList, type ReplyMessage, type ReplyStatus } from "../../src/protocol/encoder.ts";
import { BufferPool, OUTPUT_BUFFER_BYTES, OutputQueue } from "../../src/protocol/output-queue.ts";
import { fuzzSeed, mulberry32 } from "../support/prng.ts";

const utf8 = new TextEncoder();

/** What the string encoder made of a message: head, then body, as bytes. */
function stringEncoded(status: ReplyStatus, sequence: string, body: string | Uint8Array, headers?: HeaderList): Uint8Array {
  const size = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
  const head = utf8.encode(encodeReplyHead(status, { sequence, size, headers }));
  const bodyBytes = typeof body === "string" ? utf8.encode(body) : body;
  const all = new Uint8Array(head.byteLength + bodyBytes.byteLength);
  all.set(head);
  all.set(bodyBytes, head.byteLength);
  return all;
}

function message(status: ReplyStatus, sequence: string, body: string | Uint8Array, headers?: HeaderList): ReplyMessage {
  return { status, sequence, size: bodyBytes(body), headerLines: encodeHeaderLines(headers), body };
}

/** A socket that takes at most `room` bytes per write and records them. */
function stingySocket(room: number) {
  const taken: number[] = [];
  return {
    taken,
    room,
    write(data: string | Uint8Array, byteOffset = 0, byteLength?: number): number {
      const bytes = typeof data === "string" ? utf8.encode(data) : data.subarray(byteOffset, byteLength === undefined ? undefined : byteOffset + byteLength);
      const n = Math.min(this.room, bytes.length);
      for (let i = 0; i < n; i++) taken.push(bytes[i]!);
      return n;
    },
  };
}

const texts = ["", "PONG", "hello world", "é", "naïve café", "日本語のテキスト", "😀 emoji", "\ud800 lone surrogate", "x".repeat(24), "x".repeat(25), `${"é".repeat(30)}z`, "a\tb"];

describe("writeReplyHead", () => {
  test("writes the bytes encodeReplyHead wrote, for every status, Sequence, Size and header", () => {
    const sizes = [0, 1, 9, 10, 99, 100, 12345, 1048576, 2 ** 31 - 1, 2 ** 53 - 1];
    const headerSets: (HeaderList | undefined)[] = [undefined, [], [["Key", "users/1"]], [["X-Note", "a\tb é"], ["Content-Type", "application/json"]], [["Ünï", "日本"]]];
    for (const status of ["OK", "ERR", "PUSH"] as const) {
      for (const sequence of ["1", "w", "a-very-long-sequence-of-sixty-four-visible-ascii-characters-0123", "~!@#"]) {
        for (const size of sizes) {
          for (const headers of headerSets) {
            const expected = utf8.encode(encodeReplyHead(status, { sequence, size, headers }));
            const m: ReplyMessage = { status, sequence, size, headerLines: encodeHeaderLines(headers), body: "" };
            const target = new Uint8Array(replyHeadRoom(m) + 8).fill(0xee);
            const end = writeReplyHead(target, 3, m);
            expect(target.subarray(3, end)).toEqual(expected);
            expect(end - 3).toBeLessThanOrEqual(replyHeadRoom(m));
            expect(target[end]).toBe(0xee);
          }
        }
      }
    }
  });

  test("refuses the header names and values the string encoder refused, with the same messages", () => {
    for (const [name, value] of [
      ["X", "a\r\nSequence: 9"],
      ["X", "a\rb"],
      ["X", "a\nb"],
      ["X", "nul\0"],
      ["X", "del\x7f"],
      ["Bad Name", "v"],
      ["Bad:Name", "v"],
      ["Bad\r\nName", "v"],
      ["", "v"],
      ["Sequence", "9"],
      ["size", "1"],
    ] as const) {
      let stringError: unknown;
      try {
        encodeReplyHead("OK", { sequence: "1", size: 0, headers: [[name, value]] });
      } catch (error) {
        stringError = error;
      }
      expect(stringError).toBeInstanceOf(TypeError);
      expect(() => encodeHeaderLines([[name, value]])).toThrow((stringError as TypeError).message);
    }
  });
});

describe("bodyBytes and writeText", () => {
  test("count and write UTF-8 as Buffer.byteLength and TextEncoder do, ASCII or not", () => {
    for (const text of texts) {
      expect(bodyBytes(text)).toBe(Buffer.byteLength(text));
      const target = new Uint8Array(text.length * 3 + 4).fill(0xee);
      const end = writeText(target, 2, text);
      expect(target.subarray(2, end)).toEqual(utf8.encode(text));
    }
    expect(bodyBytes(Uint8Array.of(1, 2, 3))).toBe(3);
  });
});

describe("OutputQueue.writeMessage", () => {
  test("writes each message as head and body, bytes equal to the string encoder's, across buffers and large bodies", () => {
    const bodies: (string | Uint8Array)[] = [...texts, new Uint8Array(0), Uint8Array.of(0, 13, 10, 255), new Uint8Array(OUTPUT_BUFFER_BYTES - 10).fill(7), new Uint8Array(40_000).fill(8), new Uint8Array(70_000).fill(9), "é".repeat(7000), "z".repeat(20_000)];
    const queue = new OutputQueue(undefined, new BufferPool());
    const socket = stingySocket(1 << 30);
    const expected: number[] = [];
    queue.cork();
    bodies.forEach((body, i) => {
      const headers: HeaderList | undefined = i % 3 === 0 ? [["X-Index", `${i} é`]] : undefined;
      queue.writeMessage(socket, message(i % 2 === 0 ? "OK" : "PUSH", String(i), body, headers));
      expected.push(...stringEncoded(i % 2 === 0 ? "OK" : "PUSH", String(i), body, headers));
    });
    expect(queue.pendingBytes).toBe(expected.length);
    queue.uncork(socket);
    expect(socket.taken).toEqual(expected);
    expect(queue.pendingBytes).toBe(0);
  });

  test("a head larger than a pool's buffer (headers of 20 KB) is written whole", () => {
    const queue = new OutputQueue(undefined, new BufferPool());
    const socket = stingySocket(1 << 30);
    const headers: HeaderList = [["X-Big", "v".repeat(20_000)], ["X-Wide", "é".repeat(3000)]];
    queue.writeMessage(socket, message("OK", "1", "body", headers));
    queue.writeMessage(socket, message("OK", "2", new Uint8Array(100).fill(3), headers));
    expect(socket.taken).toEqual([...stringEncoded("OK", "1", "body", headers), ...stringEncoded("OK", "2", new Uint8Array(100).fill(3), headers)]);
  });

  test("what a socket did not take survives the pool's buffer being reused by another connection", () => {
    const seed = fuzzSeed();
    const random = mulberry32(seed);
    const pool = new BufferPool({ maxFree: 2 });
    const slow = { queue: new OutputQueue(undefined, pool), socket: stingySocket(0), expected: [] as number[] };
    const fast = { queue: new OutputQueue(undefined, pool), socket: stingySocket(1 << 30), expected: [] as number[] };
    for (let round = 0; round < 200; round++) {
      for (const side of [slow, fast]) {
        side.queue.cork();
        const count = 1 + Math.floor(random() * 20);
        for (let i = 0; i < count; i++) {
          const body = random() < 0.5 ? "x".repeat(Math.floor(random() * 300)) : new Uint8Array(Math.floor(random() * 3000)).fill(round & 0xff);
          side.queue.writeMessage(side.socket, message("OK", `${round}.${i}`, body));
          side.expected.push(...stringEncoded("OK", `${round}.${i}`, body));
        }
        slow.socket.room = Math.floor(random() * 500);
        side.queue.uncork(side.socket);
      }
      slow.socket.room = Math.floor(random() * 2000);
      slow.queue.drain(slow.socket);
    }
    slow.socket.room = 1 << 30;
    expect(slow.queue.drain(slow.socket)).toBe(true);
    if (slow.socket.taken.length !== slow.expected.length || fast.socket.taken.length !== fast.expected.length) throw new Error(`lengths differ (seed ${seed})`);
    expect({ seed, slow: slow.socket.taken, fast: fast.socket.taken }).toEqual({ seed, slow: slow.expected, fast: fast.expected });
  });

  test("an idle queue holds no buffer: what it used goes back to the pool at uncork", () => {
    const pool = new BufferPool();
    const queue = new OutputQueue(undefined, pool);
    const socket = stingySocket(1 << 30);
    queue.writeMessage(socket, message("OK", "1", "PONG"));
    expect(pool.freeBuffers).toBe(1);
    queue.cork();
    queue.writeMessage(socket, message("OK", "2", "PONG"));
    expect(pool.freeBuffers).toBe(0);
    queue.uncork(socket);
    expect(pool.freeBuffers).toBe(1);
    expect(new TextDecoder().decode(Uint8Array.from(socket.taken))).toBe("OK\r\nSequence: 1\r\nSize: 4\r\n\r\nPONGOK\r\nSequence: 2\r\nSize: 4\r\n\r\nPONG");
  });
});
