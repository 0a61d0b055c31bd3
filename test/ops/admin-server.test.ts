// The admin listener over real HTTP on 127.0.0.1:0 in front of a real TLS server: probes,
// readiness through a shutdown, and /metrics scraped after known traffic and parsed as the
// Prometheus exposition (every line must parse; counters must match what was sent).

import { describe, expect, test } from "bun:test";
import { AdminServer } from "../../src/ops/admin-server.ts";
import { emptySnapshot, mergeSnapshots, takeSnapshot } from "../../src/ops/metrics-snapshot.ts";
import { renderPrometheus } from "../../src/ops/prometheus.ts";
import { serverAdminSource } from "../../src/serve/runtime.ts";
import { LATENCY_BUCKETS_S } from "../../src/server/metrics.ts";
import type { GnpServer } from "../../src/index.ts";
import { RawClient, connectAdmitted, startServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { GREETING, errReply, errorLine, okReply, request } from "../support/wire.ts";
import { parseExposition, scrape, valueOf } from "./exposition.ts";

function startAdmin(server: GnpServer, isStoreOpen = () => true): AdminServer & AsyncDisposable {
  const admin = AdminServer.start({ host: "127.0.0.1", port: 0, source: serverAdminSource({ server, isStoreOpen }) });
  return Object.assign(admin, { [Symbol.asyncDispose]: () => admin.stop() });
}

async function get(admin: AdminServer, path: string, method = "GET"): Promise<[number, string]> {
  const response = await fetch(`${admin.url}${path}`, { method });
  return [response.status, await response.text()];
}

describe("admin probes", () => {
  test("/healthz and /readyz answer 200 while listening; other paths 404, other methods 405", async () => {
    await using server = await startServer();
    await using admin = startAdmin(server);
    expect(await get(admin, "/healthz")).toEqual([200, "ok\n"]);
    expect(await get(admin, "/readyz")).toEqual([200, "ready\n"]);
    expect((await get(admin, "/nope"))[0]).toBe(404);
    expect((await get(admin, "/healthz", "POST"))[0]).toBe(405);
  });

  test("/readyz is 503 while the store is closed", async () => {
    await using server = await startServer();
    await using admin = startAdmin(server, () => false);
    expect(await get(admin, "/readyz")).toEqual([503, "not ready: store is closed\n"]);
    expect(await get(admin, "/healthz")).toEqual([200, "ok\n"]);
  });

  test("/readyz turns 503 at the first moment of shutdown, while an in-flight command still finishes", async () => {
    const release = Promise.withResolvers<string>();
    const started = Promise.withResolvers<void>();
    await using server = await startServer({}, (s) =>
      s.command("SLOW", () => {
        started.resolve();
        return release.promise;
      }),
    );
    await using admin = startAdmin(server);
    await using client = await connectAdmitted(server.port);
    client.write(request("SLOW", "1"));
    await started.promise;

    admin.markDraining();
    const closing = server.close();
    const readyz = await get(admin, "/readyz");
    const healthz = await get(admin, "/healthz");
    const metrics = parseExposition((await get(admin, "/metrics"))[1]);
    release.resolve("done");
    await closing;
    expect({ readyz, healthz, ready: valueOf(metrics, "gnp_ready"), draining: valueOf(metrics, "gnp_draining") }).toEqual({
      readyz: [503, "not ready: shutting down\n"],
      healthz: [200, "ok\n"],
      ready: 0,
      draining: 1,
    });
    expect(await client.untilClosed()).toBe(GREETING + okReply("1", "done") + errorLine("server is shutting down"));
  });
});

describe("/metrics", () => {
  test("counts connections, refusals by reason, commands by name and status, bytes and latency after known traffic", async () => {
    const pki = await makeTestPki();
    const closedOne = Promise.withResolvers<void>();
    await using server = await startServer({ maxConnections: 8 }, (s) =>
      s
        .command("PING", () => "PONG")
        .command("FAIL", () => {
          throw new Error("boom");
        })
        .on("close", () => closedOne.resolve()),
    );
    await using admin = startAdmin(server);
    const before = await scrape(admin.url);
    expect(valueOf(before, "gnp_connections_refused_total", { reason: "CERT_EXPIRED" })).toBe(0);

    const client = await connectAdmitted(server.port);
    client.write(request("PING", "1") + request("PING", "2") + request("FAIL", "3") + request("NOPE", "4"));
    await client.waitFor(errReply("4", "unknown command 'NOPE'"));
    for (const certificate of [pki.unknown, pki.expired, null]) {
      await using refused = await RawClient.connect({ port: server.port, certificate });
      await refused.untilClosed();
    }
    client.close();
    await closedOne.promise;

    const m = await scrape(admin.url);
    const sent = request("PING", "1") + request("PING", "2") + request("FAIL", "3") + request("NOPE", "4");
    expect({
      accepted: valueOf(m, "gnp_connections_accepted_total"),
      open: valueOf(m, "gnp_connections_open"),
      unknown: valueOf(m, "gnp_connections_refused_total", { reason: "CERT_UNKNOWN" }),
      expired: valueOf(m, "gnp_connections_refused_total", { reason: "CERT_EXPIRED" }),
      missing: valueOf(m, "gnp_connections_refused_total", { reason: "CERT_MISSING" }),
      limit: valueOf(m, "gnp_connections_refused_total", { reason: "CONNECTION_LIMIT" }),
      handshakeFailed: valueOf(m, "gnp_handshake_failures_total", { reason: "HANDSHAKE_FAILED" }),
      clientClosed: valueOf(m, "gnp_connections_closed_total", { reason: "CLIENT_CLOSED" }),
      pingOk: valueOf(m, "gnp_commands_total", { command: "PING", status: "ok" }),
      failErr: valueOf(m, "gnp_commands_total", { command: "FAIL", status: "err" }),
      unknownErr: valueOf(m, "gnp_commands_total", { command: "(unknown)", status: "err" }),
      count: valueOf(m, "gnp_command_duration_seconds_count"),
      received: valueOf(m, "gnp_received_bytes_total"),
      slotsInUse: valueOf(m, "gnp_slab_slots_in_use"),
      slots: valueOf(m, "gnp_slab_slots"),
      slabBytes: valueOf(m, "gnp_slab_bytes"),
    }).toEqual({
      accepted: 1,
      open: 0,
      unknown: 1,
      expired: 1,
      missing: 1,
      limit: 0,
      handshakeFailed: 0,
      clientClosed: 1,
      pingOk: 2,
      failErr: 1,
      unknownErr: 1,
      count: 4,
      received: sent.length,
      slotsInUse: 0,
      slots: 8,
      // 8 slots' columns and their message buffers (fewer than 128 slots: one chunk of 8).
      slabBytes: 8 * 8192,
    });
    const greetingAndReplies = GREETING + okReply("1", "PONG") + okReply("2", "PONG");
    expect(valueOf(m, "gnp_sent_bytes_total")).toBeGreaterThan(greetingAndReplies.length);
    // Buckets are cumulative, rise monotonically, and +Inf equals the count.
    const buckets = [...LATENCY_BUCKETS_S.map(String), "+Inf"].map((le) => valueOf(m, "gnp_command_duration_seconds_bucket", { le }));
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(buckets.at(-1)).toBe(4);
    expect(valueOf(m, "gnp_command_duration_seconds_sum")).toBeGreaterThanOrEqual(0);
    expect(m.types.get("gnp_command_duration_seconds")).toBe("histogram");
    expect(valueOf(m, "gnp_uptime_seconds")).toBeGreaterThanOrEqual(0);
    expect(valueOf(m, "process_resident_memory_bytes")).toBeGreaterThan(0);
  });

  test("a plain-TCP client that never speaks TLS counts as a handshake failure", async () => {
    await using server = await startServer();
    await using admin = startAdmin(server);
    const closed = Promise.withResolvers<void>();
    const socket = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {}, close: () => closed.resolve(), error() {} } });
    socket.write("PING\r\nSequence: 1\r\n\r\n");
    await closed.promise;
    const m = await scrape(admin.url);
    expect(valueOf(m, "gnp_handshake_failures_total", { reason: "HANDSHAKE_FAILED" })).toBe(1);
    expect(valueOf(m, "gnp_connections_accepted_total")).toBe(0);
  });

  test("label values are escaped so that any command name parses back unchanged", () => {
    const snapshot = emptySnapshot(Date.now());
    snapshot.commands['Q"\\X'] = { ok: 3, err: 0 };
    const text = renderPrometheus(snapshot, { nowMs: Date.now(), version: "0.0.0", ready: true, draining: false });
    expect(valueOf(parseExposition(text), "gnp_commands_total", { command: 'Q"\\X', status: "ok" })).toBe(3);
  });

  test("snapshots of several processes merge by adding counters, gauges and histogram buckets", async () => {
    await using a = await startServer({ maxConnections: 3 }, (s) => s.command("PING", () => "PONG"));
    await using b = await startServer({ maxConnections: 5 }, (s) => s.command("PING", () => "PONG"));
    for (const server of [a, b, b]) {
      await using client = await connectAdmitted(server.port);
      client.write(request("PING", "1"));
      await client.waitFor(okReply("1", "PONG"));
    }
    const merged = mergeSnapshots([takeSnapshot(a), takeSnapshot(b)], Date.now());
    expect({
      accepted: merged.accepted,
      ping: merged.commands.PING,
      capacity: merged.slotsCapacity,
      buckets: merged.latencyBuckets.reduce((sum, n) => sum + n, 0),
      count: merged.latencyCount,
      processes: merged.processes,
    }).toEqual({ accepted: 3, ping: { ok: 3, err: 0 }, capacity: 8, buckets: 3, count: 3, processes: 2 });
  });
});
