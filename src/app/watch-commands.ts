// WATCH PREFIX and UNWATCH SEQUENCE: change push. WATCH replies OK, then every later PUT or
// DEL under the prefix reaches the connection as a PUSH carrying the WATCH's Sequence, with
// Key, Op and Version headers and the new value as body. Changes come from the store, so with
// a shared store (PostgreSQL) they include the writes of every instance. A watch delivers
// values, so it needs GET as well as WATCH, and read on some of its prefix, asked again at
// every push: one whose owner lost either command, or every key of its prefix, ends with a
// last PUSH (Op: END); a value whose key its owner may not read is not sent. A closed
// connection ends its watches; a watcher that stops reading is cut off by the output limit.

import { GnpError } from "../errors.ts";
import { describeClient, type Connection } from "../server/connection.ts";
import { narrowScope } from "../server/key-prefixes.ts";
import { keyRefusal } from "./builtin-commands.ts";
import type { GnpServer } from "../server/server.ts";
import type { Change, DocumentStore } from "./document-store.ts";

/** Watches a connection may hold at once. */
export const MAX_WATCHES_PER_CONNECTION = 64;

type Watch = { connection: Connection; sequence: string; prefix: string };

/** The authorization layer's question (GnpServer.may): may this connection run this command now? */
export type May = (connection: Connection, command: string) => boolean;

/** The commands a watch needs, in the order they are asked: to watch, and to read what it delivers. */
const WATCH_NEEDS = ["WATCH", "GET"] as const;

export class WatchRegistry {
  /** By connection id, then by the WATCH request's Sequence. */
  readonly #byConnection = new Map<number, Map<string, Watch>>();
  /** By prefix, so a change looks up the prefixes of its key instead of scanning every watch. */
  readonly #byPrefix = new Map<string, Set<Watch>>();
  /** How many distinct prefixes have each length: a change tries only those lengths. */
  readonly #prefixLengths = new Map<number, number>();
  #count = 0;
  readonly #may: May;
  readonly #watching: (watching: boolean) => void;

  /**
   * `may` is asked before every push (cheap: the server keeps its verdicts until the rules
   * change). `watching` hears when the first watch opens (true) and the last one ends (false),
   * so that the store announces no change while nobody watches.
   */
  constructor(options: { may?: May; watching?: (watching: boolean) => void } = {}) {
    this.#may = options.may ?? (() => true);
    this.#watching = options.watching ?? (() => {});
  }

  get size(): number {
    return this.#count;
  }

  add(connection: Connection, sequence: string, prefix: string): void {
    let watches = this.#byConnection.get(connection.id);
    if (watches === undefined) {
      watches = new Map();
      this.#byConnection.set(connection.id, watches);
    }
    if (watches.has(sequence)) throw new GnpError("BAD_ARGUMENTS", `a watch with Sequence ${sequence} is already open on this connection`);
    if (watches.size >= MAX_WATCHES_PER_CONNECTION) {
      throw new GnpError("BAD_ARGUMENTS", `a connection may hold at most ${MAX_WATCHES_PER_CONNECTION} watches`);
    }
    const watch = { connection, sequence, prefix };
    watches.set(sequence, watch);
    let same = this.#byPrefix.get(prefix);
    if (same === undefined) {
      same = new Set();
      this.#byPrefix.set(prefix, same);
      this.#prefixLengths.set(prefix.length, (this.#prefixLengths.get(prefix.length) ?? 0) + 1);
    }
    same.add(watch);
    if (this.#count++ === 0) this.#watching(true);
  }

  remove(connectionId: number, sequence: string): boolean {
    const watches = this.#byConnection.get(connectionId);
    const watch = watches?.get(sequence);
    if (watches === undefined || watch === undefined) return false;
    watches.delete(sequence);
    if (watches.size === 0) this.#byConnection.delete(connectionId);
    this.#unindex(watch);
    return true;
  }

  removeConnection(connectionId: number): void {
    const watches = this.#byConnection.get(connectionId);
    if (watches === undefined) return;
    this.#byConnection.delete(connectionId);
    for (const watch of watches.values()) this.#unindex(watch);
  }

  /** Pushes `change` to every watch whose prefix starts its key; drops watches whose connection is gone. */
  publish(change: Change): void {
    if (this.#count === 0) return;
    const headers: [string, string][] = [
      ["Key", change.key],
      ["Op", change.op],
      ["Version", String(change.version)],
    ];
    const body = change.op === "PUT" ? change.value : "";
    const gone = new Set<number>();
    const ended: Watch[] = [];
    for (const length of this.#prefixLengths.keys()) {
      if (length > change.key.length) continue;
      const watches = this.#byPrefix.get(change.key.slice(0, length));
      if (watches === undefined) continue;
      for (const watch of watches) {
        if (gone.has(watch.connection.id)) continue;
        const missing = WATCH_NEEDS.find((command) => !this.#may(watch.connection, command));
        if (missing !== undefined) {
          // The rules changed since the WATCH: its owner gets the end of it, not this value.
          ended.push(watch);
          const reason = `watch ended: command '${missing}' is not allowed for ${describeClient(watch.connection)}`;
          if (!watch.connection.push(watch.sequence, reason, [["Op", "END"]])) gone.add(watch.connection.id);
          continue;
        }
        // The key rules in force now, not at the WATCH: a cached scope, so a lookup per push.
        if (!watch.connection.may("read", change.key)) {
          if (readsNothingUnder(watch.connection, watch.prefix)) {
            ended.push(watch);
            const reason = `watch ended: ${keyRefusal("WATCH", { prefix: watch.prefix, connection: watch.connection }).message}`;
            if (!watch.connection.push(watch.sequence, reason, [["Op", "END"]])) gone.add(watch.connection.id);
          }
          continue;
        }
        if (!watch.connection.push(watch.sequence, body, headers)) gone.add(watch.connection.id);
      }
    }
    for (const watch of ended) this.remove(watch.connection.id, watch.sequence);
    for (const connectionId of gone) this.removeConnection(connectionId);
  }

  #unindex(watch: Watch): void {
    const same = this.#byPrefix.get(watch.prefix);
    if (same === undefined || !same.delete(watch)) return;
    if (--this.#count === 0) this.#watching(false);
    if (same.size > 0) return;
    this.#byPrefix.delete(watch.prefix);
    const left = (this.#prefixLengths.get(watch.prefix.length) ?? 1) - 1;
    if (left === 0) this.#prefixLengths.delete(watch.prefix.length);
    else this.#prefixLengths.set(watch.prefix.length, left);
  }
}

/** True when the client may read no key that starts with `prefix`. */
function readsNothingUnder(connection: Connection, prefix: string): boolean {
  const readable = narrowScope(connection.scope("read"), prefix);
  return readable !== "*" && readable.length === 0;
}

export function registerWatchCommands(server: GnpServer, store: DocumentStore): WatchRegistry {
  // Subscribed only while a watch is open: with none, a committed write builds no change to announce.
  let unsubscribe: (() => void) | undefined;
  const registry = new WatchRegistry({
    may: (connection, command) => server.may(connection, command),
    watching: (watching) => {
      unsubscribe?.();
      unsubscribe = watching ? store.onChange((change) => registry.publish(change)) : undefined;
    },
  });
  server.on("close", (connection) => registry.removeConnection(connection.id));
  server
    .command("WATCH", (req, conn) => {
      if (req.args.length > 1) throw new GnpError("BAD_ARGUMENTS", `WATCH takes [PREFIX]: got ${req.args.length} arguments`);
      if (!server.may(conn, "GET")) throw new GnpError("NOT_ALLOWED", `WATCH delivers values: command 'GET' is not allowed for ${describeClient(conn)}`);
      const prefix = req.args[0] ?? "";
      if (readsNothingUnder(conn, prefix)) throw keyRefusal("WATCH", { prefix, connection: conn });
      registry.add(conn, req.sequence, prefix);
      return "";
    })
    .command("UNWATCH", (req, conn) => {
      if (req.args.length !== 1) throw new GnpError("BAD_ARGUMENTS", `UNWATCH takes 1 argument, SEQUENCE: got ${req.args.length}`);
      const sequence = req.args[0]!;
      if (!registry.remove(conn.id, sequence)) throw new GnpError("NOT_WATCHING", `no watch with Sequence ${sequence} on this connection`);
      return "";
    });
  return registry;
}
