// docs/errors.md must list every code of ERROR_CATALOG, with the catalog's kind, and no code
// the catalog does not have: adding a code without documenting it fails here.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ERROR_CATALOG, type ErrorCode } from "../../src/errors.ts";

const DOC = readFileSync(resolve(import.meta.dir, "../../docs/errors.md"), "utf8");

/** Table rows of the form `| \`CODE\` | kind | ...`, as code -> kind, in document order. */
function documentedCodes(markdown: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of markdown.split("\n")) {
    const match = line.match(/^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*([a-z]+)\s*\|/);
    if (match) rows.set(match[1]!, match[2]!);
  }
  return rows;
}

describe("docs/errors.md", () => {
  const documented = documentedCodes(DOC);
  const catalog = Object.keys(ERROR_CATALOG) as ErrorCode[];

  test("lists every code of ERROR_CATALOG", () => {
    expect(catalog.filter((code) => !documented.has(code))).toEqual([]);
  });

  test("gives each code the kind the catalog gives it", () => {
    const wrong = catalog
      .filter((code) => documented.has(code) && documented.get(code) !== ERROR_CATALOG[code].kind)
      .map((code) => `${code}: documented ${documented.get(code)}, catalog ${ERROR_CATALOG[code].kind}`);
    expect(wrong).toEqual([]);
  });

  test("lists no code that the catalog does not have", () => {
    expect([...documented.keys()].filter((code) => !(code in ERROR_CATALOG))).toEqual([]);
  });

  test("lists each code once", () => {
    const rows = DOC.split("\n").filter((line) => /^\|\s*`[A-Z][A-Z0-9_]*`\s*\|/.test(line));
    expect(rows.length).toBe(documented.size);
  });
});
