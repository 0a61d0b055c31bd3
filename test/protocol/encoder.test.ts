// The encoder lays out replies and requests as PROTOCOL.md says, and refuses header names and
// values that could forge a message of their own (CR, LF, control bytes) or clash with gnp's.

import { describe, expect, test } from "bun:test";
import { encodeErrorLine, encodeReplyHead, encodeRequestHead } from "../../src/protocol/encoder.ts";

describe("encoder", () => {
  test("a reply head carries Sequence first, Size second, then the handler's headers", () => {
    expect(encodeReplyHead("OK", { sequence: "7", size: 4 })).toBe("OK\r\nSequence: 7\r\nSize: 4\r\n\r\n");
    expect(encodeReplyHead("PUSH", { sequence: "w", size: 2, headers: [["Key", "users/1"], ["X-Note", "a\tb é"]] })).toBe(
      "PUSH\r\nSequence: w\r\nSize: 2\r\nKey: users/1\r\nX-Note: a\tb é\r\n\r\n",
    );
  });

  test("a request head has Size only with a body", () => {
    expect(encodeRequestHead({ command: "GET", args: ["users/1"], sequence: "2", size: -1 })).toBe("GET users/1\r\nSequence: 2\r\n\r\n");
    expect(encodeRequestHead({ command: "PUT", args: ["k"], sequence: "3", size: 0, headers: [["If-Match", "1"]] })).toBe("PUT k\r\nSequence: 3\r\nSize: 0\r\nIf-Match: 1\r\n\r\n");
  });

  test("header names and values that could forge a message are refused", () => {
    for (const [name, value] of [
      ["X", "a\r\nSequence: 9"],
      ["X", "a\nb"],
      ["X", "nul\0"],
      ["Bad Name", "v"],
      ["Bad:Name", "v"],
      ["", "v"],
      ["Sequence", "9"],
      ["size", "1"],
    ] as const) {
      expect(() => encodeReplyHead("OK", { sequence: "1", size: 0, headers: [[name, value]] })).toThrow(TypeError);
    }
  });

  test("arguments with white space and empty commands are refused", () => {
    expect(() => encodeRequestHead({ command: "GET", args: ["a b"], sequence: "1", size: -1 })).toThrow(TypeError);
    expect(() => encodeRequestHead({ command: "", args: [], sequence: "1", size: -1 })).toThrow(TypeError);
  });

  test("an error line never spans two lines", () => {
    expect(encodeErrorLine("bad\r\nthing")).toBe("ERR: bad thing\r\n");
  });
});

describe("request heads the server would refuse are refused before they are sent", () => {
  test("control characters in a command or an argument", () => {
    expect(() => encodeRequestHead({ command: "GET", args: ["a\0b"], sequence: "1", size: -1 })).toThrow(TypeError);
    expect(() => encodeRequestHead({ command: "GE\tT", args: [], sequence: "1", size: -1 })).toThrow(TypeError);
  });

  test("a head over 8064 bytes", () => {
    expect(() => encodeRequestHead({ command: "GET", args: ["k".repeat(9000)], sequence: "1", size: -1 })).toThrow(RangeError);
    expect(encodeRequestHead({ command: "GET", args: ["k".repeat(8000)], sequence: "1", size: -1 }).length).toBeLessThanOrEqual(8064);
  });
});
