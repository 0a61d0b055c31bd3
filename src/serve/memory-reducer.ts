// Gives back what a busy stretch left behind, once the server has gone quiet: one full garbage
// collection when resident memory has grown well past what it was after the last one and
// little is being asked of the server now. JavaScriptCore collects as the program allocates, so
// the garbage left when the allocating stops (request bodies, values pushed to watchers that
// were cut) stays until the next load; V8's memory reducer does the same for Node.js. A
// collection holds the event loop for 20-40 ms, so it never runs under load.

/** What the reducer watches: how much the server is asked, as counters that only grow. */
export type Activity = { readonly commandsServed: number; readonly bytesIn: number; readonly bytesOut: number };

export type MemoryReducerOptions = {
  /** How often to look, ms. */
  intervalMs?: number;
  /** Resident memory, bytes (a test may stand in for the process). */
  rss?: () => number;
  /** A full collection (a test may count them). */
  collect?: () => void;
};

/** Look once a second. */
const INTERVAL_MS = 1000;
/** Quiet: fewer commands than this, and fewer bytes in and out, in the last interval. */
export const QUIET_COMMANDS = 1000;
export const QUIET_BYTES = 4 * 1024 * 1024;
/** Grown: resident memory 10% and at least 8 MiB above what it was after the last collection. */
const GROWTH_RATIO = 1.1;
const GROWTH_BYTES = 8 * 1024 * 1024;

export class MemoryReducer {
  readonly #activity: Activity;
  readonly #rss: () => number;
  readonly #collect: () => void;
  readonly #timer: ReturnType<typeof setInterval>;
  /** Resident memory after the last collection (or at start): what growth is measured from. */
  #baseline: number;
  #commands: number;
  #bytes: number;
  #collections = 0;

  constructor(activity: Activity, options: MemoryReducerOptions = {}) {
    this.#activity = activity;
    this.#rss = options.rss ?? (() => process.memoryUsage.rss());
    this.#collect = options.collect ?? (() => Bun.gc(true));
    this.#baseline = this.#rss();
    this.#commands = activity.commandsServed;
    this.#bytes = activity.bytesIn + activity.bytesOut;
    this.#timer = setInterval(() => this.check(), options.intervalMs ?? INTERVAL_MS);
    this.#timer.unref();
  }

  /** Collections run so far. */
  get collections(): number {
    return this.#collections;
  }

  /** One look: collects when memory has grown and the last interval was quiet. Returns whether it did. */
  check(): boolean {
    const commands = this.#activity.commandsServed;
    const bytes = this.#activity.bytesIn + this.#activity.bytesOut;
    const quiet = commands - this.#commands < QUIET_COMMANDS && bytes - this.#bytes < QUIET_BYTES;
    this.#commands = commands;
    this.#bytes = bytes;
    const rss = this.#rss();
    // Memory given back outside a collection of ours (the runtime's own): measure from there.
    if (rss < this.#baseline) this.#baseline = rss;
    if (!quiet || rss < Math.max(this.#baseline * GROWTH_RATIO, this.#baseline + GROWTH_BYTES)) return false;
    this.#collect();
    this.#collections++;
    // What is left is live (a cache filled, connections open): the next collection waits for more growth.
    this.#baseline = this.#rss();
    return true;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
