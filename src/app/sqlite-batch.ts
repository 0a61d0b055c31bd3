// The bytes a round of SQLite writes travels in between the event loop and the commit worker:
// one ArrayBuffer, moved (not copied) by postMessage, holding each write's kind, If-Match, key
// and value; and the results, one number per write. Both sides use these functions only, so
// the layout lives in one place.

/** synchronous=FULL makes every commit durable; NORMAL survives a crash of the process but not of the machine. */
export type SqliteSync = "full" | "normal";

export const WriteKind = { PUT: 1, DEL: 2 } as const;
export type WriteKind = (typeof WriteKind)[keyof typeof WriteKind];

/** kind u8, has If-Match u8, 2 spare, key length u32, value length u32, 4 spare, If-Match f64. */
const HEADER = 24;

export type EncodableWrite = { readonly kind: WriteKind; readonly key: string; readonly value: Uint8Array | undefined; readonly ifMatch: number | undefined };
export type DecodedWrite = { kind: WriteKind; key: string; value: Uint8Array; ifMatch: number | undefined };

const decoder = new TextDecoder();

/**
 * Packs a round into one buffer to transfer. It makes exactly two views of the buffer: moving
 * a buffer detaches every view of it, and a view per write (subarray) made postMessage cost
 * milliseconds a round.
 */
export function encodeRound(writes: readonly EncodableWrite[]): ArrayBuffer {
  let capacity = 0;
  // A UTF-16 unit is at most 3 bytes of UTF-8; 8-byte alignment keeps the f64 readable.
  for (const write of writes) capacity += HEADER + align(write.key.length * 3 + (write.value?.byteLength ?? 0));
  const buffer = new ArrayBuffer(capacity);
  const bytes = Buffer.from(buffer);
  const view = new DataView(buffer);
  let at = 0;
  for (const write of writes) {
    const valueLength = write.value?.byteLength ?? 0;
    const keyLength = bytes.write(write.key, at + HEADER, "utf8");
    view.setUint8(at, write.kind);
    view.setUint8(at + 1, write.ifMatch === undefined ? 0 : 1);
    view.setUint32(at + 4, keyLength, true);
    view.setUint32(at + 8, valueLength, true);
    view.setFloat64(at + 16, write.ifMatch ?? 0, true);
    if (write.value !== undefined && valueLength > 0) bytes.set(write.value, at + HEADER + keyLength);
    at += HEADER + align(keyLength + valueLength);
  }
  return buffer;
}

/** Unpacks `count` writes; values are views into `buffer`, not copies. */
export function decodeRound(buffer: ArrayBuffer, count: number): DecodedWrite[] {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const writes: DecodedWrite[] = new Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const keyLength = view.getUint32(at + 4, true);
    const valueLength = view.getUint32(at + 8, true);
    const start = at + HEADER;
    writes[i] = {
      kind: view.getUint8(at) as WriteKind,
      key: decoder.decode(bytes.subarray(start, start + keyLength)),
      value: bytes.subarray(start + keyLength, start + keyLength + valueLength),
      ifMatch: view.getUint8(at + 1) === 1 ? view.getFloat64(at + 16, true) : undefined,
    };
    at += HEADER + align(keyLength + valueLength);
  }
  return writes;
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

function align(n: number): number {
  return (n + 7) & ~7;
}
