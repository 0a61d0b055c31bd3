// What a command handler receives and may return. A handler gets the parsed request and its
// connection; what it returns becomes the OK body (a string, bytes, nothing, or a reply with
// headers), what it throws becomes an ERR reply. normalizeReply turns a return value into
// the two parts the encoder needs, and says precisely what it could not use.

import type { HeaderList } from "../protocol/encoder.ts";
import { headerValue } from "../protocol/head-scanner.ts";
import type { Connection } from "./connection.ts";

const utf8 = new TextDecoder("utf-8");

/** What a request is made of. */
export type RequestParts = {
  /** The command, upper-cased. */
  command: string;
  /** The command line's arguments, as given. */
  args: readonly string[];
  /** Every header in order, Sequence and Size included. */
  headers: readonly (readonly [name: string, value: string])[];
  sequence: string;
  /** The body; empty when the request had no Size. */
  body: Uint8Array;
};

/**
 * One request, as handed to a handler. Named so as not to shadow the Fetch API's global
 * `Request` in a handler module.
 *
 * @example server.command("HELLO", (req: GnpRequest) => `hello ${req.args[0] ?? "world"}`);
 */
export class GnpRequest {
  /** The command, upper-cased. */
  readonly command: string;
  /** The command line's arguments, as given. */
  readonly args: readonly string[];
  /** Every header in order, Sequence and Size included. */
  readonly headers: readonly (readonly [name: string, value: string])[];
  readonly sequence: string;
  /** The body; empty when the request had no Size. */
  readonly body: Uint8Array;

  constructor(parts: RequestParts) {
    this.command = parts.command;
    this.args = parts.args;
    this.headers = parts.headers;
    this.sequence = parts.sequence;
    this.body = parts.body;
  }

  /** The first header of that name (case-insensitive), or undefined. */
  header(name: string): string | undefined {
    return headerValue(this.headers, name);
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
export type CommandHandler = (request: GnpRequest, connection: Connection) => HandlerResult | Promise<HandlerResult>;

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
