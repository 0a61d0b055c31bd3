// Refusals reach the refuse hooks (and so the log) at most once per remote address and code
// per interval: a flood of sockets from one address is one event, then one summary with the
// count, instead of an event per socket. Metrics count every refusal; only the hooks are spared.

import type { RefusalInfo } from "./hooks.ts";

/** How long refusals of one address and code are folded into one event. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** Addresses tracked at once; past this (a flood from everywhere) they share one window per code. */
const MAX_WINDOWS = 10_000;

type Window = { until: number; repeated: number; last: RefusalInfo };

/**
 * @example
 * const log = new RefusalLog((info) => hooks.emitRefuse(info));
 * log.refuse(info, Date.now()); // emitted; the same address and code again within 10 s is counted
 * log.flush(Date.now());        // from a timer: one summary per window that ended, with `repeated`
 */
export class RefusalLog {
  readonly #emit: (info: RefusalInfo) => void;
  readonly #intervalMs: number;
  readonly #windows = new Map<string, Window>();

  constructor(emit: (info: RefusalInfo) => void, intervalMs = REFUSAL_LOG_INTERVAL_MS) {
    this.#emit = emit;
    this.#intervalMs = intervalMs;
  }

  refuse(info: RefusalInfo, now: number): void {
    let key = `${info.code} ${info.remoteAddress}`;
    if (!this.#windows.has(key) && this.#windows.size >= MAX_WINDOWS) {
      key = `${info.code} *`;
      info = { ...info, remoteAddress: "*" };
    }
    const window = this.#windows.get(key);
    if (window !== undefined && now < window.until) {
      window.repeated++;
      window.last = info;
      return;
    }
    if (window !== undefined && window.repeated > 0) this.#emit({ ...window.last, repeated: window.repeated });
    this.#windows.set(key, { until: now + this.#intervalMs, repeated: 0, last: info });
    this.#emit(info);
  }

  /** Emits one summary per window that has ended with refusals folded into it, and forgets them. */
  flush(now: number): void {
    for (const [key, window] of this.#windows) {
      if (now < window.until) continue;
      this.#windows.delete(key);
      if (window.repeated > 0) this.#emit({ ...window.last, repeated: window.repeated });
    }
  }
}
