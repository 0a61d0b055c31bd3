// A reader that stops and starts, for tests of large replies: requests are sent while it does not
// read, so the replies back up into the server's queue and its writes are partial, then it reads
// in bursts with pauses between. Also distinct ASCII values, their GET replies as wire text, and a
// store wrapper that keeps every document get() returned, to see which values were freed.

import type { DocumentStore, StoredDocument } from "../../src/app/document-store.ts";
import type { RawClient } from "./harness.ts";

/** A value of `length` ASCII letters, different for each `seed`. */
export function valueOf(seed: number, length: number): Uint8Array {
  const value = new Uint8Array(length);
  for (let i = 0; i < length; i++) value[i] = 0x41 + ((i * 7 + seed * 13 + (i >>> 10)) % 26);
  return value;
}

export const latin1 = new TextDecoder("latin1");

/** Whether the value's memory was freed (its ArrayBuffer detached). */
export const freed = (value: Uint8Array) => (value.buffer as ArrayBuffer).detached;

export function getReply(sequence: string, value: Uint8Array, version = 1): string {
  return `OK\r\nSequence: ${sequence}\r\nSize: ${value.byteLength}\r\nVersion: ${version}\r\n\r\n${latin1.decode(value)}`;
}

/** The store, with every document its get() returned kept aside, to see which values were freed. */
export function watched(store: DocumentStore): { store: DocumentStore; returned: StoredDocument[] } {
  const returned: StoredDocument[] = [];
  const get = store.get.bind(store);
  const wrapper = Object.create(store) as DocumentStore;
  wrapper.get = (key) => {
    const result = get(key);
    if (result instanceof Promise) return result.then((document) => (document !== undefined && returned.push(document), document));
    if (result !== undefined) returned.push(result);
    return result;
  };
  return { store: wrapper, returned };
}

/**
 * Sends `requests` while not reading, so the replies back up into the server's queue, then reads
 * them in bursts with pauses between, until `expected` bytes came. Bounded by `expected`.
 */
export async function readSlowly(client: RawClient, requests: string, expected: number): Promise<void> {
  client.socket.pause();
  client.write(requests);
  // Long enough for the server to fill the socket's buffers: its writes are partial from then on.
  await Bun.sleep(50);
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const step = () => {
    if (client.receivedBytes >= expected || client.isClosed) return resolve();
    client.socket.resume();
    setTimeout(() => {
      client.socket.pause();
      setTimeout(step, 2);
    }, 1);
  };
  step();
  await done;
  client.socket.resume();
  await client.waitFor((text) => text.length >= expected);
}

