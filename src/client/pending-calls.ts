// The calls of one connection that await their reply, keyed by Sequence, and the push
// listeners registered for a Sequence. Replies may come in any order: each settles the call
// with its Sequence. Invariant: a call is settled exactly once (reply, timeout or loss), and a
// settled call is gone from the map, so a late reply to a timed-out call is ignored.

import { GnpError } from "../errors.ts";
import { deferred } from "./deferred.ts";
import { Message, type Push, type Reply } from "./message.ts";
import type { ReplyMessage } from "../protocol/reply-parser.ts";

const utf8 = new TextDecoder("utf-8");

export type PushListener = (push: Push) => void;

type PendingCall = {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (error: GnpError) => void;
  readonly timer: ReturnType<typeof setTimeout> | undefined;
};

export class PendingCalls {
  readonly #calls = new Map<string, PendingCall>();
  readonly #listeners = new Map<string, PushListener>();
  /** Sequences whose call timed out and whose late reply has not come yet: not reusable until it does. */
  readonly #timedOut = new Set<string>();
  #next = 1;
  #idle: (() => void)[] = [];

  get size(): number {
    return this.#calls.size;
  }

  /** A fresh Sequence: a counter, skipping any value a caller chose and is still in use. */
  nextSequence(): string {
    for (;;) {
      const sequence = String(this.#next++);
      if (!this.inUse(sequence)) return sequence;
    }
  }

  inUse(sequence: string): boolean {
    return this.#calls.has(sequence) || this.#listeners.has(sequence) || this.#timedOut.has(sequence);
  }

  /** Registers a call; the promise settles on its reply, its timeout (ms, 0 = none) or a loss. */
  add(sequence: string, timeoutMs: number, describe: () => string): Promise<Reply> {
    const { promise, resolve, reject } = deferred<Reply>();
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            if (this.#delete(sequence)) {
              this.#listeners.delete(sequence);
              // Its reply may still come: a new call with this Sequence must not take it.
              this.#timedOut.add(sequence);
              reject(new GnpError("CALL_TIMEOUT", `no reply to ${describe()} within ${timeoutMs} ms`));
            }
          }, timeoutMs)
        : undefined;
    this.#calls.set(sequence, { resolve, reject, timer });
    return promise;
  }

  /**
   * Settles the call an OK or ERR message answers; a PUSH goes to its listener. Returns false
   * for a message nobody waits for (a reply after its timeout, a push without a listener).
   */
  dispatch(message: ReplyMessage): boolean {
    if (message.status === "PUSH") {
      const listener = this.#listeners.get(message.sequence);
      if (listener === undefined) return false;
      deliver(listener, new Message("PUSH", message.sequence, message, message.body));
      return true;
    }
    const call = this.#calls.get(message.sequence);
    if (call === undefined) {
      this.#timedOut.delete(message.sequence);
      return false;
    }
    this.#delete(message.sequence);
    if (message.status === "OK") {
      call.resolve(new Message("OK", message.sequence, message, message.body));
    } else {
      // An ERR reply ends whatever the request asked for, a subscription included.
      this.#listeners.delete(message.sequence);
      call.reject(new GnpError("REPLY_ERROR", utf8.decode(message.body)));
    }
    return true;
  }

  listen(sequence: string, listener: PushListener): void {
    this.#listeners.set(sequence, listener);
  }

  unlisten(sequence: string): boolean {
    return this.#listeners.delete(sequence);
  }

  /** Rejects every pending call with `error` and drops every listener: the connection is gone. */
  rejectAll(error: GnpError): void {
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    this.#listeners.clear();
    this.#timedOut.clear();
    for (const call of calls) {
      if (call.timer !== undefined) clearTimeout(call.timer);
      call.reject(error);
    }
    this.#wakeIdle();
  }

  /** Resolves once no call is pending (at once when none is). */
  whenIdle(): Promise<void> {
    if (this.#calls.size === 0) return Promise.resolve();
    const { promise, resolve } = deferred<void>();
    this.#idle.push(resolve);
    return promise;
  }

  #delete(sequence: string): boolean {
    const call = this.#calls.get(sequence);
    if (call === undefined) return false;
    if (call.timer !== undefined) clearTimeout(call.timer);
    this.#calls.delete(sequence);
    if (this.#calls.size === 0) this.#wakeIdle();
    return true;
  }

  #wakeIdle(): void {
    const waiting = this.#idle;
    this.#idle = [];
    for (const wake of waiting) wake();
  }
}

/**
 * Calls a push listener. A listener that throws is a bug in the caller's code: it is reported
 * as an uncaught error, like a throwing event listener, rather than breaking the read loop.
 */
export function deliver<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
