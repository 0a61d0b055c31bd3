// The connection's life as four events, in the spirit of the seed's create_connection,
// failed_connection and connection_error callbacks: open (admitted), refuse (turned away
// before the greeting, with the reason), close (an admitted connection ended) and error
// (a handler or hook threw). A hook that throws is reported to the error hooks, never
// allowed to break the connection's processing.

import type { ErrorCode, RefusalCode } from "../errors.ts";
import type { Connection } from "./connection.ts";

export type RefusalInfo = {
  code: RefusalCode;
  reason: string;
  remoteAddress: string;
  /** The presented certificate's subject CN, when it had one: who was turned away, for logs. */
  identity?: string | undefined;
  /** The presented certificate's thumbprints, when it had one (upper-case hex). */
  sha1?: string | undefined;
  sha256?: string | undefined;
  /**
   * Set on a summary: refusals of this code from this address are reported once per 10 s,
   * and this many more came in that time (the fields are the last one's).
   */
  repeated?: number | undefined;
  /** Its subjectAltNames as OpenSSL writes them (`DNS:api.example, URI:spiffe://...`), when it had any. */
  sans?: string | undefined;
};

export type CloseInfo = { code: ErrorCode; reason: string } | undefined;

export type ServerEvents = {
  open: (connection: Connection) => void;
  refuse: (info: RefusalInfo) => void;
  close: (connection: Connection, info: CloseInfo) => void;
  error: (error: unknown, connection: Connection | undefined) => void;
};

export class ServerHooks {
  readonly #listeners: { [E in keyof ServerEvents]: ServerEvents[E][] } = { open: [], refuse: [], close: [], error: [] };

  on<E extends keyof ServerEvents>(event: E, listener: ServerEvents[E]): void {
    if (!(event in this.#listeners)) throw new TypeError(`unknown server event ${JSON.stringify(event)}: expected open, refuse, close or error`);
    if (typeof listener !== "function") throw new TypeError(`the ${event} listener must be a function`);
    this.#listeners[event].push(listener);
  }

  off<E extends keyof ServerEvents>(event: E, listener: ServerEvents[E]): void {
    const list = this.#listeners[event] as ServerEvents[E][];
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
  }

  emitOpen(connection: Connection): void {
    for (const listener of this.#listeners.open) this.#guard(() => listener(connection), connection);
  }

  emitRefuse(info: RefusalInfo): void {
    for (const listener of this.#listeners.refuse) this.#guard(() => listener(info), undefined);
  }

  emitClose(connection: Connection, info: CloseInfo): void {
    for (const listener of this.#listeners.close) this.#guard(() => listener(connection, info), connection);
  }

  emitError(error: unknown, connection: Connection | undefined): void {
    const listeners = this.#listeners.error;
    if (listeners.length === 0) return;
    for (const listener of listeners) {
      try {
        listener(error, connection);
      } catch (hookError) {
        // An error hook that fails has nobody left to tell but the console.
        console.error("gnp: an error hook threw:", hookError);
      }
    }
  }

  #guard(run: () => void, connection: Connection | undefined): void {
    try {
      run();
    } catch (error) {
      this.emitError(error, connection);
    }
  }
}
