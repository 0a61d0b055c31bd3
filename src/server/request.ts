// What a command handler receives and may return. A handler gets the parsed request and its
// connection; what it returns becomes the OK body (a string, bytes, nothing, or a reply with
// headers), what it throws becomes an ERR reply. normalizeReply turns a return value into
// the two parts the encoder needs, and says precisely what it could not use.

import type { HeaderList } from "../protocol/encoder.ts";
import type { Connection } from "./connection.ts";

const utf8 = new TextDecoder("utf-8");

/** One request, as handed to a handler. */
export class Request {
  /** The command, upper-cased. */
  readonly command: string;
  /** The command line's arguments, as given. */
  readonly args: readonly string[];
  /** Every header in order, Sequence and Size included. */
  readonly headers: readonly (readonly [name: string, value: string])[];
  readonly sequence: string;
  /** The body; empty when the request had no Size. */
  readonly body: Uint8Array;

  constructor(command: string, args: string[], headers: [string, string][], sequence: string, body: Uint8Array) {
    this.command = command;
    this.args = args;
    this.headers = headers;
    this.sequence = sequence;
    this.body = body;
  }

  /** The first header of that name (case-insensitive), or undefined. */
  header(name: string): string | undefined {
    const wanted = name.toLowerCase();
    for (const [key, value] of this.headers) if (key.toLowerCase() === wanted) return value;
    return undefined;
  }

  /** The body decoded as UTF-8. */
  text(): string {
    return utf8.decode(this.body);
  }
}

/** A reply with headers of the handler's own. Sequence and Size are gnp's. */
export type ReplyInit = { body?: string | Uint8Array; headers?: HeaderList };

export type HandlerResult = string | Uint8Array | ReplyInit | null | undefined | void;

/**
 * A command handler.
 *
 * @example
 * server.command("HELLO", (req) => `hello ${req.args[0] ?? "world"}`);
 */
export type CommandHandler = (request: Request, connection: Connection) => HandlerResult | Promise<HandlerResult>;

/** A reply with a JSON body and a Content-Type header. */
export function json(value: unknown, headers: HeaderList = []): ReplyInit {
  return { body: JSON.stringify(value), headers: [["Content-Type", "application/json"], ...headers] };
}

/** Splits a handler's return value into body and headers; throws TypeError for anything else. */
export function normalizeReply(result: HandlerResult): { body: string | Uint8Array; headers: HeaderList | undefined } {
  if (result === undefined || result === null) return { body: "", headers: undefined };
  if (typeof result === "string" || result instanceof Uint8Array) return { body: result, headers: undefined };
  if (typeof result === "object" && !Array.isArray(result)) {
    const body = result.body ?? "";
    if (typeof body !== "string" && !(body instanceof Uint8Array)) {
      throw new TypeError("a reply body must be a string or a Uint8Array");
    }
    return { body, headers: result.headers };
  }
  throw new TypeError(`a handler returned ${typeof result}: expected a string, a Uint8Array, { body, headers } or nothing`);
}
