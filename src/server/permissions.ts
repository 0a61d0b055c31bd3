// The authorization layer's two questions about a connection: may it run this command now,
// and which keys may it read and write (key prefixes, or every key)? Asked before every
// command, by the document commands for their key, and at every push that delivers something
// only a permission allows (a WATCH's values, each value's key), so the answers are kept per
// connection until the rules change: authorize(), scopeKeys() and setTrust() start a new
// epoch, and every answer is asked afresh.

import type { Connection } from "./connection.ts";
import type { KeyAccess, KeyScope } from "./key-prefixes.ts";

export type { KeyAccess, KeyScope };

/** Decides whether a connection may run a command; false gets an ERR reply naming both. */
export type Authorizer = (connection: Connection, command: string) => boolean;

/**
 * Says which keys a connection may read (GET, KEYS, WATCH) or write (PUT, DEL): "*" or key prefixes.
 *
 * @example server.scopeKeys((conn, access) => (access === "read" ? ["reports/", `users/${conn.identity}/`] : [`users/${conn.identity}/`]));
 */
export type KeyAuthorizer = (connection: Connection, access: KeyAccess) => KeyScope;

export class Permissions {
  #authorize: Authorizer | undefined;
  #scopeKeys: KeyAuthorizer | undefined;
  #epoch = 0;
  /** Per slot: the verdicts of the epoch in #epochs, by command. */
  readonly #verdicts: (Map<string, boolean> | undefined)[];
  readonly #epochs: Uint32Array;
  /** Per slot: the key scopes of the epoch in #scopeEpochs. */
  readonly #scopes: ({ read?: KeyScope; write?: KeyScope } | undefined)[];
  readonly #scopeEpochs: Uint32Array;
  /** An authorizer that throws refuses (fail closed); this hears of it, and the verdict is not kept. */
  readonly #onError: (error: unknown, connection: Connection) => void;

  constructor(capacity: number, onError: (error: unknown, connection: Connection) => void) {
    this.#verdicts = new Array(capacity);
    this.#epochs = new Uint32Array(capacity);
    this.#scopes = new Array(capacity);
    this.#scopeEpochs = new Uint32Array(capacity);
    this.#onError = onError;
  }

  /** Installs new key rules (undefined: every key); every answer is asked afresh. */
  setKeys(scopeKeys: KeyAuthorizer | undefined): void {
    this.#scopeKeys = scopeKeys;
    this.changed();
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

  /** Which keys may `connection`, in `slot`, read or write? A key authorizer that throws gives none (fail closed). */
  scope(slot: number, connection: Connection, access: KeyAccess): KeyScope {
    const scopeKeys = this.#scopeKeys;
    if (scopeKeys === undefined) return "*";
    let scopes = this.#scopes[slot];
    if (scopes === undefined || this.#scopeEpochs[slot] !== this.#epoch) {
      scopes = {};
      this.#scopes[slot] = scopes;
      this.#scopeEpochs[slot] = this.#epoch;
    }
    const known = scopes[access];
    if (known !== undefined) return known;
    let scope: KeyScope;
    try {
      const given = scopeKeys(connection, access);
      scope = given === "*" ? "*" : Object.freeze([...given].filter((prefix) => typeof prefix === "string"));
    } catch (error) {
      this.#onError(error, connection);
      return [];
    }
    scopes[access] = scope;
    return scope;
  }

  /** The slot's connection closed. */
  forget(slot: number): void {
    this.#verdicts[slot] = undefined;
    this.#scopes[slot] = undefined;
  }
}
