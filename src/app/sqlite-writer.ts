// The SQLite side of a commit round: one connection that applies a round of writes in one
// transaction (BEGIN IMMEDIATE ... COMMIT, so one fsync with synchronous=FULL) and keeps the
// key and byte counters in the same transaction, so they are exact after any crash. It runs
// inside the commit worker (sqlite-commit-worker.ts); the schema and pragmas live here too,
// so the event loop's reading connection opens the file the same way.

import { Database, type Statement } from "bun:sqlite";
import { WriteKind, conflictResult, type DecodedRound, type SqliteSync } from "./sqlite-batch.ts";

/** Opens a connection with the store's pragmas: WAL, the chosen synchronous level, a wait for a sibling's lock. */
export function openDatabase(path: string, sync: SqliteSync): Database {
  const db = new Database(path, { create: true, strict: true });
  // First, so that switching to WAL waits for another process (a sibling worker) instead of failing.
  db.run("PRAGMA busy_timeout = 5000");
  db.run("PRAGMA journal_mode = WAL");
  db.run(`PRAGMA synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
  return db;
}

/**
 * Creates the tables if missing. The counters' row is filled once, by a scan, when it is
 * missing (a new file, or one written before counters existed); from then on every commit
 * moves it by its own deltas.
 */
export function createSchema(db: Database): void {
  db.run("CREATE TABLE IF NOT EXISTS documents (key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID");
  db.run("CREATE TABLE IF NOT EXISTS store_counts (id INTEGER PRIMARY KEY CHECK (id = 0), keys INTEGER NOT NULL, bytes INTEGER NOT NULL)");
  db.transaction(() => {
    if (db.query("SELECT 1 FROM store_counts WHERE id = 0").get() !== null) return;
    db.run("INSERT INTO store_counts (id, keys, bytes) SELECT 0, count(*), coalesce(sum(length(value)), 0) FROM documents");
  }).immediate();
}

/** The write connection's page cache, in KiB (SQLite's default is 2,000 KiB). */
const WRITER_CACHE_KIB = 16 * 1024;
/** WAL pages between two automatic checkpoints (SQLite's default is 1,000). */
const CHECKPOINT_PAGES = 10_000;

type Current = { version: number; size: number };

/**
 * A key's state as the round has left it so far; written to the table once, at the end.
 * `write`: the index of the PUT whose value it holds (its bytes stay in the round's buffer
 * until then), or -1.
 */
type Slot = { version: number; size: number; exists: boolean; readonly existed: boolean; readonly sizeAtStart: number; write: number; dirty: boolean };

export class SqliteWriter {
  readonly #db: Database;
  readonly #begin: Statement;
  readonly #commit: Statement;
  readonly #rollback: Statement;
  // length(value) reads the blob's size from its header, not its bytes.
  readonly #current: Statement<Current, [string]>;
  readonly #upsert: Statement<unknown, [string, Uint8Array, number]>;
  readonly #remove: Statement<unknown, [string]>;
  readonly #count: Statement<unknown, [number, number]>;

  constructor(path: string, sync: SqliteSync) {
    this.#db = openDatabase(path, sync);
    // Writes spread over many keys touch a page each, and SQLite writes whole pages (a 4 KiB WAL
    // frame for a 100-byte PUT, and again at the checkpoint). Measured with a million random keys
    // (bench/durable.ts --keyspace): the default 2 MiB page cache re-reads from the file most
    // pages a round touches, and checkpoints every 1,000 pages copy back pages that later rounds
    // dirty again. A 16 MiB cache and a checkpoint every 10,000 pages (a WAL of up to ~40 MiB)
    // took that case from 34-37k to 46-47k PUTs/s; the writer alone needs them, and only it
    // commits, so only it checkpoints.
    this.#db.run(`PRAGMA cache_size = -${WRITER_CACHE_KIB}`);
    this.#db.run(`PRAGMA wal_autocheckpoint = ${CHECKPOINT_PAGES}`);
    this.#begin = this.#db.prepare("BEGIN IMMEDIATE");
    this.#commit = this.#db.prepare("COMMIT");
    this.#rollback = this.#db.prepare("ROLLBACK");
    this.#current = this.#db.prepare<Current, [string]>("SELECT version, length(value) AS size FROM documents WHERE key = ?");
    this.#upsert = this.#db.prepare(
      "INSERT INTO documents (key, value, version) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version",
    );
    this.#remove = this.#db.prepare("DELETE FROM documents WHERE key = ?");
    this.#count = this.#db.prepare("UPDATE store_counts SET keys = keys + ?1, bytes = bytes + ?2 WHERE id = 0");
  }

  /**
   * Applies the writes in order in one transaction and returns one result each (see
   * sqlite-batch.ts). Each key is read once and written once per round, whatever number of
   * writes name it: the results are those of running the writes one by one, and the table
   * ends the same, but ten PUTs of one key cost one row write. A failed If-Match changes
   * nothing, so it needs no savepoint and never undoes a neighbour; any other failure (disk
   * full, I/O error) rolls the whole round back and throws.
   */
  commit(round: DecodedRound): Float64Array {
    const { count, kinds, keys, ifMatch, valueStarts } = round;
    const results = new Float64Array(count);
    const slots = new Map<string, Slot>();
    this.#begin.run();
    try {
      for (let i = 0; i < count; i++) {
        const key = keys[i]!;
        let slot = slots.get(key);
        if (slot === undefined) {
          const current = this.#current.get(key);
          const size = current?.size ?? 0;
          slot = { version: current?.version ?? 0, size, exists: current !== null, existed: current !== null, sizeAtStart: size, write: -1, dirty: false };
          slots.set(key, slot);
        }
        const version = slot.exists ? slot.version : 0;
        const expected = ifMatch[i]!;
        if (!Number.isNaN(expected) && version !== expected) {
          results[i] = conflictResult(version);
        } else if (kinds[i] === WriteKind.PUT) {
          slot.version = version + 1;
          slot.size = valueStarts[i + 1]! - valueStarts[i]!;
          slot.write = i;
          slot.exists = true;
          slot.dirty = true;
          results[i] = version + 1;
        } else if (!slot.exists) {
          results[i] = 0;
        } else {
          slot.exists = false;
          slot.dirty = true;
          results[i] = version + 1;
        }
      }
      this.#apply(slots, round);
      this.#commit.run();
    } catch (error) {
      try {
        this.#rollback.run();
      } catch {
        // SQLite may already have rolled back (it does on SQLITE_FULL and some I/O errors).
      }
      throw error;
    }
    return results;
  }

  /** Writes each changed key's final state and moves the counters by the round's deltas. */
  #apply(slots: Map<string, Slot>, round: DecodedRound): void {
    let keys = 0;
    let bytes = 0;
    for (const [key, slot] of slots) {
      if (!slot.dirty) continue;
      if (slot.exists) this.#upsert.run(key, round.values.subarray(round.valueStarts[slot.write]!, round.valueStarts[slot.write + 1]!), slot.version);
      else if (slot.existed) this.#remove.run(key);
      else continue;
      keys += Number(slot.exists) - Number(slot.existed);
      bytes += (slot.exists ? slot.size : 0) - (slot.existed ? slot.sizeAtStart : 0);
    }
    if (keys !== 0 || bytes !== 0) this.#count.run(keys, bytes);
  }

  close(): void {
    this.#db.close();
  }
}
