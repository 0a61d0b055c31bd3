// The in-memory document store: keys to byte values. The durable stores of a later issue
// (bun:sqlite, PostgreSQL) take the same interface, so the built-in commands never know
// which one they talk to.

/** A key-value store for the built-in commands. Async so that durable stores fit. */
export interface DocumentStore {
  get(key: string): Promise<Uint8Array | undefined> | Uint8Array | undefined;
  put(key: string, value: Uint8Array): Promise<void> | void;
  /** Returns whether the key existed. */
  delete(key: string): Promise<boolean> | boolean;
  close(): Promise<void> | void;
}

export class MemoryStore implements DocumentStore {
  readonly #values = new Map<string, Uint8Array>();

  get(key: string): Uint8Array | undefined {
    return this.#values.get(key);
  }

  put(key: string, value: Uint8Array): void {
    this.#values.set(key, value);
  }

  delete(key: string): boolean {
    return this.#values.delete(key);
  }

  get size(): number {
    return this.#values.size;
  }

  close(): void {
    this.#values.clear();
  }
}
