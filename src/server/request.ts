// What a command handler receives and may return. A handler gets the parsed request and its
// connection; what it returns becomes the OK body (a string, bytes, byte parts, nothing, or a
// reply with headers), what it throws becomes an ERR reply. normalizeReply turns a return value
// into the two parts the encoder needs, and says precisely what it could not use. A large body
// may come as parts (the reads that carried it); `body` joins them once, when first asked for.
// The server's requests read their headers out of the parsed head only when a handler asks.

import type { HeaderList } from "../protocol/encoder.ts";
import { findHeader, headersOf, headerValue, type Head } from "../protocol/head-scanner.ts";
import type { Connection } from "./connection.ts";
import type { PendingReply } from "./pending-reply.ts";

const utf8 = new TextDecoder("utf-8");

/** A request's body as the reader gives it: one buffer, or parts that joined in order make it. */
export type RequestBody = Uint8Array | readonly Uint8Array[];

const NO_PARTS: readonly Uint8Array[] = Object.freeze([]);
const NO_HEADERS: readonly (readonly [string, string])[] = Object.freeze([]);

/**
 * A request over the head the server parsed (which has a Sequence), for the dispatcher;
 * `command` is the upper-cased name. Its headers are read from the head when asked for.
 */
export let fromHead: (command: string, head: Head, body: RequestBody) => GnpRequest;

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
  body: RequestBody;
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
  readonly sequence: string;
  /** The body, or its parts until `body` joins them. */
  #body: RequestBody;
  /** The headers once made; until then, the head they are read from (a request the server parsed). */
  #headers: readonly (readonly [name: string, value: string])[] | undefined;
  #head: Head | undefined;

  constructor(parts: RequestParts) {
    this.command = parts.command;
    this.args = parts.args;
    this.#headers = parts.headers;
    this.sequence = parts.sequence;
    this.#body = parts.body;
  }

  static {
    // The server's way in, not the library's: a request over a parsed head, its headers unmade.
    fromHead = (command, head, body) => {
      const request = new GnpRequest({ command, args: head.args, headers: NO_HEADERS, sequence: head.sequence!, body });
      request.#headers = undefined;
      request.#head = head;
      return request;
    };
  }

  /** Every header in order, Sequence and Size included. */
  get headers(): readonly (readonly [name: string, value: string])[] {
    return (this.#headers ??= headersOf(this.#head!));
  }

  /** The body; empty when the request had no Size. A body that came in parts is joined on the first call. */
  get body(): Uint8Array {
    const body = this.#body;
    if (body instanceof Uint8Array) return body;
    const joined = joinParts(body);
    this.#body = joined;
    return joined;
  }

  /**
   * The body as the pieces it arrived in, in order, without joining them: a handler that only
   * passes a large body on (returns it, pushes it) spares a copy. Do not change them.
   *
   * @example server.command("MIRROR", (req) => req.bodyParts); // replies with the body as it came
   */
  get bodyParts(): readonly Uint8Array[] {
    const body = this.#body;
    if (!(body instanceof Uint8Array)) return body;
    return body.byteLength === 0 ? NO_PARTS : [body];
  }

  /** The first header of that name (case-insensitive), or undefined. */
  header(name: string): string | undefined {
    return this.#headers === undefined ? findHeader(this.#head!, name) : headerValue(this.#headers, name);
  }

  /** The body decoded as UTF-8. */
  text(): string {
    return utf8.decode(this.body);
  }
}

/** A reply body: text (sent as UTF-8), bytes, or byte parts sent one after the other. */
export type ReplyBody = string | Uint8Array | readonly Uint8Array[];

/**
 * A reply with headers of the handler's own. Sequence and Size are gnp's. `transfer: true`
 * hands a Uint8Array body's memory to the server, which frees it once the reply is written:
 * only for a buffer nobody else holds or will read (a value read fresh for this reply).
 *
 * @example return { body: document.value, transfer: document.fresh === true };
 */
export type ReplyInit = { body?: ReplyBody; headers?: HeaderList; transfer?: boolean };

/**
 * A reply whose header lines gnp's own code encoded and vouches for (`Version: 3` CRLF): it
 * skips the header arrays and the checks a ReplyInit's headers get. Internal to gnp's commands.
 */
export class EncodedReply {
  constructor(
    readonly headerLines: string,
    readonly body: string = "",
  ) {}
}

export type HandlerResult = ReplyBody | ReplyInit | EncodedReply | null | undefined | void;

/**
 * A command handler.
 *
 * @example
 * server.command("HELLO", (req) => `hello ${req.args[0] ?? "world"}`);
 */
export type CommandHandler = (request: GnpRequest, connection: Connection) => HandlerResult | Promise<HandlerResult> | PendingReply;

/** A reply with a JSON body and a Content-Type header. */
export function json(value: unknown, headers: HeaderList = []): ReplyInit {
  return { body: JSON.stringify(value), headers: [["Content-Type", "application/json"], ...headers] };
}

/** Splits a handler's return value into body and headers; throws TypeError for anything else. */
export function normalizeReply(result: HandlerResult): { body: ReplyBody; headers: HeaderList | undefined; transfer?: boolean } {
  if (result === undefined || result === null) return { body: "", headers: undefined };
  if (typeof result === "string" || result instanceof Uint8Array) return { body: result, headers: undefined };
  if (Array.isArray(result)) return { body: checkedParts(result), headers: undefined };
  if (typeof result === "object") {
    const body = (result as ReplyInit).body ?? "";
    if (Array.isArray(body)) return { body: checkedParts(body), headers: (result as ReplyInit).headers };
    if (typeof body !== "string" && !(body instanceof Uint8Array)) {
      throw new TypeError("a reply body must be a string, a Uint8Array or an array of Uint8Array");
    }
    // Only a single buffer is handed over; parts are views of reads the server still uses.
    const transfer = (result as ReplyInit).transfer === true && body instanceof Uint8Array;
    return { body, headers: (result as ReplyInit).headers, transfer };
  }
  throw new TypeError(`a handler returned ${typeof result}: expected a string, a Uint8Array, an array of Uint8Array, { body, headers } or nothing`);
}

function checkedParts(parts: readonly unknown[]): readonly Uint8Array[] {
  for (let i = 0; i < parts.length; i++) {
    if (!(parts[i] instanceof Uint8Array)) throw new TypeError(`a reply body's part ${i} is ${typeof parts[i]}: expected a Uint8Array`);
  }
  return parts as readonly Uint8Array[];
}

/**
 * The parts one after the other in a buffer of their own, left unzeroed first since every byte
 * is written. A lone part that is its whole buffer is the body as it is; one that is a view of a
 * larger read is copied, so that a body a handler keeps never holds more memory than itself.
 */
function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0]!.byteLength === parts[0]!.buffer.byteLength) return parts[0]!;
  let size = 0;
  for (const part of parts) size += part.byteLength;
  const memory = Buffer.allocUnsafeSlow(size);
  const joined = new Uint8Array(memory.buffer, memory.byteOffset, size);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.byteLength;
  }
  return joined;
}
