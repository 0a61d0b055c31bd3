// docs/architecture.md must stay true: every file and folder it names in backticks exists, and
// every room of src/ (each folder, and the files at its top) has its place in the map. A file
// renamed or a room added without the map following fails here.

import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const DOC = readFileSync(join(ROOT, "docs/architecture.md"), "utf8");

/** Backticked spans that name a path in the repository: `src/...`, `test/...`, `bench/...`, `docs/...`, `README.md`. */
function namedPaths(markdown: string): string[] {
  const spans = [...markdown.matchAll(/`([^`\s]+)`/g)].map((match) => match[1]!);
  return [...new Set(spans.filter((span) => /^(src|test|bench|docs)\/[\w./-]*$/.test(span) || span === "README.md"))];
}

describe("docs/architecture.md", () => {
  const named = namedPaths(DOC);

  test("names paths at all", () => {
    expect(named.length).toBeGreaterThan(40);
  });

  test("names only files and folders that exist", () => {
    expect(named.filter((path) => !existsSync(join(ROOT, path)))).toEqual([]);
  });

  test("gives every room of src/ its place: each folder, and each file at the top", () => {
    const rooms = readdirSync(join(ROOT, "src")).map((name) => (statSync(join(ROOT, "src", name)).isDirectory() ? `src/${name}/` : `src/${name}`));
    expect(rooms.filter((room) => !DOC.includes(`\`${room}\``))).toEqual([]);
  });

  test("lists every file of src/server/ in the table of its parts", () => {
    const files = readdirSync(join(ROOT, "src/server")).map((name) => `src/server/${name}`);
    const rows = DOC.split("\n").filter((line) => line.startsWith("| `src/server/"));
    expect(files.filter((file) => !rows.some((row) => row.includes(`\`${file}\``)))).toEqual([]);
  });
});
