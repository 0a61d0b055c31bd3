// What a round of SQLite writes travels in between the event loop and the commit worker: the
// keys as one string (a string is copied whole, with no UTF-8 round trip on either side), each
// write's kind, If-Match and lengths in one buffer, the values end to end in another, both
// moved (not copied) by postMessage; and the results, one number per write. Both sides use
// these functions only, so the layout lives in one place.

/** synchronous=FULL makes every commit durable; NORMAL survives a crash of the process but not of the machine. */
export type SqliteSync = "full" | "normal";

export const WriteKind = { PUT: 1, DEL: 2 } as const;
export type WriteKind = (typeof WriteKind)[keyof typeof WriteKind];

export type EncodableWrite = { readonly kind: WriteKind; readonly key: string; readonly value: Uint8Array | undefined; readonly ifMatch: number | undefined };

/**
 * A round as the commit worker reads it: columns, one entry per write, in order; no object
 * per write. Write i's key is keys[i], its value values[valueStarts[i], valueStarts[i + 1]),
 * its If-Match ifMatch[i] (NaN for none).
 */
export type DecodedRound = {
  readonly count: number;
  readonly kinds: Uint8Array;
  readonly keys: string[];
  readonly ifMatch: Float64Array;
  /** count + 1 offsets into `values`. */
  readonly valueStarts: Uint32Array;
  readonly values: Uint8Array;
};

/** A round on the wire between the threads. */
export type EncodedRound = { readonly count: number; readonly keys: string; readonly meta: ArrayBuffer; readonly values: ArrayBuffer };

/**
 * `meta` holds, for n writes: n If-Match versions (f64, NaN for none), n key lengths in
 * UTF-16 units (u32), n value lengths in bytes (u32), n kinds (u8).
 */
function views(meta: ArrayBuffer, count: number) {
  return {
    ifMatch: new Float64Array(meta, 0, count),
    keyLengths: new Uint32Array(meta, 8 * count, count),
    valueLengths: new Uint32Array(meta, 12 * count, count),
    kinds: new Uint8Array(meta, 16 * count, count),
  };
}

/** Packs a round for postMessage; `meta` and `values` go in its transfer list. */
export function encodeRound(writes: readonly EncodableWrite[]): EncodedRound {
  const count = writes.length;
  const meta = new ArrayBuffer(17 * count);
  const { ifMatch, keyLengths, valueLengths, kinds } = views(meta, count);
  const keys: string[] = new Array(count);
  let size = 0;
  for (let i = 0; i < count; i++) size += writes[i]!.value?.byteLength ?? 0;
  const values = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const write = writes[i]!;
    keys[i] = write.key;
    keyLengths[i] = write.key.length;
    kinds[i] = write.kind;
    ifMatch[i] = write.ifMatch ?? Number.NaN;
    const value = write.value;
    if (value !== undefined && value.byteLength > 0) {
      values.set(value, at);
      at += value.byteLength;
    }
    valueLengths[i] = value?.byteLength ?? 0;
  }
  return { count, keys: keys.join(""), meta, values: values.buffer };
}

/** Unpacks a round into columns; keys are cut from the round's one string, values stay in its buffer. */
export function decodeRound(round: EncodedRound): DecodedRound {
  const { count, keys: joined, meta } = round;
  const { ifMatch, keyLengths, valueLengths, kinds } = views(meta, count);
  const keys: string[] = new Array(count);
  const valueStarts = new Uint32Array(count + 1);
  let keyAt = 0;
  let valueAt = 0;
  for (let i = 0; i < count; i++) {
    const keyEnd = keyAt + keyLengths[i]!;
    keys[i] = joined.slice(keyAt, keyEnd);
    keyAt = keyEnd;
    valueStarts[i] = valueAt;
    valueAt += valueLengths[i]!;
  }
  valueStarts[count] = valueAt;
  return { count, kinds, keys, ifMatch, valueStarts, values: new Uint8Array(round.values) };
}

/**
 * One number per write: a positive number is the version written (for DEL, the deletion's
 * version, one above the deleted document's); 0 a DEL of a key that did not exist; a negative
 * number a failed If-Match, -(current version) - 1, so -1 means the key does not exist.
 */
export function conflictResult(current: number): number {
  return -current - 1;
}

export function currentOfConflict(result: number): number | undefined {
  const current = -result - 1;
  return current === 0 ? undefined : current;
}
