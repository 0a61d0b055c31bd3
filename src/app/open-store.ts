// `--store` URLs to stores: `sqlite://PATH` (the default, under --data), `memory:` for tests,
// and `postgres://...` for several instances sharing one store. A store that cannot be opened
// is one STORE_UNAVAILABLE error with the reason, before anything listens. probeStore is the
// same for a check that must create nothing: a SQLite file that does not exist yet is not made.

import { accessSync, constants, existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { GnpError } from "../errors.ts";
import type { DocumentStore } from "./document-store.ts";
import { MemoryStore } from "./memory-store.ts";
import { SqliteStore, type SqliteSync } from "./sqlite-store.ts";

export const DEFAULT_STORE_FILE = "gnp.db";

/** The default store URL for a data directory. */
export function defaultStoreUrl(dataDir: string): string {
  return `sqlite://${join(dataDir, DEFAULT_STORE_FILE)}`;
}

export async function openStore(url: string): Promise<DocumentStore> {
  if (url === "memory:" || url === "memory://") return new MemoryStore();
  if (url.startsWith("sqlite://")) {
    const { path, sync } = sqliteTarget(url);
    return new SqliteStore(path, { sync });
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { PostgresStore } = await import("./postgres-store.ts");
    return PostgresStore.open(url);
  }
  throw new GnpError("CONFIG_INVALID", `invalid store ${JSON.stringify(url)}: expected sqlite://PATH, postgres://... or memory:`);
}

/**
 * Opens the store `url` names as openStore does, unless it is a SQLite file that does not
 * exist yet: then nothing is created, the directory it would go in must be writable, and an
 * empty memory store stands in (`created: true` says a start would create the file).
 *
 * @example const { store, created } = await probeStore("sqlite://.gnp/gnp.db"); await store.close();
 */
export async function probeStore(url: string): Promise<{ store: DocumentStore; created: boolean }> {
  if (!url.startsWith("sqlite://")) return { store: await openStore(url), created: false };
  const { path } = sqliteTarget(url);
  if (existsSync(path)) return { store: await openStore(url), created: false };
  let dir = dirname(path);
  while (!existsSync(dir) && dir !== dirname(dir)) dir = dirname(dir);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new GnpError("STORE_UNAVAILABLE", `cannot open store sqlite://${path}: ${dir} is not writable (${(error as { code?: string }).code ?? "denied"}), so the database cannot be created`, { cause: error });
  }
  return { store: new MemoryStore(), created: true };
}

function sqliteTarget(url: string): { path: string; sync: SqliteSync } {
  const [rest, query = ""] = url.slice("sqlite://".length).split("?", 2) as [string, string?];
  if (rest === "") throw new GnpError("CONFIG_INVALID", `invalid store ${JSON.stringify(url)}: expected sqlite://PATH`);
  const params = new URLSearchParams(query);
  const sync = params.get("sync") ?? "full";
  if (sync !== "full" && sync !== "normal") {
    throw new GnpError("CONFIG_INVALID", `invalid store ${JSON.stringify(url)}: sync must be full or normal`);
  }
  return { path: isAbsolute(rest) ? rest : resolve(rest), sync };
}
