// The shared store: documents in PostgreSQL through Bun.SQL, so several gnp instances serve
// one set of documents. Writes of one instance go through group commit: every write that
// arrives while a round is committing joins the next round, and a round is one call of a
// function (postgres-schema.ts): one statement, one round trip, one transaction. A write
// resolves once its round has committed. Each change sends a NOTIFY; every instance, the
// writer included, LISTENs and announces changes only from those notifications, so each
// change is announced once per instance. INFO adds up counters the rounds keep.

import { SQL } from "bun";
import { GnpError } from "../errors.ts";
import {
  ChangeListeners,
  conflict,
  prefixUpperBound,
  type Change,
  type ChangeListener,
  type DocumentStore,
  type ListenedPut,
  type ListenedWrites,
  type StoreInfo,
  type StoredDocument,
  type WriteListener,
} from "./document-store.ts";
import { GroupCommit, type SettleWrite } from "./group-commit.ts";
import { CHANGE_CHANNEL, COUNTS, KEYS_FROM, KEYS_RANGE, MAX_POSTGRES_KEY_BYTES, SCHEMA_STATEMENTS, SELECT_ONE, WRITE_ROUND } from "./postgres-schema.ts";

export { CHANGE_CHANNEL, INLINE_VALUE_BYTES, MAX_POSTGRES_KEY_BYTES } from "./postgres-schema.ts";

/** Writes in one round at most; the rest wait for the next one. */
const MAX_ROUND_WRITES = 512;
/** A round that deadlocked with another instance's (or failed to serialize) was rolled back whole: run it again. */
const RETRIES = 3;
const RETRYABLE = new Set(["40P01", "40001"]);

type WriteRow = { version: string | null; current: string | null; conflict: boolean };
type DocumentRow = { value: Uint8Array; version: string };
type Write = {
  readonly kind: 1 | 2;
  readonly key: string;
  readonly value: Uint8Array | undefined;
  readonly ifMatch: number | undefined;
  readonly n: number;
  readonly bytes: number;
  readonly listener: WriteListener;
};
type Notice = { op: "PUT" | "DEL"; key: string; version: number; value?: string | null };

export class PostgresStore implements DocumentStore, ListenedWrites {
  /** The URL without its password, as messages and INFO show it. */
  readonly location: string;
  readonly #sql: SQL;
  readonly #password: string;
  readonly #listeners = new ChangeListeners();
  #subscription: SQL.ListenSubscription | undefined;
  readonly #commits: GroupCommit<Write>;
  /** Reads running on the pool; a round waits for those issued before it, so a pipelined GET k, PUT k never reads the PUT. */
  readonly #reads = new Set<Promise<unknown>>();
  #notices = 0;
  #inbox: Notice[] = [];
  #delivering = false;
  #closed = false;

  private constructor(sql: SQL, location: string, password: string) {
    this.#sql = sql;
    this.location = location;
    this.#password = password;
    this.#commits = new GroupCommit<Write>((writes) => this.#commitRound(writes), { maxWrites: MAX_ROUND_WRITES });
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
        for (const statement of SCHEMA_STATEMENTS) await tx.unsafe(statement);
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
    // Each read's value is the driver's fresh buffer for this row, held by nobody else.
    return this.#read(key, SELECT_ONE, [key], (rows) => toDocument(rows[0] as DocumentRow | undefined, true));
  }

  put(key: string, value: Uint8Array, ifMatch?: number): Promise<number> {
    return new Promise<number>((resolve, reject) => this.#enqueue(1, { key, value, ifMatch, listener: { written: resolve, failed: reject } }));
  }

  /** As put(), without a promise: the round tells `write` itself (see ListenedWrites). */
  putListened(write: ListenedPut): void {
    this.#enqueue(1, { key: write.key, value: write.value, ifMatch: write.ifMatch, listener: write });
  }

  delete(key: string, ifMatch?: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) =>
      this.#enqueue(2, { key, value: undefined, ifMatch, listener: { written: (existed) => resolve(existed > 0), failed: reject } }),
    );
  }

  keys(prefix: string, limit: number): Promise<string[]> {
    const upper = prefixUpperBound(prefix);
    const [text, params] = upper === undefined ? [KEYS_FROM, [prefix, limit]] : [KEYS_RANGE, [prefix, upper, limit]];
    return this.#read(undefined, text, params, (rows) => (rows as { key: string }[]).map((row) => row.key));
  }

  /**
   * Keys and bytes as of one snapshot: exactly what the committed rounds of every instance
   * have left, as seen at that moment; a round another instance commits meanwhile shows in
   * the next INFO. The sum of COUNTER_SHARDS rows, whatever the store's size.
   */
  info(): Promise<StoreInfo> {
    return this.#read(undefined, COUNTS, [], (rows) => {
      const row = rows[0] as { keys: string; bytes: string };
      return { kind: "postgres", keys: Number(row.keys), bytes: Number(row.bytes), location: this.location };
    });
  }

  onChange(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  /** Commits what is queued, stops listening and closes the pool. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#commits.idle();
    await Promise.allSettled([...this.#reads]);
    this.#inbox = [];
    await this.#subscription?.unlisten().catch(() => {});
    await this.#sql.close();
  }

  // ── Group commit ────────────────────────────────────────────────────────────────────────

  /**
   * A read runs at once on the pool, unless it names a key with a write still queued (any
   * key, for `key` undefined): then once that write's round has committed.
   */
  #read<T>(key: string | undefined, text: string, params: unknown[], settle: (rows: unknown[]) => T): Promise<T> {
    const run = () => {
      const read = this.#guard(async () => settle(await this.#sql.unsafe(text, params)));
      this.#reads.add(read);
      void read.catch(() => {}).finally(() => this.#reads.delete(read));
      return read;
    };
    return Promise.resolve(key === undefined ? this.#commits.readAll(run) : this.#commits.readKey(key, run));
  }

  #enqueue(kind: 1 | 2, write: Pick<Write, "key" | "value" | "ifMatch" | "listener">): void {
    const invalid = checkKey(write.key);
    if (invalid) write.listener.failed(invalid);
    else if (this.#closed) write.listener.failed(new GnpError("STORE_FAILED", "store is closed"));
    else this.#commits.add({ kind, key: write.key, value: write.value, ifMatch: write.ifMatch, n: ++this.#notices, bytes: write.value?.byteLength ?? 0, listener: write.listener });
  }

  /** One round: one call of the write function, then each write settled from its row. */
  async #commitRound(writes: Write[]): Promise<SettleWrite> {
    // Reads issued before this round must not see it.
    if (this.#reads.size > 0) await Promise.allSettled([...this.#reads]);
    const ops = JSON.stringify(writes.map((w) => ({ k: w.key, o: w.kind, e: w.ifMatch ?? null, n: w.n, s: w.value?.byteLength ?? 0 })));
    const values = Buffer.concat(writes.flatMap((w) => (w.value === undefined ? [] : [w.value])));
    let rows: WriteRow[] | undefined;
    let failure: unknown;
    // Bounded: RETRIES attempts, and only for a round PostgreSQL rolled back as a deadlock victim.
    for (let attempt = 1; rows === undefined && attempt <= RETRIES; attempt++) {
      try {
        rows = (await this.#sql.unsafe(WRITE_ROUND, [ops, values])) as WriteRow[];
      } catch (error) {
        failure = error;
        if (!RETRYABLE.has(String((error as { errno?: unknown; code?: unknown }).errno ?? ""))) break;
      }
    }
    if (rows === undefined) {
      const error = new GnpError("STORE_FAILED", `store write failed: ${describeError(failure, this.#password)}`, { cause: failure });
      return (index) => writes[index]!.listener.failed(error);
    }
    const written = rows;
    return (index) => {
      const write = writes[index]!;
      const row = written[index]!;
      if (row.conflict) write.listener.failed(this.#conflict(write.key, write.ifMatch ?? 0, row.current));
      else if (write.kind === 1) write.listener.written(Number(row.version));
      // A delete tells whether the key existed: above 0 when it did.
      else write.listener.written(row.version !== null ? 1 : 0);
    };
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
    // The function read `current` with the row locked: it is the version the write saw.
    return conflict(key, expected, current === null ? undefined : Number(current));
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

function toDocument(row: DocumentRow | undefined, fresh = false): StoredDocument | undefined {
  if (row === undefined) return undefined;
  // The output queue frees a fresh value only when it spans its whole buffer (owned-memory.ts).
  return { value: new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength), version: Number(row.version), fresh };
}

function checkKey(key: string): GnpError | undefined {
  if (Buffer.byteLength(key) > MAX_POSTGRES_KEY_BYTES) return new GnpError("BAD_ARGUMENTS", `key is longer than ${MAX_POSTGRES_KEY_BYTES} bytes`);
  if (key.includes("\0")) return new GnpError("BAD_ARGUMENTS", `key ${JSON.stringify(key)} holds a NUL, which PostgreSQL text cannot`);
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
