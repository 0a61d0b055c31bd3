// The embedded default store: bun:sqlite in WAL mode under --data. Writes go through group
// commit to a worker thread that owns the write connection: one transaction and one fsync
// (synchronous=FULL) per round, a round being every write that arrived while the previous one
// was on disk, and a write resolves only once its round has committed. Reads run at once on
// the event loop's own connection, unless they name a key with a write still queued: then
// after it. INFO reads counters the commits keep, so it costs the same at any size. Large
// values read lately are cached (value-cache.ts), so repeated GETs of one share a buffer.

import type { Database, Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { GnpError } from "../errors.ts";
import {
  ChangeListeners,
  conflict,
  prefixUpperBound,
  type ChangeListener,
  type DocumentStore,
  type ListenedPut,
  type ListenedWrites,
  type StoreInfo,
  type StoredDocument,
  type WriteListener,
} from "./document-store.ts";
import { GroupCommit, type SettleWrite } from "./group-commit.ts";
import { WriteKind, currentOfConflict, type SqliteSync } from "./sqlite-batch.ts";
import { CommitThread } from "./sqlite-commit-thread.ts";
import { createSchema, openDatabase } from "./sqlite-writer.ts";
import { DEFAULT_VALUE_CACHE_BYTES, ValueCache } from "./value-cache.ts";

export type { SqliteSync } from "./sqlite-batch.ts";

type Row = { value: Uint8Array; version: number };

type Write = {
  readonly kind: WriteKind;
  readonly key: string;
  readonly value: Uint8Array | undefined;
  readonly ifMatch: number | undefined;
  readonly bytes: number;
  readonly listener: WriteListener;
};

export class SqliteStore implements DocumentStore, ListenedWrites {
  readonly path: string;
  readonly sync: SqliteSync;
  /** The bound on the cache of large values; 0: none. */
  readonly cacheBytes: number;
  /** The event loop's connection: reads only. Writes are the commit thread's. */
  readonly #db: Database;
  readonly #thread: CommitThread;
  readonly #commits: GroupCommit<Write>;
  readonly #listeners = new ChangeListeners();
  readonly #select: Statement<Row, [string]>;
  readonly #keys: Statement<{ key: string }, [string, string, number]>;
  readonly #keysFrom: Statement<{ key: string }, [string, number]>;
  readonly #counts: Statement<{ keys: number; bytes: number }, []>;
  /** Large values read lately, so that repeated GETs of one share its buffer; undefined with `cacheBytes: 0`. */
  readonly #cache: ValueCache | undefined;
  #closed = false;

  /**
   * Opens (creating if needed) the database at `path`. Throws STORE_UNAVAILABLE with the reason.
   * `cacheBytes` bounds the cache of large values (DEFAULT_VALUE_CACHE_BYTES; 0 for none, which
   * a file that other processes write at the same time needs: see value-cache.ts).
   */
  constructor(path: string, options: { sync?: SqliteSync; cacheBytes?: number } = {}) {
    this.path = resolve(path);
    this.sync = options.sync ?? "full";
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      this.#db = openDatabase(this.path, this.sync);
      createSchema(this.#db);
    } catch (error) {
      throw new GnpError("STORE_UNAVAILABLE", `cannot open store sqlite://${this.path}: ${describeSqliteError(error)}`, { cause: error });
    }
    this.#select = this.#db.query<Row, [string]>("SELECT value, version FROM documents WHERE key = ?");
    // A prefix match by range, so the primary key's index serves it and KEYS costs its LIMIT.
    this.#keys = this.#db.query<{ key: string }, [string, string, number]>("SELECT key FROM documents WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3");
    this.#keysFrom = this.#db.query<{ key: string }, [string, number]>("SELECT key FROM documents WHERE key >= ?1 ORDER BY key LIMIT ?2");
    this.#counts = this.#db.query<{ keys: number; bytes: number }, []>("SELECT keys, bytes FROM store_counts WHERE id = 0");
    this.cacheBytes = options.cacheBytes ?? DEFAULT_VALUE_CACHE_BYTES;
    if (this.cacheBytes > 0) {
      // Changes when another connection (the commit thread's, another process's) commits.
      const dataVersion = this.#db.query<{ data_version: number }, []>("PRAGMA data_version");
      this.#cache = new ValueCache({ maxBytes: this.cacheBytes, fileVersion: () => dataVersion.get()!.data_version });
    }
    this.#thread = new CommitThread(this.path, this.sync);
    this.#commits = new GroupCommit<Write>((writes) => this.#commitRound(writes));
  }


  get(key: string): StoredDocument | undefined | Promise<StoredDocument | undefined> {
    return this.#commits.readKey(key, () => this.#guard(() => this.#read(key)));
  }

  put(key: string, value: Uint8Array, ifMatch?: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.#enqueue({ kind: WriteKind.PUT, key, value, ifMatch, bytes: value.byteLength, listener: { written: resolve, failed: reject } });
    });
  }

  /** As put(), without a promise: the commit round tells `write` itself (see ListenedWrites). */
  putListened(write: ListenedPut): void {
    this.#enqueue({ kind: WriteKind.PUT, key: write.key, value: write.value, ifMatch: write.ifMatch, bytes: write.value.byteLength, listener: write });
  }

  delete(key: string, ifMatch?: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#enqueue({ kind: WriteKind.DEL, key, value: undefined, ifMatch, bytes: 0, listener: { written: (result) => resolve(result > 0), failed: reject } });
    });
  }

  keys(prefix: string, limit: number): string[] | Promise<string[]> {
    const upper = prefixUpperBound(prefix);
    const read = () => (upper === undefined ? this.#keysFrom.all(prefix, limit) : this.#keys.all(prefix, upper, limit)).map((row) => row.key);
    return this.#commits.readAll(() => this.#guard(read));
  }

  info(): StoreInfo | Promise<StoreInfo> {
    return this.#commits.readAll(() =>
      this.#guard(() => {
        const row = this.#counts.get();
        return { kind: "sqlite", keys: row?.keys ?? 0, bytes: row?.bytes ?? 0, location: `sqlite://${this.path}` };
      }),
    );
  }

  onChange(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  /** Commits what is queued, then closes the commit thread and the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#commits.idle();
    await this.#thread.close();
    this.#cache?.clear();
    this.#db.close();
  }

  #read(key: string): StoredDocument | undefined {
    const cached = this.#cache?.get(key);
    if (cached !== undefined) return cached;
    const row = this.#select.get(key);
    if (row === null) return undefined;
    // bun:sqlite hands each read a Uint8Array of its own: pass it on, not a copy of it. Kept by
    // the cache it is shared from now on; else it is this read's alone, for the reply to free.
    const document: { value: Uint8Array; version: number; fresh?: boolean } = { value: row.value, version: row.version };
    if (this.#cache?.keep(key, document) !== true) document.fresh = true;
    return document;
  }

  #enqueue(write: Write): void {
    if (this.#closed) write.listener.failed(new GnpError("STORE_FAILED", "store is closed"));
    else this.#commits.add(write);
  }

  /** One round: the worker commits it; then each write is settled and its change announced, in order. */
  async #commitRound(writes: Write[]): Promise<SettleWrite> {
    let results: Float64Array;
    this.#cache?.writing();
    try {
      results = await this.#thread.commit(writes);
    } catch (error) {
      const failure = new GnpError("STORE_FAILED", `store write failed: ${describeSqliteError(error)}`, { cause: error });
      return (index) => writes[index]!.listener.failed(failure);
    } finally {
      // Committed or rolled back, the round's keys are not trusted from the cache: GroupCommit
      // runs the reads that waited for the round only once this returns.
      this.#cache?.wrote(writes.map((write) => write.key));
    }
    return (index) => this.#settle(writes[index]!, results[index]!);
  }

  /** A change is announced before its write is told, as a promise's reply would have followed it. */
  #settle(write: Write, result: number): void {
    if (result < 0) {
      write.listener.failed(conflict(write.key, write.ifMatch ?? 0, currentOfConflict(result)));
      return;
    }
    if (this.#listeners.size > 0) {
      if (write.kind === WriteKind.PUT) this.#listeners.emit({ op: "PUT", key: write.key, version: result, value: write.value! });
      else if (result > 0) this.#listeners.emit({ op: "DEL", key: write.key, version: result });
    }
    write.listener.written(result);
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
