// A server's metrics as a plain, JSON-safe object: what one worker sends its supervisor over
// IPC, and what the Prometheus renderer reads. Its fields, how each is read, merged across
// workers and kept or dropped when a worker goes are the descriptors of metrics-table.ts;
// this file only walks that table.

import type { GnpServer } from "../server/server.ts";
import { METRICS, NO_APP_METRICS, type AppMetrics, type Metric } from "./metrics-table.ts";

type Table = typeof METRICS;

/** One value per metric of the table. */
export type MetricsSnapshot = { -readonly [K in keyof Table]: Table[K] extends Metric<infer T> ? T : never };

type Key = keyof Table;
const KEYS = Object.keys(METRICS) as Key[];
/** The table, loosely typed, for walking it key by key. */
const ANY = METRICS as unknown as Record<Key, Metric<unknown>>;

function build(value: (key: Key, metric: Metric<unknown>) => unknown): MetricsSnapshot {
  const snapshot: Record<string, unknown> = {};
  for (const key of KEYS) snapshot[key] = value(key, ANY[key]);
  return snapshot as MetricsSnapshot;
}

/** Copies a server's metrics now, with what the layers above it add (`app`). */
export function takeSnapshot(server: GnpServer, app: AppMetrics = NO_APP_METRICS): MetricsSnapshot {
  return build((_key, metric) => metric.read(server, app));
}

/** An all-zero snapshot: the identity of mergeSnapshots. */
export function emptySnapshot(startedAtMs: number): MetricsSnapshot {
  return build((_key, metric) => metric.zero(startedAtMs));
}

/** Adds snapshots of several processes into one (a fresh object; the inputs are untouched). */
export function mergeSnapshots(snapshots: readonly MetricsSnapshot[], startedAtMs: number): MetricsSnapshot {
  return build((key, metric) => snapshots.reduce((total, snapshot) => metric.merge(total, snapshot[key]), metric.zero(startedAtMs)));
}

/** What stays of a process that is gone: its counters; its gauges (open connections, memory) go with it. */
export function retiredPart(snapshot: MetricsSnapshot, startedAtMs: number): MetricsSnapshot {
  return build((key, metric) => (metric.kind === "gauge" ? metric.zero(startedAtMs) : snapshot[key]));
}
