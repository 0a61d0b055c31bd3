// `--store` URLs to stores: `sqlite://PATH` (the default, under --data), `memory:` for tests,
// and `postgres://...` for several instances sharing one store. A store that cannot be opened
// is one STORE_UNAVAILABLE error with the reason, before anything listens.

import { isAbsolute, join, resolve } from "node:path";
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
    const [rest, query = ""] = url.slice("sqlite://".length).split("?", 2) as [string, string?];
    if (rest === "") throw new GnpError("CONFIG_INVALID", `invalid store ${JSON.stringify(url)}: expected sqlite://PATH`);
    const params = new URLSearchParams(query);
    const sync = params.get("sync") ?? "full";
    if (sync !== "full" && sync !== "normal") {
      throw new GnpError("CONFIG_INVALID", `invalid store ${JSON.stringify(url)}: sync must be full or normal`);
    }
    const path = isAbsolute(rest) ? rest : resolve(rest);
    return new SqliteStore(path, { sync: sync as SqliteSync });
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { PostgresStore } = await import("./postgres-store.ts");
    return PostgresStore.open(url);
  }
  throw new GnpError("CONFIG_INVALID", `invalid store ${JSON.stringify(url)}: expected sqlite://PATH, postgres://... or memory:`);
}
