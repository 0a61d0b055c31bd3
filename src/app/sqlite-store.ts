// The embedded default store: bun:sqlite in WAL mode under --data. A write resolves only once
// its transaction has committed with synchronous=FULL, i.e. the WAL is on disk. Writes that
// arrive in the same tick (a pipelined burst) share one transaction and one fsync: group
// commit. Reads run at once unless writes are queued, and then after them, so a client that
// pipelines PUT k then GET k reads its own write.

import { Database, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { GnpError } from "../errors.ts";
import { ChangeListeners, conflict, type Change, type ChangeListener, type DocumentStore, type StoreInfo, type StoredDocument } from "./document-store.ts";

/** synchronous=FULL makes every commit durable; NORMAL survives a crash of the process but not of the machine. */
export type SqliteSync = "full" | "normal";

type Operation = { run: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void };

type Row = { value: Uint8Array; version: number };

export class SqliteStore implements DocumentStore {
  readonly path: string;
  readonly sync: SqliteSync;
  readonly #db: Database;
  readonly #listeners = new ChangeListeners();
  readonly #select: Statement<Row, [string]>;
  readonly #upsert: Statement<unknown, [string, Uint8Array, number]>;
  readonly #remove: Statement<unknown, [string]>;
  readonly #keys: Statement<{ key: string }, [string, string, number]>;
  readonly #allKeys: Statement<{ key: string }, [number]>;
  #queue: Operation[] = [];
  #pendingChanges: Change[] = [];
  #closed = false;

  /** Opens (creating if needed) the database at `path`. Throws STORE_UNAVAILABLE with the reason. */
  constructor(path: string, options: { sync?: SqliteSync } = {}) {
    this.path = resolve(path);
    this.sync = options.sync ?? "full";
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      this.#db = new Database(this.path, { create: true, strict: true });
      // First, so that switching to WAL waits for another process (a sibling worker) instead of failing.
      this.#db.run("PRAGMA busy_timeout = 5000");
      this.#db.run("PRAGMA journal_mode = WAL");
      this.#db.run(`PRAGMA synchronous = ${this.sync === "full" ? "FULL" : "NORMAL"}`);
      this.#db.run("CREATE TABLE IF NOT EXISTS documents (key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID");
      // Touch the table once, so a corrupt file fails here and not at the first request.
      this.#db.query("SELECT count(*) AS n FROM documents").get();
    } catch (error) {
      throw new GnpError("STORE_UNAVAILABLE", `cannot open store sqlite://${this.path}: ${describeSqliteError(error)}`, { cause: error });
    }
    this.#select = this.#db.query<Row, [string]>("SELECT value, version FROM documents WHERE key = ?");
    this.#upsert = this.#db.query("INSERT INTO documents (key, value, version) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version");
    this.#remove = this.#db.query("DELETE FROM documents WHERE key = ?");
    // Prefix match by range, so the primary key's index serves it; '\u{10FFFF}' sorts after any key byte.
    this.#keys = this.#db.query<{ key: string }, [string, string, number]>("SELECT key FROM documents WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3");
    this.#allKeys = this.#db.query<{ key: string }, [number]>("SELECT key FROM documents ORDER BY key LIMIT ?1");
  }

  get(key: string): StoredDocument | undefined | Promise<StoredDocument | undefined> {
    if (this.#queue.length > 0) return this.#enqueue(() => this.#read(key));
    return this.#guard(() => this.#read(key));
  }

  put(key: string, value: Uint8Array, ifMatch?: number): Promise<number> {
    return this.#enqueue(() => {
      const current = this.#select.get(key);
      if (ifMatch !== undefined && (current?.version ?? 0) !== ifMatch) throw conflict(key, ifMatch, current?.version);
      const version = (current?.version ?? 0) + 1;
      this.#upsert.run(key, value, version);
      this.#pendingChanges.push({ op: "PUT", key, version, value });
      return version;
    });
  }

  delete(key: string, ifMatch?: number): Promise<boolean> {
    return this.#enqueue(() => {
      const current = this.#select.get(key);
      if (ifMatch !== undefined && (current?.version ?? 0) !== ifMatch) throw conflict(key, ifMatch, current?.version);
      if (current === null) return false;
      this.#remove.run(key);
      this.#pendingChanges.push({ op: "DEL", key, version: current.version + 1 });
      return true;
    });
  }

  keys(prefix: string, limit: number): string[] | Promise<string[]> {
    const read = () =>
      (prefix === "" ? this.#allKeys.all(limit) : this.#keys.all(prefix, prefix + "\u{10FFFF}", limit)).map((row) => row.key);
    if (this.#queue.length > 0) return this.#enqueue(read);
    return this.#guard(read);
  }

  info(): StoreInfo {
    const row = this.#db.query<{ keys: number; bytes: number | null }, []>("SELECT count(*) AS keys, sum(length(value)) AS bytes FROM documents").get();
    return { kind: "sqlite", keys: row?.keys ?? 0, bytes: row?.bytes ?? 0, location: `sqlite://${this.path}` };
  }

  onChange(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  /** Commits what is queued, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#db.close();
  }

  #read(key: string): StoredDocument | undefined {
    const row = this.#select.get(key);
    return row === null ? undefined : { value: new Uint8Array(row.value), version: row.version };
  }

  #enqueue<T>(run: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new GnpError("STORE_FAILED", "store is closed"));
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    if (this.#queue.length === 0) queueMicrotask(() => this.#flush());
    this.#queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
    return promise;
  }

  /** Runs every queued operation in one transaction; settles them once it has committed. */
  #flush(): void {
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    this.#pendingChanges = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.#db.run("BEGIN IMMEDIATE");
      for (const operation of batch) {
        // One operation's failure (a conflict) must not undo its neighbours: a savepoint each.
        this.#db.run("SAVEPOINT op");
        try {
          outcomes.push({ ok: true, value: operation.run() });
          this.#db.run("RELEASE op");
        } catch (error) {
          this.#db.run("ROLLBACK TO op");
          this.#db.run("RELEASE op");
          outcomes.push({ ok: false, value: error });
        }
      }
      this.#db.run("COMMIT");
    } catch (error) {
      try {
        this.#db.run("ROLLBACK");
      } catch {
        // The transaction may already be gone (the commit itself failed).
      }
      const failure = new GnpError("STORE_FAILED", `store write failed: ${describeSqliteError(error)}`, { cause: error });
      for (const operation of batch) operation.reject(failure);
      this.#pendingChanges = [];
      return;
    }
    const changes = this.#pendingChanges;
    this.#pendingChanges = [];
    batch.forEach((operation, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) operation.resolve(outcome.value);
      else operation.reject(outcome.value);
    });
    for (const change of changes) this.#listeners.emit(change);
  }

  #guard<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw new GnpError("STORE_FAILED", `store read failed: ${describeSqliteError(error)}`, { cause: error });
    }
  }
}

function describeSqliteError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/SQLITE_CANTOPEN|unable to open/i.test(message)) return `${message} (is the directory writable?)`;
  return message;
}
