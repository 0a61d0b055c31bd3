// `--store` URLs to stores: `sqlite://PATH` (the default, under --data), `memory:` for tests,
// and `postgres://...` for several instances sharing one store. A store that cannot be opened
// is one STORE_UNAVAILABLE error with the reason, before anything listens. probeStore is the
// same for a check that must create nothing: a SQLite file that does not exist yet is not made.
// A SQLite file that other processes write too (the workers of --workers) is opened without
// its cache of large values, which only its own writes keep coherent.

import { accessSync, constants, existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { GnpError } from "../errors.ts";
import type { DocumentStore } from "./document-store.ts";
import { MemoryStore } from "./memory-store.ts";
import { SqliteStore, type SqliteSync } from "./sqlite-store.ts";
import { DEFAULT_VALUE_CACHE_BYTES } from "./value-cache.ts";

export const DEFAULT_STORE_FILE = "gnp.db";

/** The default store URL for a data directory. */
export function defaultStoreUrl(dataDir: string): string {
  return `sqlite://${join(dataDir, DEFAULT_STORE_FILE)}`;
}

export type OpenStoreOptions = {
  /** Other processes write the same store at the same time (a worker of --workers): a SQLite file gets no value cache. */
  shared?: boolean;
};

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<DocumentStore> {
  if (url === "memory:" || url === "memory://") return new MemoryStore();
  if (url.startsWith("sqlite://")) {
    const { path, sync, cacheBytes } = sqliteTarget(url);
    return new SqliteStore(path, { sync, cacheBytes: options.shared ? 0 : cacheBytes });
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
export async function probeStore(url: string, options: OpenStoreOptions = {}): Promise<{ store: DocumentStore; created: boolean }> {
  if (!url.startsWith("sqlite://")) return { store: await openStore(url, options), created: false };
  const { path } = sqliteTarget(url);
  if (existsSync(path)) return { store: await openStore(url, options), created: false };
  let dir = dirname(path);
  while (!existsSync(dir) && dir !== dirname(dir)) dir = dirname(dir);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new GnpError("STORE_UNAVAILABLE", `cannot open store sqlite://${path}: ${dir} is not writable (${(error as { code?: string }).code ?? "denied"}), so the database cannot be created`, { cause: error });
  }
  return { store: new MemoryStore(), created: true };
}

/** Bytes of a `cache=` parameter: a byte count, at most a gibibyte. */
const MAX_CACHE_BYTES = 1024 * 1024 * 1024;

function sqliteTarget(url: string): { path: string; sync: SqliteSync; cacheBytes: number } {
  const [rest, query = ""] = url.slice("sqlite://".length).split("?", 2) as [string, string?];
  if (rest === "") throw new GnpError("CONFIG_INVALID", `invalid store ${JSON.stringify(url)}: expected sqlite://PATH`);
  const params = new URLSearchParams(query);
  const sync = params.get("sync") ?? "full";
  if (sync !== "full" && sync !== "normal") {
    throw new GnpError("CONFIG_INVALID", `invalid store ${JSON.stringify(url)}: sync must be full or normal`);
  }
  const cache = params.get("cache");
  const cacheBytes = cache === null ? DEFAULT_VALUE_CACHE_BYTES : Number(cache);
  if (cache !== null && (!/^[0-9]{1,10}$/.test(cache) || cacheBytes > MAX_CACHE_BYTES)) {
    throw new GnpError("CONFIG_INVALID", `invalid store ${JSON.stringify(url)}: cache must be a number of bytes from 0 to ${MAX_CACHE_BYTES}`);
  }
  return { path: isAbsolute(rest) ? rest : resolve(rest), sync, cacheBytes };
}
