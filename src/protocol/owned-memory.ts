// Freeing a reply body's memory as soon as it has been sent. bun:sqlite (and any driver) hands
// each read a fresh buffer; a stream of large replies makes hundreds of megabytes a second of
// garbage that the collector reaches late. A body the server owns alone is detached once the
// socket took its last byte (Bun copies what write() took: test/server/socket-write-copy.test.ts).

/**
 * A body smaller than this is left to the collector: detaching costs about 0.7 µs (a new empty
 * ArrayBuffer), far more than the collector spends on a small one, and a stream of small GETs
 * makes little garbage. At this size bodies also stop being copied into output buffers.
 */
export const FREE_AT = 64 * 1024;

/**
 * The memory of an owned body worth freeing at once (FREE_AT), when the body is all of it: a
 * view into a larger buffer (a driver's receive buffer, a pool) is never freed, since the rest
 * of it is someone else's.
 */
export function ownedMemory(body: Uint8Array): ArrayBuffer | undefined {
  if (body.byteLength < FREE_AT) return undefined;
  const memory = body.buffer;
  if (!(memory instanceof ArrayBuffer) || body.byteOffset !== 0 || body.byteLength !== memory.byteLength) return undefined;
  return memory;
}

/**
 * Frees `memory` now: detached, its bytes go back at once instead of when the collector next
 * runs, which under a stream of large replies is hundreds of megabytes later.
 */
export function free(memory: ArrayBuffer | undefined): void {
  if (memory !== undefined && !memory.detached) memory.transfer(0);
}
