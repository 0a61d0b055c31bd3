// The commands every gnp server answers: PING, ECHO, PUT, GET and DEL. They are ordinary
// handlers registered through the public API, so they double as its first example. Keys
// are the first argument; a value is the request body, kept as bytes.

import { GnpError } from "../errors.ts";
import type { GnpServer } from "../server/server.ts";
import type { Request } from "../server/request.ts";
import type { DocumentStore } from "./memory-store.ts";

/** Longest key, in bytes of UTF-8. */
export const MAX_KEY_BYTES = 512;

export function registerBuiltinCommands(server: GnpServer, store: DocumentStore): GnpServer {
  return server
    .command("PING", () => "PONG")
    .command("ECHO", (req) => (req.body.byteLength > 0 ? req.body : req.args.join(" ")))
    .command("PUT", (req) => after(store.put(keyOf(req), req.body), () => undefined))
    .command("GET", (req) => {
      const key = keyOf(req);
      return after(store.get(key), (value) => {
        if (value === undefined) throw new GnpError("NOT_FOUND", `not found: ${key}`);
        return value;
      });
    })
    .command("DEL", (req) => {
      const key = keyOf(req);
      return after(store.delete(key), (existed) => {
        if (!existed) throw new GnpError("NOT_FOUND", `not found: ${key}`);
      });
    });
}

/**
 * Applies `next` at once to a plain value and after settling to a promise: a store that
 * answers synchronously (memory) keeps its replies in the same write as the request's
 * neighbours, instead of paying a microtask and a write of its own per reply.
 */
function after<T, R>(value: T | Promise<T>, next: (value: T) => R): R | Promise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

function keyOf(req: Request): string {
  if (req.args.length !== 1) {
    throw new GnpError("BAD_ARGUMENTS", `${req.command} takes 1 argument, KEY: got ${req.args.length}`);
  }
  const key = req.args[0]!;
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new GnpError("BAD_ARGUMENTS", `key is longer than ${MAX_KEY_BYTES} bytes`);
  }
  return key;
}
