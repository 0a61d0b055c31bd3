// What a call resolves with (an OK reply) and what a subscriber receives (a PUSH): the
// Sequence, the headers in wire order, and the body as bytes, with text and JSON views.
// Immutable once made; the body is the parser's own copy, and the headers come from the reply's
// own head (its text, not the parser's buffer), so holding it keeps nothing else alive.

import { GnpError } from "../errors.ts";
import { headerValue } from "../protocol/head-scanner.ts";

const utf8 = new TextDecoder("utf-8");

type HeaderList = readonly (readonly [name: string, value: string])[];
/**
 * A message's headers: the list, or what holds it, read when asked. The reply parser makes a
 * message's list the first time it is read (most replies are never asked), so a Message made
 * from a parsed reply passes that on rather than making the list for every call.
 */
export type HeaderSource = HeaderList | { readonly headers: HeaderList };

/**
 * A reply or push from the server.
 *
 * @example
 * const reply = await client.call("GET", ["users/1"]);
 * reply.header("content-type"); reply.json();
 */
export class Message<S extends "OK" | "PUSH" = "OK" | "PUSH"> {
  readonly status: S;
  readonly sequence: string;
  readonly body: Uint8Array;
  readonly #headers: HeaderSource;

  constructor(status: S, sequence: string, headers: HeaderSource, body: Uint8Array) {
    this.status = status;
    this.sequence = sequence;
    this.#headers = headers;
    this.body = body;
  }

  /** Every header in wire order, Sequence and Size included. */
  get headers(): HeaderList {
    const source = this.#headers;
    return isHeaderList(source) ? source : source.headers;
  }

  /** The first header with this name (case-insensitive), or undefined. */
  header(name: string): string | undefined {
    return headerValue(this.headers, name);
  }

  /** The body decoded as UTF-8 (invalid bytes become U+FFFD). */
  text(): string {
    return utf8.decode(this.body);
  }

  /** The body parsed as JSON. Throws GnpError BAD_REPLY when it is not JSON. */
  json(): unknown {
    const text = this.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
      throw new GnpError("BAD_REPLY", `reply body is not JSON: ${JSON.stringify(shown)}`, { cause: error });
    }
  }
}

function isHeaderList(source: HeaderSource): source is HeaderList {
  return Array.isArray(source);
}

/** The successful answer to a call. */
export type Reply = Message<"OK">;
/** A message the server sent on its own about an earlier request's Sequence. */
export type Push = Message<"PUSH">;
