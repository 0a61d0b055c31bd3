// The shared store: documents in PostgreSQL through Bun.SQL, so several gnp instances serve
// one set of documents. Writes of one instance run in order, batched into one transaction per
// round (group commit), and resolve once it has committed. Each committed change sends a
// NOTIFY in its own transaction; every instance, the writer included, LISTENs and announces
// changes only from those notifications, so each change is announced once per instance.

import { SQL } from "bun";
import { GnpError } from "../errors.ts";
import { ChangeListeners, conflict, type Change, type ChangeListener, type DocumentStore, type StoreInfo, type StoredDocument } from "./document-store.ts";

/** The LISTEN/NOTIFY channel every instance shares. */
export const CHANGE_CHANNEL = "gnp_changes";
/** Values up to this size travel inside the notification; larger ones are read back by key. */
export const INLINE_VALUE_BYTES = 4096;
/**
 * Longest key this store accepts. A NOTIFY payload must stay under 8000 bytes and the key
 * travels in it, JSON-escaped (at worst 6 bytes a byte); gnp's own commands allow 512. A value
 * travels inline only while the escaped key is at most 1024 bytes, so base64 (at most 5464
 * bytes), key and the rest stay under the limit.
 */
export const MAX_POSTGRES_KEY_BYTES = 1024;
/** Operations in one transaction at most; the rest wait for the next round. */
const MAX_BATCH = 512;

const SCHEMA = `CREATE TABLE IF NOT EXISTS gnp_documents (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL, version bigint NOT NULL)`;
// Two instances creating the table at once can collide in the catalog; a lock makes them take turns.
const SCHEMA_LOCK = `SELECT pg_advisory_xact_lock(7160291830251183616)`;

// What a notification carries: never the whole value, which may exceed NOTIFY's 8000 bytes, but
// a small one inline (base64 without line breaks), null for the rest. "n" is a number unique
// within the instance: PostgreSQL folds identical payloads sent in one transaction into one,
// and PUT k v1, DEL k, PUT k v1 in one batch would otherwise lose the second PUT.
const PUT_PAYLOAD = `json_build_object('op', 'PUT', 'key', $1::text, 'version', w.version, 'n', $2::bigint, 'value',
  CASE WHEN octet_length(w.value) <= ${INLINE_VALUE_BYTES} AND octet_length(to_json($1::text)::text) <= ${MAX_POSTGRES_KEY_BYTES}
  THEN translate(encode(w.value, 'base64'), E'\\n', '') END)::text`;
const DEL_PAYLOAD = `json_build_object('op', 'DEL', 'key', $1::text, 'version', w.version + 1, 'n', $2::bigint)::text`;

/**
 * One statement per write: the write, its NOTIFY (sent by PostgreSQL at commit), and the version
 * the key had when the statement began, for the conflict message. It always returns one row;
 * `version` is null when the write's condition did not hold. A condition is checked by the
 * write itself (WHERE version = $expected, ON CONFLICT DO NOTHING), and PostgreSQL rechecks it
 * on the row's latest version after waiting for a concurrent writer: race-free across instances.
 */
function writeStatement(write: string, payload: string): string {
  return `WITH w AS (${write} RETURNING d.version, d.value)
    SELECT w.version, c.current, CASE WHEN w.version IS NOT NULL THEN pg_notify('${CHANGE_CHANNEL}', ${payload}) END AS notified
    FROM (SELECT (SELECT version FROM gnp_documents WHERE key = $1) AS current) c LEFT JOIN w ON true`;
}

// Parameters: $1 key, $2 notification number, then value and expected version.
const PUT_ANY = writeStatement(
  `INSERT INTO gnp_documents AS d (key, value, version) VALUES ($1, $3, 1)
   ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = d.version + 1`,
  PUT_PAYLOAD,
);
const PUT_IF_ABSENT = writeStatement(`INSERT INTO gnp_documents AS d (key, value, version) VALUES ($1, $3, 1) ON CONFLICT (key) DO NOTHING`, PUT_PAYLOAD);
const PUT_IF_VERSION = writeStatement(`UPDATE gnp_documents AS d SET value = $3, version = d.version + 1 WHERE key = $1 AND version = $4`, PUT_PAYLOAD);
const DEL_ANY = writeStatement(`DELETE FROM gnp_documents AS d WHERE key = $1`, DEL_PAYLOAD);
const DEL_IF_VERSION = writeStatement(`DELETE FROM gnp_documents AS d WHERE key = $1 AND version = $3`, DEL_PAYLOAD);
const SELECT_ONE = `SELECT value, version FROM gnp_documents WHERE key = $1`;
// Prefix match by range, so the primary key's index serves it (no LIKE, so no escaping).
const KEYS_RANGE = `SELECT key FROM gnp_documents WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3`;
const KEYS_FROM = `SELECT key FROM gnp_documents WHERE key >= $1 ORDER BY key LIMIT $2`;

type WriteRow = { version: string | null; current: string | null };
type DocumentRow = { value: Uint8Array; version: string };
type Operation = { text: string; params: unknown[]; settle: (rows: unknown[]) => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void };
type Notice = { op: "PUT" | "DEL"; key: string; version: number; value?: string | null };

export class PostgresStore implements DocumentStore {
  /** The URL without its password, as messages and INFO show it. */
  readonly location: string;
  readonly #sql: SQL;
  readonly #password: string;
  readonly #listeners = new ChangeListeners();
  #subscription: SQL.ListenSubscription | undefined;
  #queue: Operation[] = [];
  #running: Promise<void> | undefined;
  /** Reads running on the pool, outside the ordered queue; writes wait for them. */
  #directReads = 0;
  #readsDone: (() => void) | undefined;
  #notices = 0;
  #inbox: Notice[] = [];
  #delivering = false;
  #closed = false;

  private constructor(sql: SQL, location: string, password: string) {
    this.#sql = sql;
    this.location = location;
    this.#password = password;
  }

  /**
   * Connects, creates the table if missing, and starts listening for changes. Throws
   * STORE_UNAVAILABLE (no server, bad credentials, no such database) with the reason.
   *
   * @example
   * const store = await PostgresStore.open("postgres://gnp@127.0.0.1:5432/gnp");
   */
  static async open(url: string): Promise<PostgresStore> {
    const { location, password } = describeUrl(url);
    const sql = new SQL(url, { max: 10, connectionTimeout: 10 });
    const store = new PostgresStore(sql, location, password);
    try {
      await sql.begin(async (tx) => {
        await tx.unsafe(SCHEMA_LOCK);
        await tx.unsafe(SCHEMA);
      });
      let listening = false;
      store.#subscription = await sql.listen(
        CHANGE_CHANNEL,
        (payload) => store.#receive(payload),
        () => {
          // Bun re-subscribes after a lost connection; what was committed meanwhile was not heard.
          if (listening) console.error(`gnp: LISTEN on ${location} was re-established; changes made while it was down were not pushed`);
          listening = true;
        },
      );
    } catch (error) {
      await sql.close().catch(() => {});
      throw new GnpError("STORE_UNAVAILABLE", `cannot open store ${location}: ${describeError(error, password)}`, { cause: error });
    }
    return store;
  }

  get(key: string): Promise<StoredDocument | undefined> {
    return this.#read(SELECT_ONE, [key], (rows) => toDocument(rows[0] as DocumentRow | undefined));
  }

  put(key: string, value: Uint8Array, ifMatch?: number): Promise<number> {
    const invalid = checkKey(key);
    if (invalid) return Promise.reject(invalid);
    const n = ++this.#notices;
    const [text, params] =
      ifMatch === undefined ? [PUT_ANY, [key, n, value]] : ifMatch === 0 ? [PUT_IF_ABSENT, [key, n, value]] : [PUT_IF_VERSION, [key, n, value, ifMatch]];
    return this.#enqueue(text, params, (rows) => {
      const row = rows[0] as WriteRow;
      if (row.version === null) throw this.#conflict(key, ifMatch ?? 0, row.current);
      return Number(row.version);
    });
  }

  delete(key: string, ifMatch?: number): Promise<boolean> {
    const invalid = checkKey(key);
    if (invalid) return Promise.reject(invalid);
    if (ifMatch === 0) {
      // "Must not exist": nothing to delete either way; it only conflicts when the key is there.
      return this.#read(SELECT_ONE, [key], (rows) => {
        const row = rows[0] as DocumentRow | undefined;
        if (row !== undefined) throw conflict(key, 0, Number(row.version));
        return false;
      });
    }
    const n = ++this.#notices;
    const [text, params] = ifMatch === undefined ? [DEL_ANY, [key, n]] : [DEL_IF_VERSION, [key, n, ifMatch]];
    return this.#enqueue(text, params, (rows) => {
      const row = rows[0] as WriteRow;
      if (row.version !== null) return true;
      if (ifMatch === undefined) return false;
      throw this.#conflict(key, ifMatch, row.current);
    });
  }

  keys(prefix: string, limit: number): Promise<string[]> {
    const upper = prefixUpperBound(prefix);
    const [text, params] = upper === undefined ? [KEYS_FROM, [prefix, limit]] : [KEYS_RANGE, [prefix, upper, limit]];
    return this.#read(text, params, (rows) => (rows as { key: string }[]).map((row) => row.key));
  }

  async info(): Promise<StoreInfo> {
    const rows = await this.#guard(() => this.#sql`SELECT count(*)::bigint AS keys, coalesce(sum(octet_length(value)), 0)::bigint AS bytes FROM gnp_documents`);
    const row = rows[0] as { keys: string; bytes: string };
    return { kind: "postgres", keys: Number(row.keys), bytes: Number(row.bytes), location: this.location };
  }

  onChange(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  /** Commits what is queued, stops listening and closes the pool. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Bounded: each round drains up to MAX_BATCH of a queue that no longer grows.
    while (this.#running) await this.#running;
    this.#inbox = [];
    await this.#subscription?.unlisten().catch(() => {});
    await this.#sql.close();
  }

  // ── Ordered writes, group commit ───────────────────────────────────────────────────────

  /**
   * A read runs at once on the pool, unless writes are queued: then after them, in order. A
   * round of writes in turn waits for the reads issued before it, so a pipelined GET k, PUT k
   * never reads the PUT.
   */
  #read<T>(text: string, params: unknown[], settle: (rows: unknown[]) => T): Promise<T> {
    if (this.#queue.length > 0 || this.#running) return this.#enqueue(text, params, settle);
    this.#directReads++;
    return this.#guard(async () => settle(await this.#sql.unsafe(text, params))).finally(() => {
      if (--this.#directReads === 0) this.#readsDone?.();
    });
  }

  #enqueue<T>(text: string, params: unknown[], settle: (rows: unknown[]) => T): Promise<T> {
    if (this.#closed) return Promise.reject(new GnpError("STORE_FAILED", "store is closed"));
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    this.#queue.push({ text, params, settle, resolve: resolve as (value: unknown) => void, reject });
    // Operations issued in the same tick (a pipelined burst) share the first round.
    if (this.#running === undefined) this.#running = Promise.resolve().then(() => this.#drain());
    return promise;
  }

  /** One round at a time, so operations commit in the order they were issued. */
  async #drain(): Promise<void> {
    // Bounded by the queue: every round takes up to MAX_BATCH operations off it.
    while (this.#queue.length > 0) {
      // No read can join #directReads now (the queue is not empty), so this wait ends.
      if (this.#directReads > 0) {
        const { promise, resolve } = Promise.withResolvers<void>();
        this.#readsDone = resolve;
        await promise;
        this.#readsDone = undefined;
      }
      const batch = this.#queue.splice(0, MAX_BATCH);
      await this.#commit(batch);
    }
    this.#running = undefined;
  }

  /**
   * Sends the batch's statements pipelined on one connection inside one transaction. A failed
   * condition is a row, not an error, so one operation's conflict never undoes its neighbours.
   */
  async #commit(batch: Operation[]): Promise<void> {
    let results: unknown[][];
    try {
      results = (await this.#sql.begin((tx) => Promise.all(batch.map((op) => tx.unsafe(op.text, op.params))))) as unknown[][];
    } catch (error) {
      const failure = new GnpError("STORE_FAILED", `store write failed: ${describeError(error, this.#password)}`, { cause: error });
      for (const op of batch) op.reject(failure);
      return;
    }
    batch.forEach((op, i) => {
      try {
        op.resolve(op.settle(results[i]!));
      } catch (error) {
        op.reject(error);
      }
    });
  }

  /** Runs a read outside the queue; a driver error becomes STORE_FAILED, an ERR reply. */
  async #guard<T>(run: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new GnpError("STORE_FAILED", "store is closed");
    try {
      return await run();
    } catch (error) {
      if (error instanceof GnpError) throw error;
      throw new GnpError("STORE_FAILED", `store read failed: ${describeError(error, this.#password)}`, { cause: error });
    }
  }

  #conflict(key: string, expected: number, current: string | null): GnpError {
    const actual = current === null ? undefined : Number(current);
    // The key's version at the statement's start can equal If-Match when another instance
    // changed it while this statement waited for its row: say so rather than "3 but 3".
    if ((actual ?? 0) === expected) return new GnpError("CONFLICT", `conflict on ${key}: If-Match ${expected} but it changed concurrently`);
    return conflict(key, expected, actual);
  }

  // ── Announcing changes from notifications ───────────────────────────────────────────────

  #receive(payload: string): void {
    if (this.#closed) return;
    let notice: Notice;
    try {
      notice = JSON.parse(payload) as Notice;
      if ((notice.op !== "PUT" && notice.op !== "DEL") || typeof notice.key !== "string" || typeof notice.version !== "number") throw new Error("unexpected shape");
    } catch {
      console.error(`gnp: ignored a notification on ${CHANGE_CHANNEL} that is not gnp's: ${payload.slice(0, 80)}`);
      return;
    }
    this.#inbox.push(notice);
    if (!this.#delivering) void this.#deliver();
  }

  /**
   * Announces notices in arrival order, which is commit order. A PUT whose value was too large
   * to travel inline is read back; if the key's version is no longer the notified one, that
   * version was superseded and the PUT is skipped: the later change has its own notification.
   */
  async #deliver(): Promise<void> {
    this.#delivering = true;
    // Bounded by the inbox: each turn takes one notice off it.
    while (this.#inbox.length > 0 && !this.#closed) {
      const notice = this.#inbox.shift()!;
      const { op, key, version } = notice;
      const change: Change | undefined = op === "DEL" ? { op, key, version } : await this.#valueOf(notice);
      if (change) this.#listeners.emit(change);
    }
    this.#delivering = false;
  }

  async #valueOf(notice: Notice): Promise<Change | undefined> {
    const { key, version } = notice;
    if (typeof notice.value === "string") return { op: "PUT", key, version, value: new Uint8Array(Buffer.from(notice.value, "base64")) };
    try {
      const document = toDocument((await this.#sql.unsafe(SELECT_ONE, [key]))[0] as DocumentRow | undefined);
      return document?.version === version ? { op: "PUT", key, version, value: document.value } : undefined;
    } catch (error) {
      console.error(`gnp: could not read ${key} to announce its version ${version}: ${describeError(error, this.#password)}`);
      return undefined;
    }
  }
}

function toDocument(row: DocumentRow | undefined): StoredDocument | undefined {
  if (row === undefined) return undefined;
  return { value: new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength), version: Number(row.version) };
}

function checkKey(key: string): GnpError | undefined {
  if (Buffer.byteLength(key) > MAX_POSTGRES_KEY_BYTES) return new GnpError("BAD_ARGUMENTS", `key is longer than ${MAX_POSTGRES_KEY_BYTES} bytes`);
  if (key.includes("\0")) return new GnpError("BAD_ARGUMENTS", `key ${JSON.stringify(key)} holds a NUL, which PostgreSQL text cannot`);
  return undefined;
}

/**
 * The least string above every string that starts with `prefix`, in byte (= code point) order:
 * the prefix with its last code point incremented. Undefined when there is none (empty prefix,
 * or only U+10FFFF). Surrogates are skipped: they are not characters and never stored.
 *
 * @example
 * prefixUpperBound("users/"); // "users0": "users/..." sorts in ["users/", "users0")
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix, (char) => char.codePointAt(0)!);
  // Bounded by the prefix's length: each turn drops one code point.
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      points.push(last + 1 === 0xd800 ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

/** `postgres://user@host:port/db` for messages (never the password), and the password to scrub. */
function describeUrl(url: string): { location: string; password: string } {
  try {
    const parsed = new URL(url);
    const user = decodeURIComponent(parsed.username);
    const database = decodeURIComponent(parsed.pathname.slice(1)) || user;
    const location = `postgres://${user ? `${user}@` : ""}${parsed.hostname || "localhost"}:${parsed.port || "5432"}/${database}`;
    return { location, password: decodeURIComponent(parsed.password) };
  } catch {
    // Not quoted: the URL may hold a password.
    throw new GnpError("CONFIG_INVALID", "invalid store URL: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE");
  }
}

/** The driver's reason in one line, with the password blanked should it ever appear. */
function describeError(error: unknown, password: string): string {
  const code = (error as { code?: unknown } | null)?.code;
  let message = error instanceof Error ? error.message : String(error);
  if (code === "ERR_POSTGRES_CONNECTION_REFUSED") message = "connection refused (is PostgreSQL running and listening there?)";
  else if (code === "ERR_POSTGRES_CONNECTION_TIMEOUT") message = `connection timed out: ${message}`;
  if (password) message = message.split(password).join("***");
  return message.replace(/\s+/g, " ").trim();
}
