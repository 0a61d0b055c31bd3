// A reply that comes later without a promise, for gnp's own commands whose completions arrive
// hundreds at a time (a store's commit round): a handler returns a PendingReply, the command
// runner attaches itself, and whoever finishes the work calls resolve() or reject() once. It
// carries what the runner needs at the settle, so one object replaces the three promises, two
// closures and the record of an async reply. Not part of the public API: handlers return promises.

/** Hears the settle of a pending reply (the command runner). */
export interface ReplyTarget {
  settled(reply: PendingReply, value: unknown, threw: boolean): void;
}

/**
 * Settled at most once: a second resolve() or reject() is ignored. Settled before the runner
 * attached (the work finished at once), it is delivered at attach().
 *
 * @example
 * const reply = new PendingReply();
 * queue.push(() => reply.resolve("done"));
 * return reply;
 */
export class PendingReply {
  // What the command runner records for the settle (the fields of an async command in flight).
  handle = 0;
  command = "";
  sequence = "";
  started = 0;
  reserved = 0;
  #target: ReplyTarget | undefined;
  #settled = false;
  #value: unknown;
  #threw = false;

  /** Settles with what a handler could have returned (request.ts's HandlerResult). */
  resolve(value: unknown): void {
    this.#settle(value, false);
  }

  reject(error: unknown): void {
    this.#settle(error, true);
  }

  /** The runner's part: `target` hears the settle, now if it came already. */
  attach(target: ReplyTarget): void {
    this.#target = target;
    if (this.#settled) target.settled(this, this.#value, this.#threw);
  }

  #settle(value: unknown, threw: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    const target = this.#target;
    if (target !== undefined) {
      target.settled(this, value, threw);
      return;
    }
    this.#value = value;
    this.#threw = threw;
  }
}
