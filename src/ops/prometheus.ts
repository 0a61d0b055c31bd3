// A MetricsSnapshot in the Prometheus text exposition format (version 0.0.4): HELP and TYPE
// for every family, even one without samples yet, and the refusal reasons a dashboard
// graphs present at zero from the first scrape, so rate() has a series to work on. Label
// values are escaped per the format; names follow Prometheus conventions (_total, _seconds).

import { refusalCodes } from "../errors.ts";
import { LATENCY_BUCKETS_S } from "../server/metrics.ts";
import type { MetricsSnapshot } from "./metrics-snapshot.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Refusal codes that are not handshake failures, always exposed (from the error catalog). */
const REFUSAL_CODES: readonly string[] = [...refusalCodes("certificate"), ...refusalCodes("server")];
/** The refused map's handshake codes, exposed as their own family. */
const HANDSHAKE_CODES: readonly string[] = refusalCodes("handshake");

export type ExpositionContext = {
  /** Now, epoch milliseconds (uptime is measured against the snapshot's start). */
  nowMs: number;
  version: string;
  ready: boolean;
  draining: boolean;
  /** Present under a supervisor: running workers and restarts since start. */
  workers?: { running: number; restarts: number } | undefined;
};

/**
 * Renders the exposition text.
 *
 * @example renderPrometheus(takeSnapshot(server), { nowMs: Date.now(), version: VERSION, ready: true, draining: false })
 */
export function renderPrometheus(s: MetricsSnapshot, context: ExpositionContext): string {
  const out: string[] = [];
  const family = (name: string, type: "counter" | "gauge" | "histogram", help: string) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const sample = (name: string, value: number, labels?: Record<string, string>) => {
    out.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
  };

  family("gnp_info", "gauge", "Version of the running gnp, as labels; always 1.");
  sample("gnp_info", 1, { version: context.version, bun: Bun.version });
  family("gnp_ready", "gauge", "1 while listening with the store open and not draining, else 0 (as /readyz).");
  sample("gnp_ready", context.ready ? 1 : 0);
  family("gnp_draining", "gauge", "1 from the first moment of a graceful shutdown.");
  sample("gnp_draining", context.draining ? 1 : 0);

  family("gnp_connections_open", "gauge", "Admitted connections currently open.");
  // A live gauge, not accepted - closed: a worker replaced or crashed takes its counters with it.
  sample("gnp_connections_open", s.open);
  family("gnp_connections_accepted_total", "counter", "Connections whose client certificate was admitted.");
  sample("gnp_connections_accepted_total", s.accepted);
  family("gnp_connections_refused_total", "counter", "Connections turned away after the TLS handshake, by reason code.");
  for (const [code, n] of withZeros(s.refused, REFUSAL_CODES, (code) => !HANDSHAKE_CODES.includes(code))) {
    sample("gnp_connections_refused_total", n, { reason: code });
  }
  family("gnp_handshake_failures_total", "counter", "TLS handshakes that failed or did not finish in time, by reason code.");
  for (const [code, n] of withZeros(s.refused, HANDSHAKE_CODES, (code) => HANDSHAKE_CODES.includes(code))) {
    sample("gnp_handshake_failures_total", n, { reason: code });
  }
  family("gnp_connections_closed_total", "counter", "Admitted connections that ended, by reason code (CLIENT_CLOSED when the client hung up).");
  for (const [code, n] of sorted(s.closed)) sample("gnp_connections_closed_total", n, { reason: code });

  family("gnp_commands_total", "counter", "Commands answered, by command name and status (ok: OK reply, err: ERR reply).");
  for (const [name, counts] of Object.entries(s.commands).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    sample("gnp_commands_total", counts.ok, { command: name, status: "ok" });
    sample("gnp_commands_total", counts.err, { command: name, status: "err" });
  }
  family("gnp_command_duration_seconds", "histogram", "Time from a complete request to its reply being queued.");
  let cumulative = 0;
  LATENCY_BUCKETS_S.forEach((bound, i) => {
    cumulative += s.latencyBuckets[i] ?? 0;
    sample("gnp_command_duration_seconds_bucket", cumulative, { le: String(bound) });
  });
  sample("gnp_command_duration_seconds_bucket", s.latencyCount, { le: "+Inf" });
  sample("gnp_command_duration_seconds_sum", s.latencySum);
  sample("gnp_command_duration_seconds_count", s.latencyCount);

  family("gnp_received_bytes_total", "counter", "Bytes received from clients (decrypted application data).");
  sample("gnp_received_bytes_total", s.bytesIn);
  family("gnp_sent_bytes_total", "counter", "Bytes written to clients (application data, before TLS).");
  sample("gnp_sent_bytes_total", s.bytesOut);

  family("gnp_slab_slots_in_use", "gauge", "Connection slots in use, including handshakes in progress and connections closing.");
  sample("gnp_slab_slots_in_use", s.slotsInUse);
  family("gnp_slab_slots", "gauge", "Connection slots allocated (--max-connections, per server process).");
  sample("gnp_slab_slots", s.slotsCapacity);
  family("gnp_certificate_cache_hits_total", "counter", "Client certificate validations answered from the cache.");
  sample("gnp_certificate_cache_hits_total", s.certificateCache.hits);
  family("gnp_certificate_cache_misses_total", "counter", "Client certificate validations that parsed the certificate.");
  sample("gnp_certificate_cache_misses_total", s.certificateCache.misses);

  if (context.workers !== undefined) {
    family("gnp_workers", "gauge", "Worker processes running under the supervisor.");
    sample("gnp_workers", context.workers.running);
    family("gnp_worker_restarts_total", "counter", "Workers the supervisor restarted after they exited unasked.");
    sample("gnp_worker_restarts_total", context.workers.restarts);
  }
  family("gnp_uptime_seconds", "gauge", "Seconds since the server process (the supervisor, with --workers) started.");
  sample("gnp_uptime_seconds", Math.max(context.nowMs - s.startedAtMs, 0) / 1000);
  family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.");
  sample("process_start_time_seconds", Math.floor(s.startedAtMs / 1000));
  family("process_resident_memory_bytes", "gauge", "Resident memory of the server process(es), in bytes.");
  sample("process_resident_memory_bytes", s.rssBytes);
  return `${out.join("\n")}\n`;
}

function sorted(counts: Record<string, number>): [string, number][] {
  return Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The counts that pass `keep`, with every code of `always` present (zero if unseen). */
function withZeros(counts: Record<string, number>, always: readonly string[], keep: (code: string) => boolean): [string, number][] {
  const merged: Record<string, number> = {};
  for (const code of always) merged[code] = 0;
  for (const [code, n] of Object.entries(counts)) if (keep(code)) merged[code] = n;
  return sorted(merged);
}

function formatLabels(labels: Record<string, string> | undefined): string {
  if (labels === undefined) return "";
  const parts = Object.entries(labels).map(([key, value]) => `${key}="${escapeLabel(value)}"`);
  return `{${parts.join(",")}}`;
}

/** Label values escape backslash, double quote and line feed (exposition format). */
function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
