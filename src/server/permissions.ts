// The authorization layer's question about a connection: may it run this command now? Asked
// before every command and at every push that delivers something only a permission allows
// (a WATCH's values), so the authorizer's verdicts are kept per connection until the rules
// change: authorize() and setTrust() start a new epoch, and every verdict is asked afresh.

import type { Connection } from "./connection.ts";

/** Decides whether a connection may run a command; false gets an ERR reply naming both. */
export type Authorizer = (connection: Connection, command: string) => boolean;

export class Permissions {
  #authorize: Authorizer | undefined;
  #epoch = 0;
  /** Per slot: the verdicts of the epoch in #epochs, by command. */
  readonly #verdicts: (Map<string, boolean> | undefined)[];
  readonly #epochs: Uint32Array;
  /** An authorizer that throws refuses (fail closed); this hears of it, and the verdict is not kept. */
  readonly #onError: (error: unknown, connection: Connection) => void;

  constructor(capacity: number, onError: (error: unknown, connection: Connection) => void) {
    this.#verdicts = new Array(capacity);
    this.#epochs = new Uint32Array(capacity);
    this.#onError = onError;
  }

  /** Installs new rules (undefined: everything is allowed); every verdict is asked afresh. */
  set(authorize: Authorizer | undefined): void {
    this.#authorize = authorize;
    this.changed();
  }

  /** The rules' inputs changed (a trust reload): every verdict is asked afresh. */
  changed(): void {
    this.#epoch = (this.#epoch + 1) >>> 0;
  }

  /** May `connection`, in `slot`, run `command` (upper case)? */
  may(slot: number, connection: Connection, command: string): boolean {
    const authorize = this.#authorize;
    if (authorize === undefined) return true;
    let verdicts = this.#verdicts[slot];
    if (verdicts === undefined || this.#epochs[slot] !== this.#epoch) {
      verdicts = new Map();
      this.#verdicts[slot] = verdicts;
      this.#epochs[slot] = this.#epoch;
    }
    const known = verdicts.get(command);
    if (known !== undefined) return known;
    let verdict: boolean;
    try {
      verdict = authorize(connection, command) === true;
    } catch (error) {
      this.#onError(error, connection);
      return false;
    }
    // Bounded: only registered commands are asked about, and at most once each per epoch.
    verdicts.set(command, verdict);
    return verdict;
  }

  /** The slot's connection closed. */
  forget(slot: number): void {
    this.#verdicts[slot] = undefined;
  }
}
