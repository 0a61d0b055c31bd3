// The event loop's handle on the commit worker: starts the thread, sends it one round at a
// time and resolves with the round's results, or rejects with the reason it failed. A worker
// that dies (an uncaught error, a crash of its thread) fails the round in flight and is
// replaced at the next round. While no round is in flight it does not keep the process alive.

import { encodeRound, type EncodableWrite, type SqliteSync } from "./sqlite-batch.ts";
import type { FromWorker, ToWorker } from "./sqlite-commit-worker.ts";

/**
 * From source the worker module sits beside this file. In the compiled executable every
 * bundled module has the bundle's own URL, and build.ts adds the worker as a second entry
 * point, which the executable keeps at its path under src/ inside its virtual file system.
 */
function workerUrl(): URL {
  const here = import.meta.url;
  if (!here.includes("/$bunfs/")) return new URL("./sqlite-commit-worker.ts", here);
  return new URL("./app/sqlite-commit-worker.ts", `file://${Bun.main}`);
}

/** How long after the store opens its commit thread starts, unless a write starts it sooner. */
const WARM_START_MS = 200;

type InFlight = { round: number; resolve: (results: Float64Array) => void; reject: (error: Error) => void };

export class CommitThread {
  readonly #path: string;
  readonly #sync: SqliteSync;
  #worker: Worker | undefined;
  #inFlight: InFlight | undefined;
  #round = 0;
  #closing: (() => void) | undefined;
  #closed = false;

  constructor(path: string, sync: SqliteSync) {
    this.#path = path;
    this.#sync = sync;
    // Started soon, so its connection is open before the first write needs it, but not at
    // once: on one core a thread starting beside the server's own start-up delays listening.
    setTimeout(() => this.#closed || this.#worker || this.#start(), WARM_START_MS).unref();
  }

  /** Commits one round in the worker; one at a time (GroupCommit never overlaps them). */
  commit(writes: readonly EncodableWrite[]): Promise<Float64Array> {
    if (this.#inFlight !== undefined) return Promise.reject(new Error("a round is already in flight"));
    const worker = this.#worker ?? this.#start();
    const encoded = encodeRound(writes);
    const { promise, resolve, reject } = Promise.withResolvers<Float64Array>();
    const round = ++this.#round;
    this.#inFlight = { round, resolve, reject };
    // A pending write keeps the process alive until it has committed.
    worker.ref();
    worker.postMessage({ type: "commit", round, writes: encoded } satisfies ToWorker, [encoded.meta, encoded.values]);
    return promise;
  }

  /** Closes the worker's connection and ends the thread. Call once no round is in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (worker === undefined) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#closing = resolve;
    worker.postMessage({ type: "close" } satisfies ToWorker);
    // Bounded: a worker that cannot answer (its thread is gone) is ended regardless.
    const timer = setTimeout(resolve, 5000);
    await promise;
    clearTimeout(timer);
    this.#worker = undefined;
    worker.terminate();
  }

  #start(): Worker {
    const worker = new Worker(workerUrl(), { smol: true });
    worker.unref();
    worker.onmessage = (event: MessageEvent<FromWorker>) => this.#receive(event.data);
    worker.addEventListener("error", (event) => this.#lost(worker, `the store's commit thread failed: ${event.message}`));
    worker.addEventListener("close", () => this.#lost(worker, "the store's commit thread exited"));
    worker.postMessage({ type: "open", path: this.#path, sync: this.#sync } satisfies ToWorker);
    this.#worker = worker;
    return worker;
  }

  #receive(message: FromWorker): void {
    switch (message.type) {
      case "opened":
        return;
      case "closed":
        this.#closing?.();
        return;
      case "committed":
      case "failed": {
        const inFlight = this.#inFlight;
        // An open failure arrives without a round; the next commit reports it again.
        if (inFlight === undefined || message.round !== inFlight.round) return;
        this.#inFlight = undefined;
        this.#worker?.unref();
        if (message.type === "committed") inFlight.resolve(message.results);
        else inFlight.reject(new Error(message.message));
      }
    }
  }

  #lost(worker: Worker, reason: string): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#closing?.();
    const inFlight = this.#inFlight;
    this.#inFlight = undefined;
    inFlight?.reject(new Error(reason));
  }
}
