// Every metric of a gnp server as one descriptor (connections, commands, bytes, latency, the
// certificate cache, revocation refusals and the expiry of CRLs and certificates, and what the
// layers above add: watches, the store's counts): how to read it from a server, its empty
// value and how it merges across workers, whether a gone worker's value stays in the totals
// (a counter) or leaves with it (a gauge), and the Prometheus families it is exposed as. The
// snapshot, the supervisor's merge and the exposition are all driven by this table, so a new
// metric is one entry here (and its counter in src/server/metrics.ts).

import { refusalCodes, type RefusalCode } from "../errors.ts";
import { LATENCY_BUCKETS_S } from "../server/metrics.ts";
import type { GnpServer } from "../server/server.ts";

/** One family of the exposition: HELP and TYPE, then its samples (name suffix, labels, value). */
export type Family = {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help: string;
  samples: readonly (readonly [suffix: string, value: number, labels?: Record<string, string>])[];
};

/** What an exposition knows besides the snapshot. */
export type ExposeContext = { nowMs: number };

/** The store's own counts (from its counters, as INFO reads them); `shared` when every process sees the same store. */
export type StoreCounts = { keys: number; bytes: number; shared: boolean };

/** What the layers above the server add to its metrics, read when a snapshot is taken; src/serve/ fills it in. */
export type AppMetrics = { watches: number; store: StoreCounts | undefined };

/** A server with nothing above it (the library's own use): no watches, no store known. */
export const NO_APP_METRICS: AppMetrics = Object.freeze({ watches: 0, store: undefined });

export type Metric<T> = {
  /** counter: a worker's value stays in the totals after it exits; gauge: it leaves with it. */
  kind: "counter" | "gauge";
  read: (server: GnpServer, app: AppMetrics) => T;
  /** The value of no process at all; `startedAtMs` is the service's start. */
  zero: (startedAtMs: number) => T;
  /** Two processes' values as one (a fresh value; the inputs are untouched). */
  merge: (a: T, b: T) => T;
  /** The families this value is exposed as; `all` is the whole snapshot, for a histogram's parts. */
  expose?: (value: T, all: Readonly<Record<string, unknown>>, context: ExposeContext) => Family[];
};

/** Typed entry; the table's keys are the snapshot's. */
const metric = <T>(descriptor: Metric<T>): Metric<T> => descriptor;

type Counts = Record<string, number>;
type CommandCounts = Record<string, { ok: number; err: number }>;

const sum = (a: number, b: number) => a + b;
const sumCounts = (a: Counts, b: Counts): Counts => {
  const total = { ...a };
  for (const [key, value] of Object.entries(b)) total[key] = (total[key] ?? 0) + value;
  return total;
};
const sumEach = (a: readonly number[], b: readonly number[]) => a.map((value, i) => value + (b[i] ?? 0));

/** A number summed across workers, exposed (when `family` is given) as one family without labels. */
function total(kind: "counter" | "gauge", read: (server: GnpServer, app: AppMetrics) => number, family?: { name: string; help: string }): Metric<number> {
  const expose = family && ((value: number): Family[] => [{ name: family.name, type: kind, help: family.help, samples: [["", value]] }]);
  return { kind, read, zero: () => 0, merge: sum, ...(expose ? { expose } : {}) };
}

/** Counts by refusal code, with each code of `always` present at zero from the first scrape so that rate() has a series. */
function byReason(family: { name: string; help: string }, always: readonly string[]): (counts: Counts) => Family[] {
  const { name, help } = family;
  return (seen: Counts): Family[] => {
    const counts: Counts = {};
    for (const code of always) counts[code] = 0;
    Object.assign(counts, seen);
    return [{ name, type: "counter", help, samples: sortedEntries(counts).map(([code, n]) => ["", n, { reason: code }] as const) }];
  };
}

const HANDSHAKE_CODES: readonly string[] = refusalCodes("handshake");
/** The refusals that come of revocation: a listed certificate, a CRL out of date. */
const REVOCATION_CODES: readonly RefusalCode[] = ["CERT_REVOKED", "CRL_STALE"];

/** Epoch seconds by label value, merged across workers by the earliest (every worker reads the same files). */
function earliestBy(family: { name: string; help: string; label: string }, read: (server: GnpServer, nowMs: number) => Record<string, number>): Metric<Record<string, number>> {
  return {
    kind: "gauge",
    read: (server) => read(server, Date.now()),
    zero: () => ({}),
    merge: (a, b) => {
      const earliest = { ...a };
      for (const [key, value] of Object.entries(b)) earliest[key] = Math.min(earliest[key] ?? Infinity, value);
      return earliest;
    },
    expose: (values) => [{ name: family.name, type: "gauge", help: family.help, samples: sortedEntries(values).map(([key, value]) => ["", value, { [family.label]: key }] as const) }],
  };
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/** The table. Its order is the exposition's. */
export const METRICS = {
  /** Epoch milliseconds when the (earliest) server process started: uptime is the service's. */
  startedAtMs: metric({
    kind: "counter",
    read: (server) => server.metrics.startedAt,
    zero: (startedAtMs) => startedAtMs,
    merge: Math.min,
    expose: (startedAtMs, _all, { nowMs }) => [
      { name: "gnp_uptime_seconds", type: "gauge", help: "Seconds since the server process (the supervisor, with --workers) started.", samples: [["", Math.max(nowMs - startedAtMs, 0) / 1000]] },
      { name: "process_start_time_seconds", type: "gauge", help: "Start time of the process since the Unix epoch, in seconds.", samples: [["", Math.floor(startedAtMs / 1000)]] },
    ],
  }),
  /** Admitted connections open now: a live gauge, not accepted - closed, since a gone worker takes its own with it. */
  open: total("gauge", (server) => server.metrics.open, { name: "gnp_connections_open", help: "Admitted connections currently open." }),
  accepted: total("counter", (server) => server.metrics.accepted, { name: "gnp_connections_accepted_total", help: "Connections whose client certificate was admitted." }),
  /** By refusal code (the catalog's `refusal` codes): two families, refusals proper and handshake failures. */
  refused: metric<Counts>({
    kind: "counter",
    read: (server) => Object.fromEntries(server.metrics.refused),
    zero: () => ({}),
    merge: sumCounts,
    expose: (refused) => [
      ...byReason({ name: "gnp_connections_refused_total", help: "Connections turned away after the TLS handshake, by reason code." }, [...refusalCodes("certificate"), ...refusalCodes("server")])(
        Object.fromEntries(Object.entries(refused).filter(([code]) => !HANDSHAKE_CODES.includes(code))),
      ),
      ...byReason({ name: "gnp_handshake_failures_total", help: "TLS handshakes that failed or did not finish in time, by reason code." }, HANDSHAKE_CODES)(
        Object.fromEntries(Object.entries(refused).filter(([code]) => HANDSHAKE_CODES.includes(code))),
      ),
    ],
  }),
  /** Connections refused for revocation, `CODE new` at admission and `CODE established` when a reload cut an open one. */
  revocations: metric<Counts>({
    kind: "counter",
    read: (server) =>
      Object.fromEntries(
        REVOCATION_CODES.flatMap((code) => [
          [`${code} new`, server.metrics.refused.get(code) ?? 0],
          [`${code} established`, server.metrics.closed.get(code) ?? 0],
        ]),
      ),
    zero: () => ({}),
    merge: sumCounts,
    expose: (counts) => [
      {
        name: "gnp_revocation_refusals_total",
        type: "counter",
        help: "Clients refused for revocation, by reason (CERT_REVOKED, CRL_STALE) and connection (new: at admission; established: cut after a CRL changed).",
        samples: REVOCATION_CODES.flatMap((code) =>
          (["new", "established"] as const).map((connection) => ["", counts[`${code} ${connection}`] ?? 0, { reason: code, connection }] as const),
        ),
      },
    ],
  }),
  /** Each CRL's nextUpdate, epoch seconds, by issuing CA (a CRL without one is left out). */
  crlNextUpdate: earliestBy(
    { name: "gnp_crl_next_update_timestamp_seconds", help: "When each CRL in use goes stale (its nextUpdate), by the CA that signed it, in seconds since the epoch.", label: "issuer" },
    (server, nowMs) => Object.fromEntries(server.crlStatus(nowMs).flatMap((crl) => (crl.nextUpdate ? [[crl.issuer, seconds(crl.nextUpdate.getTime())]] : []))),
  ),
  /** The server certificate's notAfter, epoch seconds, as one sample. */
  serverCertificateExpiry: earliestBy(
    { name: "gnp_server_certificate_expiry_timestamp_seconds", help: "When the server certificate new connections get expires, in seconds since the epoch.", label: "subject" },
    (server) => ({ [server.certificateSubject]: seconds(server.certificateNotAfter.getTime()) }),
  ),
  /** Per trusted CA, the earliest notAfter among the client certificates connected now. */
  clientCertificateExpiry: earliestBy(
    { name: "gnp_client_certificate_earliest_expiry_timestamp_seconds", help: "Per trusted CA, when the first of the client certificates connected now expires, in seconds since the epoch.", label: "ca" },
    (server) => Object.fromEntries(Object.entries(server.metrics.clientCertificates.earliest()).map(([ca, ms]) => [ca, seconds(ms)])),
  ),
  closed: metric<Counts>({
    kind: "counter",
    read: (server) => Object.fromEntries(server.metrics.closed),
    zero: () => ({}),
    merge: sumCounts,
    expose: byReason({ name: "gnp_connections_closed_total", help: "Admitted connections that ended, by reason code (CLIENT_CLOSED when the client hung up)." }, []),
  }),
  commands: metric<CommandCounts>({
    kind: "counter",
    read: (server) => Object.fromEntries([...server.metrics.commands].map(([name, counts]) => [name, { ok: counts.ok, err: counts.err }])),
    zero: () => ({}),
    merge: (a, b) => {
      const total: CommandCounts = Object.fromEntries(Object.entries(a).map(([name, counts]) => [name, { ...counts }]));
      for (const [name, counts] of Object.entries(b)) {
        const into = (total[name] ??= { ok: 0, err: 0 });
        into.ok += counts.ok;
        into.err += counts.err;
      }
      return total;
    },
    expose: (commands) => [
      {
        name: "gnp_commands_total",
        type: "counter",
        help: "Commands answered, by command name and status (ok: OK reply, err: ERR reply).",
        samples: sortedEntries(commands).flatMap(([command, counts]) => [
          ["", counts.ok, { command, status: "ok" }] as const,
          ["", counts.err, { command, status: "err" }] as const,
        ]),
      },
    ],
  }),
  /** Per-bucket (not cumulative) counts for LATENCY_BUCKETS_S, the last one +Inf; exposed with latencySum and latencyCount. */
  latencyBuckets: metric<number[]>({
    kind: "counter",
    read: (server) => Array.from(server.metrics.latencyBuckets),
    zero: () => new Array<number>(LATENCY_BUCKETS_S.length + 1).fill(0),
    merge: sumEach,
    expose: (buckets, all) => {
      let cumulative = 0;
      const count = all.latencyCount as number;
      return [
        {
          name: "gnp_command_duration_seconds",
          type: "histogram",
          help: "Time from a complete request to its reply being queued.",
          samples: [
            ...LATENCY_BUCKETS_S.map((bound, i) => ["_bucket", (cumulative += buckets[i] ?? 0), { le: String(bound) }] as const),
            ["_bucket", count, { le: "+Inf" }],
            ["_sum", all.latencySum as number],
            ["_count", count],
          ],
        },
      ];
    },
  }),
  latencySum: total("counter", (server) => server.metrics.latencySum),
  latencyCount: total("counter", (server) => server.metrics.latencyCount),
  bytesIn: total("counter", (server) => server.metrics.bytesIn, { name: "gnp_received_bytes_total", help: "Bytes received from clients (decrypted application data)." }),
  bytesOut: total("counter", (server) => server.metrics.bytesOut, { name: "gnp_sent_bytes_total", help: "Bytes written to clients (application data, before TLS)." }),
  slotsInUse: total("gauge", (server) => server.stats().connections, { name: "gnp_slab_slots_in_use", help: "Connection slots in use, including handshakes in progress and connections closing." }),
  slotsCapacity: total("gauge", (server) => server.stats().capacity, { name: "gnp_slab_slots", help: "Connection slots allocated (--max-connections, per server process)." }),
  slabBytes: total("gauge", (server) => server.stats().slabBytes, { name: "gnp_slab_bytes", help: "Bytes of memory the connection slab has made: every slot's columns, and message buffers 128 slots at a time as slots are first used." }),
  certificateCacheHits: total("counter", (server) => server.stats().certificateCache.hits, { name: "gnp_certificate_cache_hits_total", help: "Client certificate validations answered from the cache." }),
  certificateCacheMisses: total("counter", (server) => server.stats().certificateCache.misses, { name: "gnp_certificate_cache_misses_total", help: "Client certificate validations that parsed the certificate." }),
  /** Certificates in the validation caches now (not exposed). */
  certificateCacheSize: total("gauge", (server) => server.stats().certificateCache.size),
  /** Resident memory of the process(es), bytes. */
  rssBytes: total("gauge", () => process.memoryUsage.rss(), { name: "process_resident_memory_bytes", help: "Resident memory of the server process(es), in bytes." }),
  /** User and system CPU of the process(es): a counter, so a replaced worker's part stays in the total. */
  cpuSeconds: total("counter", () => cpuSeconds(), { name: "process_cpu_seconds_total", help: "User and system CPU time spent by the server process(es), in seconds." }),
  watchesOpen: total("gauge", (_server, app) => app.watches, { name: "gnp_watches_open", help: "WATCH subscriptions open now." }),
  /**
   * The store's keys and bytes. Each worker's memory store is its own, so they add up; a shared
   * store (SQLite file, PostgreSQL) is the same one seen by every worker, so the largest count
   * (the freshest) stands. Unknown (null) without a store: the families then have no sample.
   */
  store: metric<StoreCounts | null>({
    kind: "gauge",
    read: (_server, app) => (app.store === undefined ? null : { ...app.store }),
    zero: () => null,
    merge: (a, b) => {
      if (a === null || b === null) return a ?? b;
      const combine = a.shared || b.shared ? Math.max : sum;
      return { keys: combine(a.keys, b.keys), bytes: combine(a.bytes, b.bytes), shared: a.shared || b.shared };
    },
    expose: (store) => [
      { name: "gnp_store_keys", type: "gauge", help: "Documents in the store, from its counters.", samples: store === null ? [] : [["", store.keys]] },
      { name: "gnp_store_bytes", type: "gauge", help: "Bytes of document values in the store, from its counters.", samples: store === null ? [] : [["", store.bytes]] },
    ],
  }),
  /** How many server processes were added up (1 for one process). */
  processes: total("gauge", () => 1),
};

/** This process's user and system CPU time, in seconds. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function sortedEntries<V>(record: Readonly<Record<string, V>>): [string, V][] {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
