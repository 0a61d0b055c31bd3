// Counters the server keeps for operators: connections accepted and refused by reason,
// commands by name and outcome, bytes in and out, a command latency histogram, and the
// expiry of the client certificates connected now, by the trusted CA that admitted them. Plain
// numbers updated in the hot path (an increment, a Map lookup). Reading, merging and exposing
// them is the metrics table's job (src/ops/metrics-table.ts), one descriptor per metric.

import type { RefusalCode } from "../errors.ts";

/** Upper bounds of the latency buckets, in seconds (Prometheus `le`), plus +Inf implied. */
export const LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export type CommandCounts = { ok: number; err: number };

export class ServerMetrics {
  readonly startedAt = Date.now();
  /** Connections whose certificate was admitted. */
  accepted = 0;
  /** Admitted connections open now: a live gauge, so a process that goes away takes its own with it. */
  open = 0;
  /** Connections turned away before the greeting, by error code. */
  readonly refused = new Map<RefusalCode, number>();
  /** Admitted connections that ended, by the code of their end (or "CLIENT_CLOSED"). */
  readonly closed = new Map<string, number>();
  /** Commands by upper-cased name; unregistered names count under "(unknown)". */
  readonly commands = new Map<string, CommandCounts>();
  bytesIn = 0;
  bytesOut = 0;
  /** Counts per bucket of LATENCY_BUCKETS_S; the last slot is +Inf. */
  readonly latencyBuckets = new Float64Array(LATENCY_BUCKETS_S.length + 1);
  latencySum = 0;
  latencyCount = 0;
  /**
   * Commands answered at once in the read being processed, not in the histogram yet: their
   * replies leave together at the read's end, so all of them get that read's time (clockAnswered).
   */
  #unclocked = 0;
  #served = 0;
  /** The certificates of the open connections a trusted CA admitted, for the earliest-expiry gauge. */
  readonly clientCertificates = new ConnectedCertificates();

  countRefusal(code: RefusalCode): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
  }

  countClose(code: string): void {
    this.closed.set(code, (this.closed.get(code) ?? 0) + 1);
  }

  /** A command that took `seconds` from the read of its request to its reply. */
  countCommand(name: string, ok: boolean, seconds: number): void {
    this.#count(name, ok);
    this.#observe(seconds, 1);
  }

  /** A command answered at once, within the read being processed: clocked at its end. */
  countAnswered(name: string, ok: boolean): void {
    this.#count(name, ok);
    this.#unclocked++;
  }

  /** Commands counted by countAnswered and not clocked yet. */
  get unclocked(): number {
    return this.#unclocked;
  }

  /** The read that carried the commands answered at once took `seconds`, to the write of their replies. */
  clockAnswered(seconds: number): void {
    this.#observe(seconds, this.#unclocked);
    this.#unclocked = 0;
  }

  #count(name: string, ok: boolean): void {
    this.#served++;
    let counts = this.commands.get(name);
    if (counts === undefined) {
      counts = { ok: 0, err: 0 };
      this.commands.set(name, counts);
    }
    if (ok) counts.ok++;
    else counts.err++;
  }

  #observe(seconds: number, commands: number): void {
    if (commands === 0) return;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[bucket]!) bucket++;
    this.latencyBuckets[bucket]! += commands;
    this.latencySum += seconds * commands;
    this.latencyCount += commands;
  }

  /** Total commands served. */
  get commandsServed(): number {
    return this.#served;
  }
}

/**
 * How many open connections hold each certificate, by the trusted CA that admitted it, and
 * when each expires: the earliest per CA is what an operator watches. Updated at open and
 * close, read at a scrape; the allow-list's certificates have no CA and are not counted.
 */
export class ConnectedCertificates {
  readonly #byCa = new Map<string, Map<string, { notAfter: number; count: number }>>();

  add(ca: string, sha256: string, notAfter: number): void {
    let certificates = this.#byCa.get(ca);
    if (certificates === undefined) {
      certificates = new Map();
      this.#byCa.set(ca, certificates);
    }
    const entry = certificates.get(sha256);
    if (entry) entry.count++;
    else certificates.set(sha256, { notAfter, count: 1 });
  }

  remove(ca: string, sha256: string): void {
    const certificates = this.#byCa.get(ca);
    const entry = certificates?.get(sha256);
    if (certificates === undefined || entry === undefined) return;
    if (--entry.count > 0) return;
    certificates.delete(sha256);
    if (certificates.size === 0) this.#byCa.delete(ca);
  }

  /** The earliest notAfter (epoch ms) among the certificates connected now, by CA. */
  earliest(): Record<string, number> {
    const earliest: Record<string, number> = {};
    for (const [ca, certificates] of this.#byCa) {
      let min = Infinity;
      for (const { notAfter } of certificates.values()) min = Math.min(min, notAfter);
      earliest[ca] = min;
    }
    return earliest;
  }
}
