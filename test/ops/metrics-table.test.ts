// The metrics table drives the snapshot, the supervisor's merge and the exposition, so each
// metric must say how it merges and what is left of it when its worker is gone; a metric added
// without a merge rule, or whose empty value is not the identity of its merge, fails here.
// Snapshots come from real servers after real traffic over TLS.

import { describe, expect, test } from "bun:test";
import { refusalCodes } from "../../src/errors.ts";
import { emptySnapshot, mergeSnapshots, retiredPart, takeSnapshot } from "../../src/ops/metrics-snapshot.ts";
import { METRICS } from "../../src/ops/metrics-table.ts";
import { renderPrometheus } from "../../src/ops/prometheus.ts";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { okReply, request } from "../support/wire.ts";
import { parseExposition, valueOf } from "./exposition.ts";

async function snapshotAfterTraffic() {
  await using server = await startServer({ maxConnections: 4 }, (s) => s.command("PING", () => "PONG"));
  await using client = await connectAdmitted(server.port);
  client.write(request("PING", "1"));
  await client.waitFor(okReply("1", "PONG"));
  return takeSnapshot(server);
}

describe("the metrics table", () => {
  test("every metric has a merge rule, and its empty value leaves a snapshot unchanged", async () => {
    const snapshot = await snapshotAfterTraffic();
    const lacking = Object.entries(METRICS)
      .filter(([, metric]) => typeof metric.merge !== "function" || typeof metric.zero !== "function")
      .map(([key]) => key);
    expect(lacking).toEqual([]);
    expect(Object.keys(snapshot).sort()).toEqual(Object.keys(METRICS).sort());
    expect(mergeSnapshots([snapshot], Date.now())).toEqual(snapshot);
  });

  test("two processes' snapshots add up, field by field, with the earliest start", async () => {
    const a = await snapshotAfterTraffic();
    const b = await snapshotAfterTraffic();
    const merged = mergeSnapshots([a, b], Date.now());
    expect({ accepted: merged.accepted, ping: merged.commands.PING, capacity: merged.slotsCapacity, processes: merged.processes, started: merged.startedAtMs }).toEqual({
      accepted: a.accepted + b.accepted,
      ping: { ok: 2, err: 0 },
      capacity: 8,
      processes: 2,
      started: Math.min(a.startedAtMs, b.startedAtMs),
    });
  });

  test("what stays of a gone worker is its counters; its gauges leave with it", async () => {
    const snapshot = await snapshotAfterTraffic();
    const left = retiredPart(snapshot, snapshot.startedAtMs);
    expect({ accepted: left.accepted, commands: left.commands, open: left.open, slotsCapacity: left.slotsCapacity, rssBytes: left.rssBytes, processes: left.processes }).toEqual({
      accepted: snapshot.accepted,
      commands: snapshot.commands,
      open: 0,
      slotsCapacity: 0,
      rssBytes: 0,
      processes: 0,
    });
  });

  test("every refusal code of the error catalog is a series at zero from the first scrape", () => {
    const exposition = parseExposition(renderPrometheus(emptySnapshot(Date.now()), { nowMs: Date.now(), version: "0.0.0", ready: true, draining: false }));
    const refused = [...refusalCodes("certificate"), ...refusalCodes("server")].map((reason) => valueOf(exposition, "gnp_connections_refused_total", { reason }));
    const handshake = refusalCodes("handshake").map((reason) => valueOf(exposition, "gnp_handshake_failures_total", { reason }));
    expect([...refused, ...handshake].every((n) => n === 0)).toBe(true);
    expect([refused.length > 0, handshake.length > 0]).toEqual([true, true]);
  });
});
