// The gnp client: one mutual-TLS connection, any number of calls in flight on it. connect()
// resolves after the server's greeting, or rejects with REFUSED and the server's reason.
// Replies settle calls by Sequence in any order; pushes go to the listener of their Sequence.
// When the connection ends every pending call rejects with why, and nothing else rejects:
// a vanished server leaves no unhandled rejection behind. The socket is a Transport: Bun's own
// under Bun, node:tls under Node.js ("#client-transport" in package.json picks it).

import { openTransport as runtimeTransport } from "#client-transport";
import { GnpError } from "../errors.ts";
import { encodeRequestHead } from "../protocol/encoder.ts";
import { formatHostPort } from "../wording.ts";
import { isValidSequence } from "../protocol/head-scanner.ts";
import { ReplyParser, type ReplyEvent } from "../protocol/reply-parser.ts";
import { checkTimeout, headerList, resolveConnectOptions, type CallOptions, type ConnectOptions, type ResolvedConnectOptions } from "./connect-options.ts";
import { Message, type Reply } from "./message.ts";
import { OutputQueue } from "../protocol/output-queue.ts";
import { PendingCalls, deliver, type PushListener } from "./pending-calls.ts";
import { deferred } from "./deferred.ts";
import type { OpenTransport, Transport } from "./transport.ts";

type State = "connecting" | "open" | "closing" | "closed";

/** A subscription made by subscribe(): its OK reply, and a way to stop listening. */
export type Subscription = {
  readonly sequence: string;
  readonly reply: Reply;
  /** Stops delivering pushes for this Sequence (locally; the server is not told). */
  unsubscribe(): void;
};

/**
 * Opens a connection and waits for the server's greeting.
 *
 * @example
 * const client = await connect({ port: 7443, cert, key, ca });
 * const reply = await client.call("PING"); // reply.text() === "PONG"
 * await client.close();
 */
export function connect(options: ConnectOptions): Promise<GnpClient> {
  return GnpClient.connect(options);
}

export class GnpClient {
  readonly host: string;
  readonly port: number;
  readonly #options: ResolvedConnectOptions;
  readonly #parser: ReplyParser;
  readonly #calls = new PendingCalls();
  readonly #output = new OutputQueue();
  readonly #closed = deferred<GnpError | undefined>();
  readonly #greeting = deferred<void>();
  #transport: Transport | undefined;
  #state: State = "connecting";
  #endError: GnpError | undefined;

  private constructor(options: ResolvedConnectOptions) {
    this.#options = options;
    this.host = options.host;
    this.port = options.port;
    this.#parser = new ReplyParser({ maxBody: options.maxBody });
  }

  /**
   * Same as the module's connect(). Invalid options throw at once, before any socket opens.
   * `openTransport` is the runtime's own socket unless a benchmark or test passes another.
   */
  static connect(options: ConnectOptions, openTransport: OpenTransport = runtimeTransport): Promise<GnpClient> {
    const client = new GnpClient(resolveConnectOptions(options));
    return client.#open(openTransport).then(() => client);
  }

  /** Calls in flight: sent (or queued) and not yet answered. */
  get pending(): number {
    return this.#calls.size;
  }

  /** Resolves when the connection has ended: undefined after close(), else the reason. Never rejects. */
  get closed(): Promise<GnpError | undefined> {
    return this.#closed.promise;
  }

  /**
   * Sends a request and resolves with its OK reply. An ERR reply rejects with REPLY_ERROR and
   * the server's message; a timeout with CALL_TIMEOUT; a lost connection with its reason.
   * Misuse (a command or argument with spaces, a bad header, a Sequence in use) throws.
   *
   * @example
   * await client.call("PUT", ["users/1"], { body: JSON.stringify({ name: "Jo" }) });
   */
  call(command: string, args: readonly string[] = [], options: CallOptions = {}): Promise<Reply> {
    if (typeof command !== "string") throw new TypeError("command must be a string");
    if (!Array.isArray(args)) throw new TypeError("args must be an array of strings");
    const timeoutMs = options.timeout === undefined ? this.#options.timeoutMs : checkTimeout(options.timeout);
    if (options.onPush !== undefined && typeof options.onPush !== "function") throw new TypeError("onPush must be a function");
    let sequence: string;
    if (options.sequence === undefined) sequence = this.#calls.nextSequence();
    else {
      sequence = options.sequence;
      if (typeof sequence !== "string" || !isValidSequence(sequence)) {
        throw new TypeError(`invalid sequence ${JSON.stringify(sequence)}: expected 1 to 64 visible ASCII characters`);
      }
      if (this.#calls.inUse(sequence)) throw new RangeError(`sequence ${JSON.stringify(sequence)} is already in use on this connection`);
    }
    const body = options.body;
    if (body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array)) {
      throw new TypeError("body must be a string or a Uint8Array");
    }
    const size = body === undefined ? -1 : typeof body === "string" ? Buffer.byteLength(body) : body.length;
    const head = encodeRequestHead({ command, args, sequence, size, headers: headerList(options.headers) });
    if (this.#state !== "open") return Promise.reject(this.#notOpenError());
    if (options.onPush !== undefined) this.#calls.listen(sequence, options.onPush);
    const reply = this.#calls.add(sequence, timeoutMs, () => `${command} (Sequence ${sequence})`);
    this.#enqueue(head, body);
    return reply;
  }

  /**
   * Sends a request whose pushes go to `onPush` until unsubscribe(), and resolves once the
   * server has replied OK. An ERR reply rejects, and no push is delivered after it.
   *
   * @example
   * const sub = await client.subscribe("WATCH", ["users"], (push) => console.log(push.text()));
   */
  subscribe(command: string, args: readonly string[], onPush: PushListener, options: Omit<CallOptions, "onPush"> = {}): Promise<Subscription> {
    if (typeof onPush !== "function") throw new TypeError("onPush must be a function");
    const sequence = options.sequence ?? this.#calls.nextSequence();
    // Not async: misuse throws from call() here and now, like it does for call() itself.
    return this.call(command, args, { ...options, sequence, onPush }).then((reply) => ({
      sequence,
      reply,
      unsubscribe: () => void this.#calls.unlisten(sequence),
    }));
  }

  /** Stops delivering pushes for `sequence`. Returns false when nothing listened to it. */
  unsubscribe(sequence: string): boolean {
    return this.#calls.unlisten(sequence);
  }

  /**
   * Closes gracefully: new calls are refused (STALE_CONNECTION), calls in flight still get
   * their replies (or time out), then the connection ends. Resolves once it has closed.
   */
  close(): Promise<void> {
    // Once: a second close() (say, await using after an explicit close) waits for the first.
    this.#closing ??= this.#close();
    return this.#closing;
  }

  #closing: Promise<void> | undefined;

  async #close(): Promise<void> {
    if (this.#state === "open") {
      this.#state = "closing";
      await this.#calls.whenIdle();
    }
    if (this.#state === "closing") {
      this.#flush();
      this.#transport?.end();
      // A server that never closes its side must not keep close() waiting.
      const timer = setTimeout(() => this.#end(undefined), Math.max(this.#options.timeoutMs, 1000));
      await this.#closed.promise;
      clearTimeout(timer);
    }
  }

  /** Ends the connection at once; pending calls reject with CONNECTION_LOST. */
  terminate(): void {
    this.#end(new GnpError("CONNECTION_LOST", "connection closed by the client"));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #open(openTransport: OpenTransport): Promise<void> {
    const { host, port, timeoutMs } = this.#options;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => this.#end(new GnpError("CONNECT_FAILED", `no greeting from ${formatHostPort(host, port)} within ${timeoutMs} ms`)), timeoutMs)
        : undefined;
    this.#transport = openTransport(this.#options, {
      data: (chunk) => this.#onData(chunk),
      drain: () => this.#flush(),
      failed: (error) => this.#end(error),
      closed: (cause) => this.#onClose(cause),
    });
    return this.#greeting.promise.finally(() => clearTimeout(timer));
  }

  #onData(chunk: Uint8Array): void {
    const events = this.#parser.push(chunk);
    for (let i = 0; i < events.length; i++) this.#onEvent(events[i]!);
  }

  #onEvent(event: ReplyEvent): void {
    switch (event.kind) {
      case "message":
        if (!this.#calls.dispatch(event) && event.status === "PUSH" && this.#options.onPush !== undefined) {
          deliver(this.#options.onPush, new Message("PUSH", event.sequence, event, event.body));
        }
        return;
      case "greeting":
        if (this.#state === "connecting") this.#state = "open";
        this.#greeting.resolve();
        return;
      case "refused":
        return this.#end(new GnpError("REFUSED", event.reason));
      case "connection-error":
        return this.#end(new GnpError("CONNECTION_LOST", event.reason));
      case "fault":
        return this.#end(new GnpError("BAD_REPLY", `bad reply from ${formatHostPort(this.host, this.port)}: ${event.message}`));
    }
  }

  #onClose(cause: Error | undefined): void {
    if (this.#state === "closed") return;
    const where = formatHostPort(this.host, this.port);
    const detail = cause !== undefined ? `: ${cause.message}` : "";
    if (this.#state === "closing" && this.#calls.size === 0) return this.#end(undefined);
    const what =
      this.#state === "connecting"
        ? `connection to ${where} closed before the greeting${detail}`
        : this.#parser.midMessage
          ? `connection to ${where} closed in the middle of a reply${detail}`
          : `connection to ${where} closed by the server${detail}`;
    this.#end(new GnpError("CONNECTION_LOST", what, cause !== undefined ? { cause } : undefined));
  }

  /** The one way the connection ends: settle everything once, then let the socket go. */
  #end(error: GnpError | undefined): void {
    if (this.#state === "closed") return;
    const wasConnecting = this.#state === "connecting";
    this.#state = "closed";
    this.#endError = error;
    this.#output.reset();
    this.#transport?.terminate();
    if (wasConnecting) this.#greeting.reject(error ?? new GnpError("CONNECTION_LOST", "connection closed by the client"));
    this.#calls.rejectAll(error ?? new GnpError("CONNECTION_LOST", "connection closed by the client"));
    this.#closed.resolve(error);
  }

  #notOpenError(): GnpError {
    if (this.#state === "closing" || this.#endError === undefined) return new GnpError("STALE_CONNECTION", "the client was closed: open a new connection");
    return new GnpError(this.#endError.code, this.#endError.message, { cause: this.#endError });
  }

  // Calls made in one tick leave in one write: a pipeline of 10,000 calls is a few TLS records,
  // not 10,000 of them.
  #flushScheduled = false;
  /** Corks the queue for the rest of this tick, so the calls made in it leave in one write. */
  #enqueue(head: string, body: string | Uint8Array | undefined): void {
    const transport = this.#transport!;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#output.cork();
      queueMicrotask(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
    if (typeof body === "string") this.#output.write(transport, head + body);
    else {
      this.#output.write(transport, head);
      if (body !== undefined && body.byteLength > 0) this.#output.write(transport, body);
    }
  }

  #flush(): void {
    const transport = this.#transport;
    if (transport === undefined || this.#state === "closed") return;
    this.#output.uncork(transport);
    this.#output.drain(transport);
  }
}
