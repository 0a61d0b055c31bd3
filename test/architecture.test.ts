// The house's rule that imports point one way (STYLE.md): cli -> serve -> app -> server -> slab,
// with config (settings) under serve, protocol (pure framing) and certs beside them. This test
// reads every import in src/ and fails on an import that points back up, on a protocol or slab
// module that reaches outside itself, and on any import cycle. A "#name" import (package.json
// "imports", one module per runtime) counts as an import of every module it can resolve to.
// Inside server/, the dispatcher is held to its contract: no socket and no slab.

import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../src");
const PACKAGE = resolve(import.meta.dir, "../package.json");

/** Which rooms each room may import from (its own files are always allowed). */
const ALLOWED: Record<string, readonly string[]> = {
  protocol: ["errors.ts"],
  slab: [],
  certs: ["errors.ts"],
  server: ["protocol", "slab", "certs", "errors.ts", "options.ts", "wording.ts"],
  client: ["protocol", "errors.ts", "wording.ts"],
  app: ["server", "protocol", "errors.ts", "version.ts"],
  ops: ["server", "errors.ts", "version.ts", "options.ts", "wording.ts"],
  // The settings of `gnp serve`: read, never run. The rules judge a server's Connection; log
  // levels are named by the logger.
  config: ["certs", "server", "errors.ts", "options.ts", "io.ts", "wording.ts", "ops/logger.ts"],
  // The running `gnp serve` process: it puts the rooms below together.
  serve: ["config", "app", "server", "ops", "certs", "errors.ts", "options.ts", "version.ts", "io.ts", "wording.ts"],
  // Arguments and output only: a command reads its flags and hands the work down.
  cli: ["serve", "config", "client", "protocol", "certs", "errors.ts", "options.ts", "version.ts", "io.ts", "wording.ts"],
  "options.ts": ["errors.ts", "certs", "slab"],
  "errors.ts": [],
  "version.ts": [],
  "wording.ts": [],
  "io.ts": ["wording.ts"],
  "index.ts": ["server", "client", "app", "protocol", "certs", "errors.ts", "options.ts", "version.ts"],
  "cli.ts": ["cli", "errors.ts", "version.ts", "io.ts", "wording.ts"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** The room of a file: its top folder under src/, or the file itself at the top. */
function roomOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes("/") ? rel.split("/")[0]! : rel;
}

/** Every module specifier a file imports or re-exports, bare ones ("bun", "node:fs") included. */
function specifiersOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^;'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g)];
  return found.map((match) => match[1] ?? match[2] ?? match[3]!);
}

function importsOf(file: string): string[] {
  return specifiersOf(file).filter((spec) => spec.startsWith(".") || spec.startsWith("#"));
}

/** package.json "imports": each "#name" and every file its conditions name, as absolute paths. */
const subpathImports = new Map(
  Object.entries((JSON.parse(readFileSync(PACKAGE, "utf8")) as { imports?: Record<string, string | Record<string, string>> }).imports ?? {}).map(([name, target]) => [
    name,
    (typeof target === "string" ? [target] : Object.values(target)).map((path) => resolve(dirname(PACKAGE), path)),
  ]),
);

function targetsOf(file: string, spec: string): string[] {
  if (!spec.startsWith("#")) return [resolve(dirname(file), spec)];
  const targets = subpathImports.get(spec);
  if (targets === undefined) throw new Error(`${relative(SRC, file)} imports ${spec}, which package.json "imports" does not define`);
  return targets;
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((file) => [file, importsOf(file).flatMap((spec) => targetsOf(file, spec))]));

test("every import in src/ points the way the house allows", () => {
  // The parse must see the imports at all, or the rule below would pass on nothing.
  expect([...graph.values()].reduce((n, targets) => n + targets.length, 0)).toBeGreaterThan(150);
  const wrong: string[] = [];
  for (const [file, targets] of graph) {
    const from = roomOf(file);
    for (const target of targets) {
      const to = roomOf(target);
      if (to === from) continue;
      const allowedHere = ALLOWED[from] ?? [];
      const toPath = relative(SRC, target);
      if (!allowedHere.includes(to) && !allowedHere.includes(toPath)) wrong.push(`${relative(SRC, file)} -> ${toPath}`);
    }
  }
  expect(wrong).toEqual([]);
});

test("there is no import cycle in src/", () => {
  const state = new Map<string, "visiting" | "done">();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "visiting") {
      cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" -> "));
      return;
    }
    state.set(file, "visiting");
    for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, []);
  expect(cycles).toEqual([]);
});

test("the dispatcher imports no socket and no slab: it turns requests into outcomes and nothing else", () => {
  const dispatcher = join(SRC, "server/dispatcher.ts");
  const specifiers = specifiersOf(dispatcher);
  expect(specifiers.length).toBeGreaterThan(3);
  // Everything it reaches, through any chain of imports.
  const seen = new Set<string>();
  const visit = (file: string) => {
    for (const target of graph.get(file) ?? []) {
      if (seen.has(target)) continue;
      seen.add(target);
      visit(target);
    }
  };
  visit(dispatcher);
  const reached = [...seen].map((target) => relative(SRC, target));
  const sockety = [...specifiers.filter((spec) => spec === "bun" || spec.startsWith("node:net") || spec.startsWith("node:tls")), ...reached.filter((path) => path.startsWith("slab/") || ["server/connection-table.ts", "server/connection-engine.ts", "server/request-reader.ts", "server/memory-transport.ts"].includes(path))];
  expect(sockety).toEqual([]);
});
