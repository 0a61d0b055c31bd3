// headerValue finds a header as toLowerCase() on both names would say, while comparing ASCII
// names without lower-casing a copy of each (handlers ask for If-Match on every PUT).

import { describe, expect, test } from "bun:test";
import { headerValue } from "../../src/protocol/head-scanner.ts";

describe("headerValue", () => {
  test("finds a header by name as toLowerCase() on both sides would, ASCII or not", () => {
    const headers: [string, string][] = [["Sequence", "1"], ["X-Ünï", "u"], ["Content-TYPE", "json"], ["\u212Aey", "kelvin"], ["If-Match", "3"], ["ab[", "bracket"]];
    for (const name of ["if-match", "IF-MATCH", "content-type", "x-üNï", "X-ÜNÏ", "key", "KEY", "sequence", "If_Match", "IfMatch", "if-matc", "x-un", "AB{", "ab["]) {
      const expected = headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
      expect({ name, value: headerValue(headers, name) }).toEqual({ name, value: expected });
    }
  });
});
