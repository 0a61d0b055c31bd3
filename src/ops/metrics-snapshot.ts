// A server's metrics as a plain, JSON-safe object: what one worker sends its supervisor over
// IPC, and what the Prometheus renderer reads. Snapshots of several workers merge by adding
// counters and gauges; the start time is the earliest, so uptime is the service's.

import type { GnpServer } from "../server/server.ts";
import { LATENCY_BUCKETS_S } from "../server/metrics.ts";

export type MetricsSnapshot = {
  /** Epoch milliseconds when the (earliest) server process started. */
  startedAtMs: number;
  accepted: number;
  /** Admitted connections open now (a gauge). */
  open: number;
  refused: Record<string, number>;
  closed: Record<string, number>;
  commands: Record<string, { ok: number; err: number }>;
  bytesIn: number;
  bytesOut: number;
  /** Per-bucket (not cumulative) counts for LATENCY_BUCKETS_S, the last one +Inf. */
  latencyBuckets: number[];
  latencySum: number;
  latencyCount: number;
  slotsInUse: number;
  slotsCapacity: number;
  certificateCache: { hits: number; misses: number; size: number };
  /** Resident memory of the process(es), bytes. */
  rssBytes: number;
  /** How many server processes were added up (1 for one process). */
  processes: number;
};

/** Copies a server's counters now. */
export function takeSnapshot(server: GnpServer): MetricsSnapshot {
  const metrics = server.metrics;
  const stats = server.stats();
  return {
    startedAtMs: metrics.startedAt,
    accepted: metrics.accepted,
    open: metrics.open,
    refused: Object.fromEntries(metrics.refused),
    closed: Object.fromEntries(metrics.closed),
    commands: Object.fromEntries([...metrics.commands].map(([name, counts]) => [name, { ok: counts.ok, err: counts.err }])),
    bytesIn: metrics.bytesIn,
    bytesOut: metrics.bytesOut,
    latencyBuckets: Array.from(metrics.latencyBuckets),
    latencySum: metrics.latencySum,
    latencyCount: metrics.latencyCount,
    slotsInUse: stats.connections,
    slotsCapacity: stats.capacity,
    certificateCache: { ...stats.certificateCache },
    rssBytes: process.memoryUsage.rss(),
    processes: 1,
  };
}

/** An all-zero snapshot: the identity of mergeSnapshots. */
export function emptySnapshot(startedAtMs: number): MetricsSnapshot {
  return {
    startedAtMs,
    accepted: 0,
    open: 0,
    refused: {},
    closed: {},
    commands: {},
    bytesIn: 0,
    bytesOut: 0,
    latencyBuckets: new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0),
    latencySum: 0,
    latencyCount: 0,
    slotsInUse: 0,
    slotsCapacity: 0,
    certificateCache: { hits: 0, misses: 0, size: 0 },
    rssBytes: 0,
    processes: 0,
  };
}

/** Adds snapshots of several processes into one (a fresh object; the inputs are untouched). */
export function mergeSnapshots(snapshots: readonly MetricsSnapshot[], startedAtMs: number): MetricsSnapshot {
  const total = emptySnapshot(startedAtMs);
  for (const s of snapshots) {
    total.startedAtMs = Math.min(total.startedAtMs, s.startedAtMs);
    total.accepted += s.accepted;
    total.open += s.open;
    addCounts(total.refused, s.refused);
    addCounts(total.closed, s.closed);
    for (const [name, counts] of Object.entries(s.commands)) {
      const sum = (total.commands[name] ??= { ok: 0, err: 0 });
      sum.ok += counts.ok;
      sum.err += counts.err;
    }
    total.bytesIn += s.bytesIn;
    total.bytesOut += s.bytesOut;
    for (let i = 0; i < total.latencyBuckets.length; i++) total.latencyBuckets[i]! += s.latencyBuckets[i] ?? 0;
    total.latencySum += s.latencySum;
    total.latencyCount += s.latencyCount;
    total.slotsInUse += s.slotsInUse;
    total.slotsCapacity += s.slotsCapacity;
    total.certificateCache.hits += s.certificateCache.hits;
    total.certificateCache.misses += s.certificateCache.misses;
    total.certificateCache.size += s.certificateCache.size;
    total.rssBytes += s.rssBytes;
    total.processes += s.processes;
  }
  return total;
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
}
