// The document commands every gnp server answers: PING, ECHO, PUT, GET, DEL and KEYS. They
// are ordinary handlers registered through the public API, so they double as its first
// example. Keys are the first argument; values are request bodies, kept as bytes; every
// document carries a version (a `Version` header) and writes may be conditional (`If-Match`).
// Each asks the connection's key scope first (`conn.may`): GET and KEYS read, PUT and DEL
// write; KEYS of a wider prefix lists only the keys the client may read.

import { GnpError } from "../errors.ts";
import { describeClient, type Connection } from "../server/connection.ts";
import { narrowScope, type KeyAccess } from "../server/key-prefixes.ts";
import { PendingReply } from "../server/pending-reply.ts";
import { EncodedReply, type GnpRequest } from "../server/request.ts";
import type { GnpServer } from "../server/server.ts";
import { DEFAULT_KEYS_LIMIT, MAX_KEYS_LIMIT, hasListenedWrites, type DocumentStore, type ListenedPut } from "./document-store.ts";

/** Longest key, in bytes of UTF-8. */
export const MAX_KEY_BYTES = 512;

/** The longest KEYS reply: a full page of the longest keys, one per line. */
const MAX_KEYS_REPLY = MAX_KEYS_LIMIT * (MAX_KEY_BYTES + 1);

export function registerBuiltinCommands(server: GnpServer, store: DocumentStore): GnpServer {
  // Reply bounds let flow control hold back pipelines whose replies settle together (writes
  // and the reads queued behind them share one commit): a GET returns what a PUT could store.
  const { maxBody } = server.options;
  // A store that settles its writes a commit round at a time tells each PUT's reply directly: no promise per PUT.
  const listened = hasListenedWrites(store) ? store : undefined;
  return server
    .command("PING", () => "PONG")
    // The body as it arrived, in parts: a large one goes back out of the reads that brought it, never joined.
    .command("ECHO", (req) => (req.bodyParts.length > 0 ? req.bodyParts : req.args.join(" ")))
    .command("PUT", (req, conn) => {
      const key = scopedKey(req, conn, "write");
      if (listened === undefined) return after(store.put(key, req.body, ifMatchOf(req)), versionReply);
      const reply = new PutReply(key, req.body);
      reply.ifMatch = ifMatchOf(req);
      listened.putListened(reply);
      return reply;
    }, { maxReply: 0 })
    .command("GET", (req, conn) => {
      const key = scopedKey(req, conn, "read");
      return after(store.get(key), (document) => {
        if (document === undefined) throw new GnpError("NOT_FOUND", `not found: ${key}`);
        // A value read for this reply alone is freed once sent, not left to the collector.
        return { body: document.value, headers: [["Version", String(document.version)]], transfer: document.fresh === true };
      });
    }, { maxReply: maxBody })
    .command("DEL", (req, conn) => {
      const key = scopedKey(req, conn, "write");
      return after(store.delete(key, ifMatchOf(req)), (existed) => {
        if (!existed) throw new GnpError("NOT_FOUND", `not found: ${key}`);
      });
    }, { maxReply: 0 })
    .command("KEYS", (req, conn) => {
      if (req.args.length > 2) throw new GnpError("BAD_ARGUMENTS", `KEYS takes [PREFIX [LIMIT]]: got ${req.args.length} arguments`);
      const prefix = req.args[0] ?? "";
      const limit = req.args[1] === undefined ? DEFAULT_KEYS_LIMIT : Number(req.args[1]);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_KEYS_LIMIT) {
        throw new GnpError("BAD_ARGUMENTS", `invalid KEYS limit ${JSON.stringify(req.args[1])}: expected 1 to ${MAX_KEYS_LIMIT}`);
      }
      const readable = narrowScope(conn.scope("read"), prefix);
      if (readable !== "*" && readable.length === 0) throw keyRefusal("KEYS", { prefix, connection: conn });
      // One more than asked tells whether the page is complete.
      return after(readable === "*" ? store.keys(prefix, limit + 1) : keysUnder(store, readable, limit + 1), (keys) => {
        const more = keys.length > limit;
        const page = more ? keys.slice(0, limit) : keys;
        return { body: page.join("\n"), headers: [["Count", String(page.length)], ["More", String(more)]] };
      });
    }, { maxReply: MAX_KEYS_REPLY });
}

/** A write's OK: its new Version (one function for every PUT, not a closure each), its header line encoded at once. */
function versionReply(version: number): EncodedReply {
  return new EncodedReply(`Version: ${version}\r\n`);
}

/** A PUT's reply as the write the store is handed, told its version when its round commits. */
class PutReply extends PendingReply implements ListenedPut {
  ifMatch: number | undefined = undefined;

  constructor(
    readonly key: string,
    readonly value: Uint8Array,
  ) {
    super();
  }

  written(version: number): void {
    this.resolve(versionReply(version));
  }

  failed(error: unknown): void {
    this.reject(error);
  }
}

/**
 * The first `limit` keys under any of `prefixes` (which do not overlap, in key order, so the
 * lists follow one another in order): at most `limit` keys read in all, however many prefixes.
 */
async function keysUnder(store: DocumentStore, prefixes: readonly string[], limit: number): Promise<string[]> {
  const keys: string[] = [];
  for (const prefix of prefixes) {
    if (keys.length >= limit) break;
    keys.push(...(await store.keys(prefix, limit - keys.length)));
  }
  return keys;
}

/** The request's key, once the connection may `access` it. */
function scopedKey(req: GnpRequest, conn: Connection, access: KeyAccess): string {
  const key = keyOf(req);
  if (!conn.may(access, key)) throw keyRefusal(req.command, { key, connection: conn });
  return key;
}

/**
 * The ERR reply of a command refused for its key or prefix: it names the command, the key and
 * the client, and the command does not run.
 *
 * @example keyRefusal("PUT", { key: "users/bob/x", connection }) // command 'PUT' on key 'users/bob/x' is not allowed for CN=alice
 */
export function keyRefusal(command: string, on: { key?: string; prefix?: string; connection: Connection }): GnpError {
  const what = on.key !== undefined ? `key '${on.key}'` : `prefix '${on.prefix}'`;
  return new GnpError("NOT_ALLOWED", `command '${command}' on ${what} is not allowed for ${describeClient(on.connection)}`);
}

/** The request's key: its one argument, printable, at most 512 bytes. */
export function keyOf(req: GnpRequest): string {
  if (req.args.length !== 1) {
    throw new GnpError("BAD_ARGUMENTS", `${req.command} takes 1 argument, KEY: got ${req.args.length}`);
  }
  return checkKey(req.args[0]!);
}

export function checkKey(key: string): string {
  // A UTF-16 unit is at most 3 bytes of UTF-8, so a key of up to 170 units needs no count.
  if (key.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(key) > MAX_KEY_BYTES) throw new GnpError("BAD_ARGUMENTS", `key is longer than ${MAX_KEY_BYTES} bytes`);
  // Spaces split arguments; the head scanner already refused other control bytes, but TAB is legal there.
  if (/[\t\u0080-\u009f]/.test(key)) throw new GnpError("BAD_ARGUMENTS", `key ${JSON.stringify(key)} holds a control character`);
  return key;
}

function ifMatchOf(req: GnpRequest): number | undefined {
  const text = req.header("If-Match");
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(text)) throw new GnpError("BAD_ARGUMENTS", `invalid If-Match ${JSON.stringify(text)}: expected a version number`);
  return Number(text);
}

/**
 * Applies `next` at once to a plain value and after settling to a promise: a store that
 * answers synchronously keeps its replies in the same write as the request's neighbours,
 * instead of paying a microtask and a write of its own per reply.
 */
export function after<T, R>(value: T | Promise<T>, next: (value: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
