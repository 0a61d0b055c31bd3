// The memory store's key index: every key in UTF-8 byte order, in chunks of at most
// MAX_CHUNK sorted keys, so an insert or delete moves at most a chunk's worth of entries and
// a prefix scan finds its start by binary search and costs its LIMIT, not the store's size.

/** A chunk splits in two past this size; small enough that splicing one is cheap. */
const MAX_CHUNK = 1024;

/**
 * Orders strings by their UTF-8 bytes, which is code point order. JavaScript's `<` compares
 * UTF-16 units, which puts U+E000..U+FFFF above the surrogates of U+10000 and up; shifting
 * both ranges at the first difference puts them back in code point order.
 *
 * @example
 * compareKeys("\u{FFFF}", "\u{10000}") < 0; // while "\u{FFFF}" < "\u{10000}" is false
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) return fixup(x) - fixup(y);
    return x - y;
  }
  return a.length - b.length;
}

function fixup(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** A code unit from U+D800 up: only where both strings have one does `<` differ from compareKeys. */
const HIGH_UNIT = /[\uD800-\uFFFF]/;

/**
 * compareKeys, by the engine's own string comparison: exact when either string has no unit
 * from U+D800 up, since the two orders part only where both strings' first differing units do.
 */
function compareUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** How to compare keys against `key`: natively when it allows (most keys are ASCII), else compareKeys. */
function comparerFor(key: string): (a: string, b: string) => number {
  return HIGH_UNIT.test(key) ? compareKeys : compareUnits;
}

export class SortedKeys {
  /** Non-empty chunks, each sorted, all of chunk i below all of chunk i + 1. */
  #chunks: string[][] = [];

  /** Adds `key`, which must not be present. */
  add(key: string): void {
    if (this.#chunks.length === 0) {
      this.#chunks.push([key]);
      return;
    }
    const compare = comparerFor(key);
    const c = this.#chunkFor(key, compare);
    const chunk = this.#chunks[c]!;
    chunk.splice(lowerBound(chunk, key, compare), 0, key);
    if (chunk.length > MAX_CHUNK) this.#chunks.splice(c + 1, 0, chunk.splice(chunk.length >> 1));
  }

  /** Removes `key`, which must be present. */
  delete(key: string): void {
    const compare = comparerFor(key);
    const c = this.#chunkFor(key, compare);
    const chunk = this.#chunks[c]!;
    const at = lowerBound(chunk, key, compare);
    if (chunk[at] !== key) return;
    chunk.splice(at, 1);
    if (chunk.length === 0) this.#chunks.splice(c, 1);
  }

  /** Up to `limit` keys from the first at or above `from`, while `accept` holds. */
  scan(from: string, limit: number, accept: (key: string) => boolean): string[] {
    const found: string[] = [];
    if (this.#chunks.length === 0) return found;
    const compare = comparerFor(from);
    let c = this.#chunkFor(from, compare);
    let at = lowerBound(this.#chunks[c]!, from, compare);
    // Bounded by `limit`: each turn adds a key or stops.
    for (; c < this.#chunks.length && found.length < limit; c++, at = 0) {
      const chunk = this.#chunks[c]!;
      for (; at < chunk.length && found.length < limit; at++) {
        if (!accept(chunk[at]!)) return found;
        found.push(chunk[at]!);
      }
    }
    return found;
  }

  clear(): void {
    this.#chunks = [];
  }

  /** The chunk a key belongs in: the first whose last key is not below it, else the last. */
  #chunkFor(key: string, compare: (a: string, b: string) => number): number {
    let low = 0;
    let high = this.#chunks.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      const chunk = this.#chunks[mid]!;
      if (compare(chunk[chunk.length - 1]!, key) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

function lowerBound(chunk: readonly string[], key: string, compare: (a: string, b: string) => number): number {
  let low = 0;
  let high = chunk.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (compare(chunk[mid]!, key) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}
