// The in-memory store: for tests and for `--store memory:`. Same contract as the durable
// stores (versions, If-Match, sorted KEYS, change announcements); nothing survives a restart.
// KEYS walks a sorted index and INFO reads counters, so neither costs the store's size.

import { ChangeListeners, conflict, type ChangeListener, type DocumentStore, type StoreInfo, type StoredDocument } from "./document-store.ts";
import { SortedKeys } from "./sorted-keys.ts";

export class MemoryStore implements DocumentStore {
  readonly #documents = new Map<string, StoredDocument>();
  readonly #listeners = new ChangeListeners();
  readonly #sorted = new SortedKeys();
  #bytes = 0;

  get(key: string): StoredDocument | undefined {
    return this.#documents.get(key);
  }

  put(key: string, value: Uint8Array, ifMatch?: number): number {
    const current = this.#documents.get(key);
    if (ifMatch !== undefined && (current?.version ?? 0) !== ifMatch) throw conflict(key, ifMatch, current?.version);
    const version = (current?.version ?? 0) + 1;
    this.#bytes += value.byteLength - (current?.value.byteLength ?? 0);
    if (current === undefined) this.#sorted.add(key);
    this.#documents.set(key, { value, version });
    if (this.#listeners.size > 0) this.#listeners.emit({ op: "PUT", key, version, value });
    return version;
  }

  delete(key: string, ifMatch?: number): boolean {
    const current = this.#documents.get(key);
    if (ifMatch !== undefined && (current?.version ?? 0) !== ifMatch) throw conflict(key, ifMatch, current?.version);
    if (current === undefined) return false;
    this.#documents.delete(key);
    this.#sorted.delete(key);
    this.#bytes -= current.value.byteLength;
    if (this.#listeners.size > 0) this.#listeners.emit({ op: "DEL", key, version: current.version + 1 });
    return true;
  }

  keys(prefix: string, limit: number): string[] {
    return this.#sorted.scan(prefix, limit, (key) => key.startsWith(prefix));
  }

  info(): StoreInfo {
    return { kind: "memory", keys: this.#documents.size, bytes: this.#bytes, location: "memory:" };
  }

  onChange(listener: ChangeListener): () => void {
    return this.#listeners.add(listener);
  }

  close(): void {
    this.#documents.clear();
    this.#sorted.clear();
  }
}
