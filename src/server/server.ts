// The library's server: create it from options, register command handlers by name, hook the
// connection's life, listen (or take in-memory connections), close. It owns the listeners
// (tls-listeners.ts) and the sweeper timer; the connection engine does the per-socket work. close() is the graceful shutdown of
// PROTOCOL.md section 4: stop accepting, let in-flight commands reply, send
// `ERR: server is shutting down`, and cut whatever is left at the shutdown deadline.

import { GnpError } from "../errors.ts";
import type { TrustPolicy } from "../certs/trust-policy.ts";
import { CertificateValidator } from "../certs/validator.ts";
import { checkKeyPair, resolveOptions, type ResolvedOptions, type ServerOptions } from "../options.ts";
import { ConnectionEngine } from "./connection-engine.ts";
import { Dispatcher } from "./dispatcher.ts";
import type { Authorizer, KeyAuthorizer } from "./permissions.ts";
import { SWEEP_INTERVAL_MS } from "./time-limits.ts";
import { ServerHooks, type ServerEvents } from "./hooks.ts";
import { ServerMetrics } from "./metrics.ts";
import type { CommandHandler } from "./request.ts";
import { systemReason } from "../wording.ts";
import type { Connection } from "./connection.ts";
import { InMemoryConnection, inject, type InMemoryOptions } from "./memory-transport.ts";
import { TlsListeners } from "./tls-listeners.ts";

const COMMAND_NAME = /^[\x21-\x7e]+$/;

/** How a command is registered, beside its handler. */
export type CommandOptions = {
  /**
   * The largest reply body the command gives, in bytes. While the command runs asynchronously,
   * flow control sets this much of the connection's output aside for its reply; without it the
   * server assumes the largest reply the command has given so far (64 KiB before its first).
   * Declare it when a client controls how large the reply is (a GET of a stored value).
   */
  maxReply?: number;
};

export type ServerStats = {
  connections: number;
  capacity: number;
  /** Bytes the connection slab has made so far (its message buffers are made as slots are used). */
  slabBytes: number;
  commandsServed: number;
  certificateCache: { hits: number; misses: number; size: number };
};

/**
 * A gnp server.
 *
 * @example
 * const server = createServer({ port: 0, tls: { cert, key }, trustedCas: [caPem] });
 * server.command("PING", () => "PONG");
 * await server.listen();
 */
export class GnpServer {
  readonly options: ResolvedOptions;
  readonly #handlers = new Map<string, CommandHandler>();
  readonly #replyBounds = new Map<string, number>();
  readonly #hooks = new ServerHooks();
  #validator: CertificateValidator;
  #authorize: Authorizer | undefined;
  #scopeKeys: KeyAuthorizer | undefined;
  /** Counters for operators; see ServerMetrics. */
  readonly metrics = new ServerMetrics();
  #engine: ConnectionEngine | undefined;
  /** The commands and who may run them; made with the engine. */
  #dispatcher: Dispatcher | undefined;
  /** The listener that accepts, with the certificate new connections get, and those retired by setTlsCertificate. */
  readonly #listeners: TlsListeners;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    this.options = resolveOptions(options);
    this.#listeners = new TlsListeners(this.options.tls, { host: this.options.host, reusePort: this.options.reusePort });
    this.#validator = new CertificateValidator(this.options.trust);
    // The expiry gauges of /metrics follow the clients connected now (ServerMetrics).
    this.#hooks.on("open", (connection) => {
      const certificate = connection.certificate;
      if (certificate?.trustedCa !== undefined) this.metrics.clientCertificates.add(certificate.trustedCa, certificate.sha256, certificate.notAfter.getTime());
    });
    this.#hooks.on("close", (connection) => {
      const certificate = connection.certificate;
      if (certificate?.trustedCa !== undefined) this.metrics.clientCertificates.remove(certificate.trustedCa, certificate.sha256);
    });
  }

  /** When the certificate new connections get expires (setTlsCertificate may change it). */
  get certificateNotAfter(): Date {
    return this.#listeners.served.notAfter;
  }

  /** The subject of the certificate new connections get, `CN=localhost` style. */
  get certificateSubject(): string {
    return this.#listeners.served.subject;
  }

  /** The CRLs in use, one per CA, with their dates and whether each is stale at `now`. */
  crlStatus(now: number = Date.now()): ReturnType<CertificateValidator["crlStatus"]> {
    return this.#validator.crlStatus(now);
  }

  /**
   * Registers the handler of `name` (case-insensitive), replacing any earlier one.
   *
   * @example
   * server.command("GET", (req) => store.get(req.args[0]), { maxReply: server.options.maxBody });
   */
  command(name: string, handler: CommandHandler, options: CommandOptions = {}): this {
    if (typeof name !== "string" || !COMMAND_NAME.test(name)) throw new TypeError(`invalid command name ${JSON.stringify(name)}`);
    if (typeof handler !== "function") throw new TypeError(`the handler of ${name} must be a function`);
    const maxReply = options.maxReply;
    if (maxReply !== undefined && (!Number.isSafeInteger(maxReply) || maxReply < 0)) {
      throw new RangeError(`invalid maxReply ${JSON.stringify(maxReply)} for ${name}: expected a whole number of bytes, 0 or more`);
    }
    const upper = name.toUpperCase();
    this.#handlers.set(upper, handler);
    if (maxReply === undefined) this.#replyBounds.delete(upper);
    else this.#replyBounds.set(upper, maxReply);
    this.#registrations++;
    return this;
  }

  #registrations = 0;

  /** How many times command() was called: a replacement counts, where the names would not change. */
  get registrations(): number {
    return this.#registrations;
  }

  /** The registered command names, upper-cased. */
  get commands(): string[] {
    return [...this.#handlers.keys()];
  }

  on<E extends keyof ServerEvents>(event: E, listener: ServerEvents[E]): this {
    this.#hooks.on(event, listener);
    return this;
  }

  off<E extends keyof ServerEvents>(event: E, listener: ServerEvents[E]): this {
    this.#hooks.off(event, listener);
    return this;
  }

  /**
   * Replaces who may connect. New connections see the new rules at once; established ones are
   * checked again at their next command and, if now refused, get `ERR: <reason>` and close.
   * The policy replaces the old one whole: a field left out (CRLs, a chain limit) takes its
   * default. Throws (RangeError, GnpError CONFIG_INVALID) on a bad rule, a bad CRL among them,
   * leaving the old rules in place.
   */
  setTrust(trust: TrustPolicy): void {
    const validator = new CertificateValidator(trust);
    this.#validator = validator;
    this.#engine?.setTrust(validator);
  }

  /**
   * Sets the check run before every command; a command it refuses gets
   * `ERR command 'PUT' is not allowed for CN=reporting` and never runs. Its verdicts are kept
   * per connection and command until authorize() or setTrust() is called again.
   *
   * @example
   * server.authorize((conn, command) => command === "GET" || conn.identity === "admin");
   */
  authorize(authorizer: Authorizer | undefined): this {
    if (authorizer !== undefined && typeof authorizer !== "function") throw new TypeError("the authorizer must be a function");
    this.#authorize = authorizer;
    this.#dispatcher?.setAuthorizer(authorizer);
    return this;
  }

  /**
   * The authorization layer's answer: may `connection` run `command` now, under the rules in
   * force (authorize(), and setTrust(): a connection they no longer admit is cut off and gets
   * false)? What a handler asks before it delivers something on its own later (WATCH asks it at
   * every push). Verdicts are kept per connection until authorize() or setTrust() is called.
   *
   * @example
   * if (!server.may(conn, "GET")) throw new GnpError("NOT_ALLOWED", "...");
   */
  may(connection: Connection, command: string): boolean {
    return this.#engine?.may(connection, command.toUpperCase()) ?? false;
  }

  /**
   * Sets which keys each connection may read (GET, KEYS, WATCH) and write (PUT, DEL), as key
   * prefixes or "*"; undefined: every key. Asked once per connection and access until
   * scopeKeys(), authorize() or setTrust() is called again, like the authorizer's verdicts.
   * Handlers ask it with `conn.may("write", key)`.
   *
   * @example server.scopeKeys((conn, access) => (conn.identity === "admin" ? "*" : [`users/${conn.identity}/`]));
   */
  scopeKeys(scopeKeys: KeyAuthorizer | undefined): this {
    if (scopeKeys !== undefined && typeof scopeKeys !== "function") throw new TypeError("the key authorizer must be a function");
    this.#scopeKeys = scopeKeys;
    this.#dispatcher?.setKeyAuthorizer(scopeKeys);
    return this;
  }

  /** Starts listening. Rejects with LISTEN_FAILED when the address cannot be bound. */
  async listen(): Promise<this> {
    if (this.#listeners.isListening) throw new TypeError("the server is already listening");
    if (this.#closing !== undefined) throw new TypeError("a closed server cannot listen again");
    this.#listeners.listen(this.options.port, this.#ensureEngine().socketHandler());
    return this;
  }

  /**
   * Sends `input` to the commands over an in-memory connection, without TLS or a socket, and
   * resolves with every byte the server wrote back (the greeting `OK` CRLF first) once it has
   * answered everything and closed, as a client that sends its requests and then closes its
   * side would read them. The framing, admission, dispatch, authorization and replies are the
   * ones a TLS connection gets. The client is `options.identity` (default "in-memory",
   * admitted on your word) or `options.certificate` (a PEM the trust rules judge). The server
   * need not listen; close() ends in-memory connections as it ends the others.
   *
   * @example
   * const out = await server.inject("PING\r\nSequence: 1\r\n\r\n", { identity: "alice" });
   * new TextDecoder().decode(out); // "OK\r\nOK\r\nSequence: 1\r\nSize: 4\r\n\r\nPONG"
   */
  inject(input: string | Uint8Array, options: InMemoryOptions = {}): Promise<Uint8Array> {
    return inject(this.#inMemoryEngine(), input, options);
  }

  /**
   * An in-memory connection that stays open, for what one request and its reply cannot show:
   * pushes, several clients, a conversation. See inject() for who the client is.
   *
   * @example
   * await using watcher = server.connectInMemory({ identity: "alice" });
   * watcher.onData((chunk) => console.log(new TextDecoder().decode(chunk)));
   * watcher.write("WATCH users/\r\nSequence: w\r\n\r\n");
   */
  connectInMemory(options: InMemoryOptions = {}): InMemoryConnection {
    return new InMemoryConnection(this.#inMemoryEngine(), options);
  }

  #inMemoryEngine(): ConnectionEngine {
    if (this.#closing !== undefined) throw new TypeError("the server is closed");
    return this.#ensureEngine();
  }

  /** The engine, made at the first listen() or in-memory connection, with the sweeper that enforces its time limits. */
  #ensureEngine(): ConnectionEngine {
    if (this.#engine !== undefined) return this.#engine;
    let engine: ConnectionEngine;
    const hooks = this.#hooks;
    const dispatcher = new Dispatcher(this.#handlers, { capacity: this.options.maxConnections, onError: (error, connection) => hooks.emitError(error, connection) });
    dispatcher.setAuthorizer(this.#authorize);
    dispatcher.setKeyAuthorizer(this.#scopeKeys);
    try {
      engine = new ConnectionEngine(this.options, { dispatcher, replyBounds: this.#replyBounds, validator: this.#validator, hooks, metrics: this.metrics });
    } catch (error) {
      const slots = this.options.maxConnections;
      throw new GnpError("LISTEN_FAILED", `cannot reserve ${slots} connection slots (${(slots * 8) / 1024} MiB of address space): ${systemReason(error)}`, { cause: error });
    }
    this.#dispatcher = dispatcher;
    this.#engine = engine;
    this.#sweeper = setInterval(() => engine.sweep(Date.now()), SWEEP_INTERVAL_MS);
    this.#sweeper.unref?.();
    return engine;
  }

  /**
   * Replaces the server's certificate and key without dropping a connection: a listener with
   * the new pair binds beside the current one (both set SO_REUSEPORT), then the current one
   * stops accepting; the connections it accepted carry on until they close. Throws GnpError
   * TLS_CONFIG_INVALID on a bad pair or LISTEN_FAILED; either way the old pair stays. On Linux,
   * a connection still in the old listener's accept queue at that instant is reset unless
   * net.ipv4.tcp_migrate_req=1 (Linux 5.14+); clients retry such a connect.
   *
   * @example
   * server.setTlsCertificate({ cert: await Bun.file("new.crt").text(), key: await Bun.file("new.key").text() });
   */
  setTlsCertificate(tls: { cert: string; key: string }): void {
    if (this.#closing !== undefined) throw new TypeError("the server is closed");
    checkKeyPair(tls.cert, tls.key);
    const pair = Object.freeze({ cert: tls.cert, key: tls.key });
    this.#listeners.replaceCertificate(pair, this.#engine?.socketHandler());
  }

  /** The port listened on (the real one when options.port was 0). */
  get port(): number {
    const port = this.#listeners.port;
    if (port === undefined) throw new TypeError("the server is not listening");
    return port;
  }

  get hostname(): string {
    return this.options.host;
  }

  get isListening(): boolean {
    return this.#listeners.isListening && this.#closing === undefined;
  }

  stats(): ServerStats {
    return {
      connections: this.#engine?.slab.inUse ?? 0,
      capacity: this.options.maxConnections,
      slabBytes: this.#engine?.slab.bytes ?? 0,
      commandsServed: this.metrics.commandsServed,
      certificateCache: this.#validator.cacheStats,
    };
  }

  /**
   * Graceful shutdown: stop accepting, let in-flight commands reply, send each connection
   * `ERR: server is shutting down`, and resolve once every connection has closed, or cut
   * them at the shutdown timeout. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    const engine = this.#engine;
    if (engine === undefined) return;
    this.#listeners.stopAccepting();
    engine.drain();
    const deadline = Date.now() + this.options.shutdownTimeoutMs;
    while (engine.slab.inUse > 0 && Date.now() < deadline) {
      await Bun.sleep(10);
      engine.sweep(Date.now());
    }
    if (engine.slab.inUse > 0) {
      engine.terminateAll();
      await Bun.sleep(0);
    }
    clearInterval(this.#sweeper);
    this.#listeners.stopAll();
  }
}

/** Creates a server; call listen() to start it. */
export function createServer(options: ServerOptions): GnpServer {
  return new GnpServer(options);
}
