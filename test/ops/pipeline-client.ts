// A TLS client for shutdown and worker tests: it writes any amount of pipelined requests
// (keeping what the socket did not take until `drain`), records every byte received, and
// splits the stream into replies and a final connection-level `ERR: ...` line, if any.

import type { Socket } from "bun";

export type Parsed = { replies: { status: string; sequence: string; body: string }[]; errorLine: string | undefined; rest: string };

export class PipelineClient implements AsyncDisposable {
  readonly #socket: Socket<undefined>;
  readonly closed: Promise<void>;
  #pending: Buffer[] = [];
  #received = "";
  #waiters: { test: (text: string) => boolean; resolve: () => void; reject: (error: Error) => void }[] = [];
  #isClosed = false;

  private constructor(socket: Socket<undefined>, closed: Promise<void>) {
    this.#socket = socket;
    this.closed = closed;
  }

  static async connect(port: number, tls: { cert: string; key: string; ca: string }): Promise<PipelineClient> {
    const closed = Promise.withResolvers<void>();
    let client: PipelineClient | undefined;
    const early: string[] = [];
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      tls: { ...tls, serverName: "localhost" },
      socket: {
        data: (_s, chunk) => {
          const text = Buffer.from(chunk).toString("latin1");
          if (client) client.#onText(text);
          else early.push(text);
        },
        drain: () => {
          if (client) client.#flush();
        },
        close: () => {
          if (client) client.#onClose();
          closed.resolve();
        },
        error() {},
      },
    });
    client = new PipelineClient(socket, closed.promise);
    for (const text of early) client.#onText(text);
    return client;
  }

  get received(): string {
    return this.#received;
  }

  /** Queues `data` and writes as much as the socket takes; the rest goes on `drain`. */
  write(data: string): void {
    this.#pending.push(Buffer.from(data, "latin1"));
    this.#flush();
  }

  waitFor(test: string | ((text: string) => boolean)): Promise<void> {
    const check = typeof test === "string" ? (text: string) => text.includes(test) : test;
    if (check(this.#received)) return Promise.resolve();
    if (this.#isClosed) return Promise.reject(new Error(`closed before the expected text; received ${JSON.stringify(this.#received.slice(-300))}`));
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiters.push({ test: check, resolve, reject });
    return promise;
  }

  async untilClosed(): Promise<string> {
    await this.closed;
    return this.#received;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#isClosed) this.#socket.terminate();
    await this.closed;
  }

  #flush(): void {
    while (this.#pending.length > 0) {
      const head = this.#pending[0]!;
      const written = this.#socket.write(head);
      if (written >= head.byteLength) {
        this.#pending.shift();
        continue;
      }
      this.#pending[0] = head.subarray(Math.max(written, 0));
      return;
    }
  }

  #onText(text: string): void {
    this.#received += text;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.test(this.#received)) return true;
      waiter.resolve();
      return false;
    });
  }

  #onClose(): void {
    this.#isClosed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error(`closed before the expected text; received ${JSON.stringify(this.#received.slice(-300))}`));
  }
}

/** Splits what a server sent after its greeting into replies, then the final ERR: line. */
export function parseStream(text: string): Parsed {
  const replies: Parsed["replies"] = [];
  let offset = text.startsWith("OK\r\n") ? 4 : 0;
  // Bounded: every turn consumes at least one whole reply or ends the loop.
  while (offset < text.length) {
    if (text.startsWith("ERR: ", offset)) {
      const end = text.indexOf("\r\n", offset);
      return { replies, errorLine: text.slice(offset, end), rest: text.slice(end + 2) };
    }
    const headEnd = text.indexOf("\r\n\r\n", offset);
    if (headEnd < 0) break;
    const lines = text.slice(offset, headEnd).split("\r\n");
    const header = (name: string) => lines.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2) ?? "";
    const size = Number(header("Size"));
    replies.push({ status: lines[0]!, sequence: header("Sequence"), body: text.slice(headEnd + 4, headEnd + 4 + size) });
    offset = headEnd + 4 + size;
  }
  return { replies, errorLine: undefined, rest: text.slice(offset) };
}
