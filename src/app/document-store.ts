// The contract every document store keeps (memory, bun:sqlite, PostgreSQL), so the built-in
// commands never know which one they talk to. Every document has a version: 1 when created,
// one more at each PUT. A write resolves only once it is durable in the store's own terms,
// and each committed change is announced to the store's change listeners exactly once.

import { GnpError } from "../errors.ts";

/**
 * A document as get() returns it. `fresh`: the value was read for this call alone and nobody
 * else holds it (not a cache, not the store itself), so the caller may hand it to the server to
 * free once sent (ReplyInit.transfer); otherwise the value may be shared.
 */
export type StoredDocument = { readonly value: Uint8Array; readonly version: number; readonly fresh?: boolean };

export type Change =
  | { readonly op: "PUT"; readonly key: string; readonly version: number; readonly value: Uint8Array }
  | { readonly op: "DEL"; readonly key: string; readonly version: number };

export type ChangeListener = (change: Change) => void;

export type StoreInfo = { readonly kind: string; readonly keys: number; readonly bytes: number; readonly location: string };

/** Longest KEYS page. */
export const MAX_KEYS_LIMIT = 1000;
export const DEFAULT_KEYS_LIMIT = 100;

export interface DocumentStore {
  /**
   * The key's document. Its value may be shared with other readers (the memory store hands on
   * the buffer a PUT stored, the SQLite store the one it cached for a large value): read it,
   * send it, never change it. One marked `fresh` is the caller's alone: it may also hand it over
   * to be freed once sent, and must not use it after that.
   */
  get(key: string): Promise<StoredDocument | undefined> | StoredDocument | undefined;
  /**
   * Stores `value` and returns the new version. With `ifMatch`, the current version must
   * equal it (0: the key must not exist), else GnpError CONFLICT.
   */
  put(key: string, value: Uint8Array, ifMatch?: number): Promise<number> | number;
  /** Deletes the key; returns false when it did not exist. `ifMatch` as for put. */
  delete(key: string, ifMatch?: number): Promise<boolean> | boolean;
  /** Keys starting with `prefix`, sorted by their bytes, at most `limit`. */
  keys(prefix: string, limit: number): Promise<string[]> | string[];
  info(): Promise<StoreInfo> | StoreInfo;
  /** Hears every committed change (for PostgreSQL: those of every instance). Returns an unsubscribe. */
  onChange(listener: ChangeListener): () => void;
  close(): Promise<void> | void;
}

/**
 * How one write ended, told to a listener instead of through a promise: for a caller that
 * has many writes settle at once (the built-in PUT under a commit round). `written` gets
 * put()'s version, or for a delete a number above 0 when the key existed (0 when it did not);
 * `failed` gets what put() or delete() would reject with.
 */
export interface WriteListener {
  written(result: number): void;
  failed(error: unknown): void;
}

/** A PUT handed to a store together with its listener. */
export interface ListenedPut extends WriteListener {
  readonly key: string;
  readonly value: Uint8Array;
  readonly ifMatch: number | undefined;
}

/** A store that can tell a write's listener instead of returning a promise (SqliteStore, PostgresStore). */
export interface ListenedWrites {
  /** As put(), telling `write` how it ended, at once when it fails at once. */
  putListened(write: ListenedPut): void;
}

export function hasListenedWrites(store: DocumentStore): store is DocumentStore & ListenedWrites {
  return typeof (store as Partial<ListenedWrites>).putListened === "function";
}

export function conflict(key: string, expected: number, actual: number | undefined): GnpError {
  const now = actual === undefined ? "it does not exist" : `its version is ${actual}`;
  return new GnpError("CONFLICT", `conflict on ${key}: If-Match ${expected} but ${now}`);
}

/** Listeners of one store; a listener that throws is logged, never allowed to fail a write. */
export class ChangeListeners {
  readonly #listeners = new Set<ChangeListener>();

  add(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get size(): number {
    return this.#listeners.size;
  }

  emit(change: Change): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        console.error("gnp: a change listener threw:", error);
      }
    }
  }
}

/**
 * The least string above every string that starts with `prefix`, in byte order (UTF-8's byte
 * order is its code points' order, which both SQLite's BINARY and PostgreSQL's "C" collation
 * follow): the prefix with its last code point incremented, after dropping trailing U+10FFFF,
 * which has no successor. Undefined when there is none (empty prefix, or only U+10FFFF): then
 * every key from `prefix` up matches. Surrogates are skipped: they are never in a stored key.
 * `prefix + "\u{10FFFF}"` would not do: it sorts below `prefix + "\u{10FFFF}z"`.
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
