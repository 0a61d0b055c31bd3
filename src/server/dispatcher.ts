// From a request to what it comes to, with no socket and no slab: the handler by name, the
// authorizer's verdict, the GnpRequest, and the handler's return value or throw turned into an
// outcome: a reply with its head encoded, or an abort. The hot path is a map lookup and a call;
// the engine writes what comes back, once for a sync handler and at the settle of an async one.

import { GnpError, type ErrorCode } from "../errors.ts";
import { bodyBytes, encodeHeaderLines, type ReplyMessage } from "../protocol/encoder.ts";
import type { Head } from "../protocol/head-scanner.ts";
import { describe } from "../wording.ts";
import { describeClient, type Connection } from "./connection.ts";
import { Permissions, type Authorizer, type KeyAccess, type KeyAuthorizer, type KeyScope } from "./permissions.ts";
import { PendingReply } from "./pending-reply.ts";
import { EncodedReply, fromHead, normalizeReply, type CommandHandler, type HandlerResult, type RequestBody } from "./request.ts";

/** What a command comes to: an OK or ERR reply (ready to be written, headers checked), or write-then-abort. */
export type Outcome = ({ kind: "reply"; ok: boolean } & ReplyMessage) | { kind: "abort"; code: ErrorCode; reason: string };

/** A handler that ran, and what it gave back: its value, or what it threw. */
export type Ran = { command: string; sequence: string; value: unknown; threw: boolean };

/** What dispatch() did with a request. `command` is the name metrics count it under. */
export type Dispatched =
  /** The handler never ran (no such command, or not allowed): this ERR reply is the answer. */
  | { kind: "refused"; command: string; reply: Outcome }
  /** A sync handler returned or threw: outcomeOf() makes its reply when it is to be written. */
  | ({ kind: "ran" } & Ran)
  /** An async handler: its reply comes when `pending` settles. */
  | { kind: "running"; command: string; sequence: string; pending: Promise<HandlerResult> }
  /** One of gnp's own commands answering later without a promise: its reply comes when `pending` settles. */
  | { kind: "pending"; command: string; sequence: string; pending: PendingReply };

/**
 * @example
 * const dispatched = dispatcher.dispatch(slot, connection, head, body);
 * if (dispatched.kind === "ran") write(dispatcher.outcomeOf(dispatched, connection));
 */
export class Dispatcher {
  /** Handlers by upper-cased name, read live: a command registered later is known at once. */
  readonly #handlers: ReadonlyMap<string, CommandHandler>;
  /** The authorizer's verdicts, kept per connection until the rules change. */
  readonly #permissions: Permissions;
  /** Hears of a handler's (or the authorizer's) unexpected throw. */
  readonly #onError: (error: unknown, connection: Connection) => void;

  constructor(handlers: ReadonlyMap<string, CommandHandler>, options: { capacity: number; onError: (error: unknown, connection: Connection) => void }) {
    this.#handlers = handlers;
    this.#onError = options.onError;
    this.#permissions = new Permissions(options.capacity, options.onError);
  }

  setAuthorizer(authorize: Authorizer | undefined): void {
    this.#permissions.set(authorize);
  }

  setKeyAuthorizer(scopeKeys: KeyAuthorizer | undefined): void {
    this.#permissions.setKeys(scopeKeys);
  }

  /** The authorizer's inputs changed (a trust reload): every verdict is asked afresh. */
  rulesChanged(): void {
    this.#permissions.changed();
  }

  /** May `connection` (at index `slot`, which keys its verdicts) run `command` (upper case)? */
  may(slot: number, connection: Connection, command: string): boolean {
    return this.#permissions.may(slot, connection, command);
  }

  /** Which keys may `connection` (at index `slot`) read or write? */
  scope(slot: number, connection: Connection, access: KeyAccess): KeyScope {
    return this.#permissions.scope(slot, connection, access);
  }

  /** The connection at `slot` closed: its verdicts go. */
  forget(slot: number): void {
    this.#permissions.forget(slot);
  }

  /** Finds the handler of `head`'s command, asks the authorizer, and runs it. */
  dispatch(slot: number, connection: Connection, head: Head, body: RequestBody): Dispatched {
    const sequence = head.sequence!;
    const name = head.command;
    // Clients mostly send commands upper-cased already: look that up before paying for toUpperCase.
    let command = name;
    let handler = this.#handlers.get(name);
    if (handler === undefined) {
      command = name.toUpperCase();
      handler = this.#handlers.get(command);
    }
    if (handler === undefined) return { kind: "refused", command: "(unknown)", reply: errReply(sequence, `unknown command '${name}'`) };
    if (!this.#permissions.may(slot, connection, command)) {
      const refusal = new GnpError("NOT_ALLOWED", `command '${command}' is not allowed for ${describeClient(connection)}`);
      return { kind: "refused", command, reply: errReply(sequence, refusal.message) };
    }
    const request = fromHead(command, head, body);
    let value: HandlerResult | Promise<HandlerResult> | PendingReply;
    try {
      value = handler(request, connection);
    } catch (error) {
      return { kind: "ran", command, sequence, value: error, threw: true };
    }
    if (value instanceof Promise) return { kind: "running", command, sequence, pending: value };
    if (value instanceof PendingReply) return { kind: "pending", command, sequence, pending: value };
    return { kind: "ran", command, sequence, value, threw: false };
  }

  /**
   * The reply a handler's value makes, or what its throw makes: a GnpError of kind reply is an
   * ERR with its message, one of kind abort closes the connection, anything else is reported to
   * the error hooks and answered `ERR command 'X' failed: <message>`.
   */
  outcomeOf(ran: Ran, connection: Connection): Outcome {
    if (ran.threw) return this.#thrown(ran, ran.value, connection);
    const value = ran.value;
    // The common reply, a string, needs no normalizing.
    if (typeof value === "string") return { kind: "reply", ok: true, status: "OK", sequence: ran.sequence, size: bodyBytes(value), headerLines: "", body: value };
    if (value instanceof EncodedReply) return { kind: "reply", ok: true, status: "OK", sequence: ran.sequence, size: bodyBytes(value.body), headerLines: value.headerLines, body: value.body };
    try {
      const reply = normalizeReply(value as HandlerResult);
      const body = reply.body;
      const headerLines = encodeHeaderLines(reply.headers);
      return { kind: "reply", ok: true, status: "OK", sequence: ran.sequence, size: bodyBytes(body), headerLines, body, owned: reply.transfer === true };
    } catch (error) {
      // A value that cannot be sent (a wrong type, a header with a line break) is the handler's fault.
      return this.#thrown(ran, error, connection);
    }
  }

  #thrown(ran: Ran, error: unknown, connection: Connection): Outcome {
    if (error instanceof GnpError) {
      if (error.kind === "reply") return errReply(ran.sequence, error.message);
      if (error.kind === "abort") return { kind: "abort", code: error.code, reason: error.message };
    }
    const failure = new GnpError("HANDLER_FAILED", `command '${ran.command}' failed: ${describe(error)}`, { cause: error });
    this.#onError(failure, connection);
    return errReply(ran.sequence, failure.message);
  }
}

function errReply(sequence: string, message: string): Outcome {
  return { kind: "reply", ok: false, status: "ERR", sequence, size: bodyBytes(message), headerLines: "", body: message };
}
