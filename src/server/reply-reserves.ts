// How much output flow control sets aside for a reply that does not exist yet. A command that
// runs asynchronously answers later, with a reply of a size nobody knows now; replies of many
// such commands can settle together in one tick (a group commit). The engine reserves output
// for each one when it starts, so that what settles together cannot pass --max-output.

/** Room for the head of a reply (status, Sequence, Size, a few headers) on top of its body. */
export const REPLY_HEAD_BYTES = 256;

/**
 * What a command that declared no bound and has not replied yet is assumed to answer: enough
 * for 64 of them to run at once per connection under the default limit, so that pipelined
 * async handlers keep their concurrency; its first reply replaces the guess.
 */
export const UNKNOWN_REPLY_BYTES = 64 * 1024;

/**
 * The reserve of a command: the reply bound it declared when it was registered (`maxReply`),
 * or failing that the largest reply it has given on this server, or UNKNOWN_REPLY_BYTES before
 * its first. A command that gives a reply larger than its bound raises the bound, so the next
 * burst is held back by the truth; only a declared bound holds from the first burst on, which
 * is why the built-in GET declares the body limit (it returns what a PUT could store). A
 * request's own body counts too: it is held until its command settles.
 *
 * @example
 * const reserves = new ReplyReserves(declared, 4 << 20);
 * output.reserve(reserves.reserveFor("GET", 0));
 */
export class ReplyReserves {
  readonly #declared: ReadonlyMap<string, number>;
  readonly #largest = new Map<string, number>();
  readonly #cap: number;

  /** `declared` is read live: a command registered later is known at once. `cap`: --max-output. */
  constructor(declared: ReadonlyMap<string, number>, cap: number) {
    this.#declared = declared;
    this.#cap = cap;
  }

  /** Bytes to reserve for one running `command` whose request carried `bodyBytes`. */
  reserveFor(command: string, bodyBytes: number): number {
    const declared = this.#declared.get(command);
    const largest = this.#largest.get(command);
    const reply = declared === undefined ? (largest ?? UNKNOWN_REPLY_BYTES) : Math.max(declared, largest ?? 0);
    // A single reply may be larger than the whole limit; reserving more than the limit would
    // only say "one at a time", which a reserve of the limit says already.
    return Math.min(reply + REPLY_HEAD_BYTES, this.#cap) + bodyBytes;
  }

  /** Records a reply body of `bytes` given by `command`. */
  observe(command: string, bytes: number): void {
    const largest = this.#largest.get(command);
    if (largest === undefined || bytes > largest) this.#largest.set(command, bytes);
  }
}
