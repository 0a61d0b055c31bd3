// A bounded cache of a SQLite store's large values, so that repeated reads of one key hand on
// one buffer instead of a fresh copy each: bun:sqlite allocates every value it reads, and a
// 1 MiB GET a few hundred times a second is that many megabytes of garbage a second. Entries
// are never served stale by the store's own writes (it forgets their keys as each round
// commits); the file's data_version drops everything when another writer changed the file.
// When full, a value is let in only if it was read more often lately than the one it would push
// out: under a scan of more values than fit, LRU would evict on every read and hit none.

import type { StoredDocument } from "./document-store.ts";

/** Values at least this long are cached: a shorter copy costs little and dies young. */
export const LARGE_VALUE_BYTES = 64 * 1024;
/** The default bound on the bytes of cached values: sixteen values of the default body limit. */
export const DEFAULT_VALUE_CACHE_BYTES = 16 * 1024 * 1024;
/** Reads of large values counted between two halvings of every count: how "lately" is measured. */
const READS_PER_AGE = 1024;

export type ValueCacheOptions = {
  /** The bound on the bytes held; 0 caches nothing. */
  maxBytes: number;
  /** SQLite's `PRAGMA data_version` on the reading connection: it changes when another connection commits. */
  fileVersion: () => number;
  /** The shortest value kept (LARGE_VALUE_BYTES). */
  minBytes?: number;
};

/**
 * Coherence, in the store's terms: call get() before a read, offer() with what the read
 * returned, writing() as each of the store's own rounds goes to the file and wrote() with its
 * keys once it has committed (or failed), before any read that waited for it. A change of the
 * file's data_version seen while a round of the store's own is committing is taken for that
 * round's commit (its keys are forgotten at wrote()); any other change is another writer's,
 * and then nothing cached is trusted. Another writer's commit that lands while one of the
 * store's own rounds commits is therefore not told apart, which is why a file that other
 * processes write (the workers of `--workers`) is opened without a cache.
 *
 * @example
 * const cache = new ValueCache({ maxBytes: 16 << 20, fileVersion: () => pragma.get()!.data_version });
 * const document = cache.get(key) ?? cache.offer(key, readRow(key));
 */
export class ValueCache {
  /** In order of last read, least recent first (a Map keeps insertion order). */
  readonly #entries = new Map<string, StoredDocument>();
  /**
   * Recent reads of each large value's key, cached or not, halved every READS_PER_AGE reads
   * (keys at 0 dropped), so it holds about 2 x READS_PER_AGE keys at most.
   */
  readonly #reads = new Map<string, number>();
  #readsThisAge = 0;
  readonly #maxBytes: number;
  readonly #minBytes: number;
  readonly #fileVersion: () => number;
  #bytes = 0;
  /** The file's data_version at the last look; whether a round of the store's own is committing. */
  #seen: number;
  #writing = false;

  constructor(options: ValueCacheOptions) {
    this.#maxBytes = options.maxBytes;
    this.#minBytes = options.minBytes ?? LARGE_VALUE_BYTES;
    this.#fileVersion = options.fileVersion;
    this.#seen = options.fileVersion();
  }

  /** Bytes of the values held. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached document of `key`, if any and still what the file holds. */
  get(key: string): StoredDocument | undefined {
    // Only a hit looks at the file: a read of a value that is not cached (most are small) pays nothing.
    if (!this.#entries.has(key)) return undefined;
    this.#look();
    const document = this.#entries.get(key);
    if (document !== undefined) {
      // Most recent last.
      this.#entries.delete(key);
      this.#entries.set(key, document);
      this.#count(key);
    }
    return document;
  }

  /**
   * Keeps what a read of `key` returned when it is large, fits the bound, no other writer
   * changed the file since the last look, and either it fits beside what is held or its key was
   * read more often lately than the least recently read entry's, which then goes (as many as it
   * takes). Returns `document`.
   */
  offer<D extends StoredDocument | undefined>(key: string, document: D): D {
    if (document !== undefined) this.keep(key, document);
    return document;
  }

  /** As offer(): true when `document` was kept (its value is shared from now on). */
  keep(key: string, document: StoredDocument): boolean {
    const length = document.value.byteLength;
    if (length < this.#minBytes || length > this.#maxBytes || !this.#look()) return false;
    const reads = this.#count(key);
    this.#forget(key);
    if (this.#bytes + length > this.#maxBytes) {
      // Full: a value read no more often than the one it would evict is served and not kept.
      const [oldest] = this.#entries.keys();
      if (oldest !== undefined && reads <= (this.#reads.get(oldest) ?? 0)) return false;
    }
    // Bounded: each turn removes one entry, and the bound holds `length` alone.
    for (const [oldest, held] of this.#entries) {
      if (this.#bytes + length <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= held.value.byteLength;
    }
    this.#entries.set(key, document);
    this.#bytes += length;
    return true;
  }

  /** A round of the store's own writes goes to the file: until wrote(), a change of the file may be its commit. */
  writing(): void {
    // What changed before the round is another writer's: caught now, not taken for the round's.
    if (this.#entries.size > 0) this.#look();
    this.#writing = true;
  }

  /** That round, over `keys`, committed or failed: their entries go, and the file as it is now is the round's doing. */
  wrote(keys: Iterable<string>): void {
    for (const key of keys) this.#forget(key);
    this.#writing = false;
    this.#seen = this.#fileVersion();
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  /** Counts a read of `key` and returns its recent reads; every READS_PER_AGE reads, all counts halve. */
  #count(key: string): number {
    const reads = (this.#reads.get(key) ?? 0) + 1;
    this.#reads.set(key, reads);
    if (++this.#readsThisAge >= READS_PER_AGE) {
      this.#readsThisAge = 0;
      // Bounded by the map's size, itself bounded as #reads says.
      for (const [counted, n] of this.#reads) {
        if (n >> 1 === 0) this.#reads.delete(counted);
        else this.#reads.set(counted, n >> 1);
      }
    }
    return reads;
  }

  /**
   * Catches up with the file: false when another writer changed it since the last look (every
   * entry is dropped then, and a value just read is not kept either: it may predate the change).
   * A change while a round of the store's own commits keeps the rest: a key of that round is
   * never read meanwhile (the store's reads of it wait for the round), and wrote() forgets it.
   */
  #look(): boolean {
    const now = this.#fileVersion();
    if (now === this.#seen) return true;
    this.#seen = now;
    if (this.#writing) return true;
    this.clear();
    return false;
  }

  #forget(key: string): void {
    const held = this.#entries.get(key);
    if (held === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= held.value.byteLength;
  }
}
