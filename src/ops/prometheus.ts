// A MetricsSnapshot in the Prometheus text exposition format (version 0.0.4): HELP and TYPE
// for every family, even one without samples yet. The families are those of the metrics table
// (metrics-table.ts) plus the process's own state (version, readiness, workers, the last
// configuration load). Label values
// are escaped per the format; names follow Prometheus conventions (_total, _seconds).

import type { MetricsSnapshot } from "./metrics-snapshot.ts";
import { METRICS, type Family, type Metric } from "./metrics-table.ts";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type ExpositionContext = {
  /** Now, epoch milliseconds (uptime is measured against the snapshot's start). */
  nowMs: number;
  version: string;
  ready: boolean;
  draining: boolean;
  /** Present under a supervisor: running workers and restarts since start. */
  workers?: { running: number; restarts: number } | undefined;
  /** The last configuration load: the start, or the last reload asked for, and whether it applied. */
  reload?: LastReload | undefined;
};

/** When the configuration was last loaded (epoch ms) and whether that load was applied. */
export type LastReload = { atMs: number; ok: boolean };

/**
 * Renders the exposition text.
 *
 * @example renderPrometheus(takeSnapshot(server), { nowMs: Date.now(), version: VERSION, ready: true, draining: false })
 */
export function renderPrometheus(s: MetricsSnapshot, context: ExpositionContext): string {
  const families: Family[] = [
    { name: "gnp_info", type: "gauge", help: "Version of the running gnp, as labels; always 1.", samples: [["", 1, { version: context.version, bun: Bun.version }]] },
    { name: "gnp_ready", type: "gauge", help: "1 while listening with the store open and not draining, else 0 (as /readyz).", samples: [["", context.ready ? 1 : 0]] },
    { name: "gnp_draining", type: "gauge", help: "1 from the first moment of a graceful shutdown.", samples: [["", context.draining ? 1 : 0]] },
  ];
  if (context.workers !== undefined) {
    families.push(
      { name: "gnp_workers", type: "gauge", help: "Worker processes running under the supervisor.", samples: [["", context.workers.running]] },
      { name: "gnp_worker_restarts_total", type: "counter", help: "Workers the supervisor restarted after they exited unasked.", samples: [["", context.workers.restarts]] },
    );
  }
  if (context.reload !== undefined) {
    families.push(
      { name: "gnp_config_last_reload_successful", type: "gauge", help: "1 when the last configuration load (the start or a reload) was applied, 0 when it was refused.", samples: [["", context.reload.ok ? 1 : 0]] },
      { name: "gnp_config_last_reload_timestamp_seconds", type: "gauge", help: "When the configuration was last loaded or a reload was refused, since the Unix epoch, in seconds.", samples: [["", Math.floor(context.reload.atMs / 1000)]] },
    );
  }
  const all = s as unknown as Record<string, unknown>;
  for (const [key, metric] of Object.entries(METRICS) as [string, Metric<unknown>][]) {
    if (metric.expose !== undefined) families.push(...metric.expose(all[key], all, { nowMs: context.nowMs }));
  }
  const out: string[] = [];
  for (const family of families) {
    out.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const [suffix, value, labels] of family.samples) out.push(`${family.name}${suffix}${formatLabels(labels)} ${formatValue(value)}`);
  }
  return `${out.join("\n")}\n`;
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
