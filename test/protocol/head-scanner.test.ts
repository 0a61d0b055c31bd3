// scanHead + parseHead: every wire case whole, byte by byte, at every split offset and glued
// to the next request must give the same result; a seeded fuzz of cuts and garbage must never
// throw or read past the window.

import { describe, expect, test } from "bun:test";
import { MAX_HEAD_BYTES, headersOf, isHeadFault, parseHead, scanHead } from "../../src/protocol/head-scanner.ts";
import { fuzzSeed, mulberry32 } from "../support/prng.ts";

const enc = new TextEncoder();
const MAX_BODY = 1024;

type Outcome = { kind: "head"; tokens: string[]; headers: [string, string][]; sequence?: string; size: number; length: number } | { kind: "fault"; code: string; message: string } | { kind: "need-more" };

/**
 * Feeds `input` into a window in the given cuts, as the server does, and reports the first
 * message. The window is a Buffer when `buffer` (as the server's slab: ASCII heads are read as
 * Latin-1 there), else a plain Uint8Array (as the client's): both must say the same.
 */
function feed(input: Uint8Array, cuts: number[], buffer = false): Outcome {
  const window = buffer ? Buffer.alloc(MAX_HEAD_BYTES + 16) : new Uint8Array(MAX_HEAD_BYTES + 16);
  let fill = 0;
  let scanFrom = 0;
  let previous = 0;
  for (const cut of [...cuts, input.length]) {
    if (cut <= previous) continue;
    const piece = input.subarray(previous, Math.min(cut, previous + (MAX_HEAD_BYTES - fill)));
    window.set(piece, fill);
    fill += piece.length;
    previous += piece.length;
    const scan = scanHead(window, 0, fill, scanFrom);
    if (scan.kind === "need-more") {
      expect(scan.scanFrom).toBeLessThanOrEqual(fill);
      scanFrom = scan.scanFrom;
      continue;
    }
    if (scan.kind === "fault") return { kind: "fault", code: scan.code, message: scan.message };
    const head = parseHead(window, 0, scan.headEnd, MAX_BODY);
    if (isHeadFault(head)) return { kind: "fault", code: head.code, message: head.message };
    return { kind: "head", tokens: [head.command, ...head.args], headers: headersOf(head), sequence: head.sequence, size: head.size, length: scan.headEnd };
  }
  return { kind: "need-more" };
}

const CASES: [string, string, Partial<Outcome> & { kind: Outcome["kind"] }][] = [
  ["a plain request", "PING\r\nSequence: 1\r\n\r\n", { kind: "head", tokens: ["PING"], sequence: "1", size: -1 }],
  ["arguments split on runs of spaces", "PUT  users/1   x\r\nSequence: a-1\r\nSize: 3\r\n\r\n", { kind: "head", tokens: ["PUT", "users/1", "x"], sequence: "a-1", size: 3 }],
  ["headers trimmed and kept in order", "GET k\r\nX-A:  one \t\r\nsequence:\t7\r\nX-B:two\r\n\r\n", { kind: "head", headers: [["X-A", "one"], ["sequence", "7"], ["X-B", "two"]], sequence: "7" }],
  ["UTF-8 arguments", "GET clé/ü\r\nSequence: 1\r\n\r\n", { kind: "head", tokens: ["GET", "clé/ü"] }],
  ["no Sequence (the caller's rule)", "PING\r\n\r\n", { kind: "head", tokens: ["PING"], sequence: undefined }],
  ["an empty command line", "\r\nSequence: 1\r\n\r\n", { kind: "fault", code: "EMPTY_COMMAND" }],
  ["a command line of spaces", "   \r\nSequence: 1\r\n\r\n", { kind: "fault", code: "EMPTY_COMMAND" }],
  ["a header without a colon", "PING\r\nSequence 1\r\n\r\n", { kind: "fault", code: "BAD_HEADER" }],
  ["a header with an empty name", "PING\r\n: 1\r\n\r\n", { kind: "fault", code: "BAD_HEADER" }],
  ["a header name with a space", "PING\r\nSe quence: 1\r\n\r\n", { kind: "fault", code: "BAD_HEADER" }],
  ["a bare LF", "PING\nSequence: 1\r\n\r\n", { kind: "fault", code: "BAD_HEAD_BYTE" }],
  ["a bare CR", "PI\rNG\r\nSequence: 1\r\n\r\n", { kind: "fault", code: "BAD_HEAD_BYTE" }],
  ["a NUL byte", "PI\0NG\r\nSequence: 1\r\n\r\n", { kind: "fault", code: "BAD_HEAD_BYTE" }],
  ["a DEL byte", "PING\x7f\r\nSequence: 1\r\n\r\n", { kind: "fault", code: "BAD_HEAD_BYTE" }],
  ["an empty Sequence", "PING\r\nSequence:\r\n\r\n", { kind: "fault", code: "BAD_SEQUENCE" }],
  ["a Sequence of 65 bytes", `PING\r\nSequence: ${"s".repeat(65)}\r\n\r\n`, { kind: "fault", code: "BAD_SEQUENCE" }],
  ["a Sequence of 64 bytes", `PING\r\nSequence: ${"s".repeat(64)}\r\n\r\n`, { kind: "head", sequence: "s".repeat(64) }],
  ["a Sequence with a space inside", "PING\r\nSequence: a b\r\n\r\n", { kind: "fault", code: "BAD_SEQUENCE" }],
  ["a repeated Sequence", "PING\r\nSequence: 1\r\nSEQUENCE: 2\r\n\r\n", { kind: "fault", code: "DUPLICATE_HEADER" }],
  ["a repeated Size", "PING\r\nSequence: 1\r\nSize: 1\r\nsize: 1\r\n\r\n", { kind: "fault", code: "DUPLICATE_HEADER" }],
  ["a Size with a letter", "PING\r\nSequence: 1\r\nSize: 12a\r\n\r\n", { kind: "fault", code: "BAD_SIZE", message: 'invalid Size "12a": expected decimal digits' }],
  ["a negative Size", "PING\r\nSequence: 1\r\nSize: -1\r\n\r\n", { kind: "fault", code: "BAD_SIZE" }],
  ["a Size over the limit", `PING\r\nSequence: 1\r\nSize: ${MAX_BODY + 1}\r\n\r\n`, { kind: "fault", code: "BODY_TOO_LARGE" }],
  ["a huge Size", "PING\r\nSequence: 1\r\nSize: 99999999999999999999999\r\n\r\n", { kind: "fault", code: "BODY_TOO_LARGE" }],
  ["a Size at the limit", `PING\r\nSequence: 1\r\nSize: ${MAX_BODY}\r\n\r\n`, { kind: "head", size: MAX_BODY }],
  ["invalid UTF-8", "GET \xff\r\nSequence: 1\r\n\r\n", { kind: "fault", code: "BAD_HEAD_BYTE" }],
  ["invalid UTF-8 behind a header fault", "GET k\r\nSequence 1\r\nX: \xff\r\n\r\n", { kind: "fault", code: "BAD_HEAD_BYTE" }],
  ["UTF-8 in a header value only", "GET k\r\nSequence: 1\r\nX-Name: Zoë\r\n\r\n", { kind: "head", headers: [["Sequence", "1"], ["X-Name", "Zoë"]] }],
  ["UTF-8 in a Sequence", "GET k\r\nSequence: é\r\n\r\n", { kind: "fault", code: "BAD_SEQUENCE", message: 'invalid Sequence "é": expected 1 to 64 visible ASCII characters' }],
  ["an unfinished head", "PING\r\nSequence: 1\r\n", { kind: "need-more" }],
];

function toBytes(text: string): Uint8Array {
  // \xff in a case means the raw byte; everything else is UTF-8.
  if (text.includes("\xff")) return Uint8Array.from(text, (c) => c.charCodeAt(0));
  return enc.encode(text);
}

function check(outcome: Outcome, expected: Partial<Outcome>): void {
  expect(outcome).toMatchObject(expected as Record<string, unknown>);
}

describe("scanHead and parseHead", () => {
  for (const [name, text, expected] of CASES) {
    test(`${name}: whole, byte by byte, at every split and glued to the next request`, () => {
      const input = toBytes(text);
      const whole = feed(input, []);
      check(whole, expected);
      expect(feed(input, Array.from({ length: input.length }, (_, i) => i + 1))).toEqual(whole);
      for (let cut = 1; cut < input.length; cut++) expect(feed(input, [cut])).toEqual(whole);
      expect(feed(input, [], true)).toEqual(whole);
      if (whole.kind !== "need-more") {
        const glued = new Uint8Array([...input, ...enc.encode("PING\r\nSequence: 2\r\n\r\n")]);
        expect(feed(glued, [])).toEqual(whole);
      }
    });
  }

  test("scanHead returns a fault when the head exceeds 8064 bytes", () => {
    const head = `PING\r\nSequence: 1\r\nX-Pad: ${"p".repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
    const outcome = feed(enc.encode(head), [100, 5000]);
    expect(outcome).toEqual({ kind: "fault", code: "HEAD_TOO_LARGE", message: "message head exceeds 8064 bytes" });
  });

  test("scanHead accepts a head of exactly 8064 bytes and refuses 8065", () => {
    const base = "PING\r\nSequence: 1\r\nX-Pad: \r\n\r\n";
    const exact = base.replace("X-Pad: ", `X-Pad: ${"p".repeat(MAX_HEAD_BYTES - base.length)}`);
    expect(exact.length).toBe(MAX_HEAD_BYTES);
    expect(feed(enc.encode(exact), [])).toMatchObject({ kind: "head", length: MAX_HEAD_BYTES });
    const over = exact.replace("X-Pad: ", "X-Pad: p");
    expect(feed(enc.encode(over), [])).toMatchObject({ kind: "fault", code: "HEAD_TOO_LARGE" });
    // The boundary case where the last byte that fits is the CR of the final CRLF.
    expect(feed(enc.encode(over), [MAX_HEAD_BYTES - 1, MAX_HEAD_BYTES])).toMatchObject({ kind: "fault", code: "HEAD_TOO_LARGE" });
  });

  test("scanHead resumes where it stopped and never rescans", () => {
    const input = enc.encode("PING\r\nSequence: 1\r\n\r\n");
    const first = scanHead(input, 0, 10, 0);
    expect(first).toEqual({ kind: "need-more", scanFrom: 10 });
    const crCut = scanHead(input, 0, 5, 0); // "PING\r": the CR waits for its LF
    expect(crCut).toEqual({ kind: "need-more", scanFrom: 4 });
    expect(scanHead(input, 0, input.length, 10)).toEqual({ kind: "head", headEnd: input.length });
  });

  test("a seeded fuzz of random cuts and garbage never throws and agrees with the whole parse", () => {
    const startSeed = fuzzSeed();
    const random = mulberry32(startSeed);
    const alphabet = ["PING", "GET", " ", "\r\n", "\r", "\n", ":", "Sequence", "Size", "1", "\0", "x", "é", "\t", "\xff"];
    try {
      for (let round = 0; round < 1500; round++) {
        let text = "";
        const parts = 1 + Math.floor(random() * 24);
        for (let p = 0; p < parts; p++) text += alphabet[Math.floor(random() * alphabet.length)];
        if (random() < 0.5) text += "\r\n\r\n";
        const input = Uint8Array.from(enc.encode(text));
        const whole = feed(input, []);
        const cuts = Array.from({ length: Math.floor(random() * 6) }, () => Math.floor(random() * input.length)).sort((a, b) => a - b);
        expect(feed(input, cuts)).toEqual(whole);
        expect(feed(input, cuts, true)).toEqual(whole);
      }
    } catch (error) {
      console.error(`head-scanner fuzz failed with GNP_FUZZ_SEED=${startSeed}`);
      throw error;
    }
  });
});
