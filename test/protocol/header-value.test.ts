// headerValue finds a header as toLowerCase() on both names would say, while comparing ASCII
// names without lower-casing a copy of each (handlers ask for If-Match on every PUT); findHeader
// says the same of a parsed head without making its header list, and headersOf makes the list.

import { describe, expect, test } from "bun:test";
import { findHeader, headersOf, headerValue, isHeadFault, parseHead, type Head } from "../../src/protocol/head-scanner.ts";

const NAMES = ["if-match", "IF-MATCH", "content-type", "x-üNï", "X-ÜNÏ", "key", "KEY", "sequence", "size", "If_Match", "IfMatch", "if-matc", "x-un", "AB{", "ab[", "x-empty", "dup"];

/** A head parsed as the server parses it: from a Buffer when `buffer`, else from a plain Uint8Array. */
function parsed(text: string, buffer: boolean): Head {
  const bytes = new TextEncoder().encode(`${text}\r\n\r\n`);
  const head = parseHead(buffer ? Buffer.from(bytes) : bytes, 0, bytes.length, 1 << 20);
  if (isHeadFault(head)) throw new Error(head.message);
  return head;
}

describe("headerValue", () => {
  test("finds a header by name as toLowerCase() on both sides would, ASCII or not", () => {
    const headers: [string, string][] = [["Sequence", "1"], ["X-Ünï", "u"], ["Content-TYPE", "json"], ["\u212Aey", "kelvin"], ["If-Match", "3"], ["ab[", "bracket"]];
    for (const name of NAMES) {
      const expected = headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
      expect({ name, value: headerValue(headers, name) }).toEqual({ name, value: expected });
    }
  });
});

describe("headersOf and findHeader", () => {
  const heads = [
    "PUT k\r\nSequence: 1\r\nSize: 0\r\nIf-Match:  3 \t\r\nX-Ünï: u\r\nContent-TYPE:json\r\n\u212Aey: kelvin\r\nab[: bracket\r\nx-empty:\r\ndup: 1\r\nDUP: 2",
    "GET k\r\nsequence:\t7",
    "PING\r\nX-Only: a:b:c\r\nSequence: 2",
    "ECHO a b\r\nSequence: 3\r\nx-un: ascii\r\nX-ÜN: longer",
  ];
  for (const [index, text] of heads.entries()) {
    for (const buffer of [true, false]) {
      test(`head ${index}${buffer ? " in a Buffer" : ""}: the headers as sent, trimmed, and findHeader agrees with headerValue over them`, () => {
        const head = parsed(text, buffer);
        const lines = text.split("\r\n").slice(1);
        expect(headersOf(head)).toEqual(lines.map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).replace(/^[ \t]+|[ \t]+$/g, "")]));
        for (const name of NAMES) expect({ name, value: findHeader(head, name) }).toEqual({ name, value: headerValue(headersOf(head), name) });
      });
    }
  }
});
