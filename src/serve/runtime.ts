// A started `gnp serve` process from listening to exit: the logger, the admin listener,
// signals, and (as a worker) the channel to its supervisor. SIGTERM and SIGINT drain
// gracefully within --shutdown-timeout and exit 0; /readyz turns 503 before anything else
// happens. SIGHUP reloads the configuration in place (trust, clients, certificate); under a
// supervisor it is the supervisor's signal (a rolling restart).

import type { OpsSettings, ServeSettings } from "../config/serve-flags.ts";
import { CliFailure, processIo, type CliIo } from "../io.ts";
import { AdminServer, type AdminSource, type Readiness } from "../ops/admin-server.ts";
import { defaultLogFormat, Logger } from "../ops/logger.ts";
import { takeSnapshot } from "../ops/metrics-snapshot.ts";
import type { AppMetrics } from "../ops/metrics-table.ts";
import { renderPrometheus, type LastReload } from "../ops/prometheus.ts";
import { openWorkerChannel, workerRoleOf, type WorkerRole } from "../ops/worker-ipc.ts";
import type { GnpServer } from "../server/server.ts";
import { VERSION } from "../version.ts";
import { describe, formatHostPort } from "../wording.ts";
import { ServeBanner } from "./banner.ts";
import { MemoryReducer } from "./memory-reducer.ts";
import type { ReloadOutcome } from "./reload-controller.ts";

/** Where a process's configuration came from, so that a reload or a worker can read it again. */
export type ServeProcess = {
  /** The command line after `serve`: workers are started with it, a reload re-reads it. */
  argv: readonly string[];
  io: CliIo;
  env: Record<string, string | undefined>;
  /** Said once at start as `config warning` lines (unknown GNP_* variables); not by workers. */
  warnings?: readonly string[] | undefined;
};

/** A started `gnp serve` process, as startServing (serve.ts) hands it over. */
export type RunningServer = {
  server: GnpServer;
  stop: () => Promise<void>;
  logger: Logger;
  settings: ServeSettings;
  /** False once stop() closed the store: /readyz then answers 503. */
  isStoreOpen: () => boolean;
  /** Re-reads the configuration (trust, clients, certificate) and applies it, or keeps the old (reload-controller.ts). */
  reload: (cause: string) => Promise<ReloadOutcome>;
  /** The last configuration load and whether it applied. */
  lastReload: () => LastReload;
  /** What the app and the store add to the server's metrics, read now. */
  appMetrics: () => Promise<AppMetrics>;
};

/**
 * The process's logger: lines go to stdout, text on a terminal and JSON otherwise unless
 * --log-format says; a worker's lines carry its number.
 */
export function createServeLogger(ops: OpsSettings, to: { io: CliIo; role: WorkerRole | undefined }): Logger {
  const { io, role } = to;
  const isTty = io === processIo && process.stdout.isTTY === true;
  return new Logger({
    level: ops.logLevel,
    format: ops.logFormat ?? defaultLogFormat(isTty),
    write: (line) => io.stdout(line),
    ...(role ? { base: { worker: role.id } } : {}),
  });
}

/** Readiness of one server process: listening, its store open (draining is the admin's own check). */
export function serverReadiness(server: GnpServer, isStoreOpen: () => boolean): Readiness {
  if (!server.isListening) return { ready: false, reason: "not listening" };
  if (!isStoreOpen()) return { ready: false, reason: "store is closed" };
  return { ready: true, reason: "listening" };
}

/** The admin source of one server process. */
export function serverAdminSource(running: Pick<RunningServer, "server" | "isStoreOpen"> & Partial<Pick<RunningServer, "appMetrics" | "lastReload">>): AdminSource {
  const { server, isStoreOpen } = running;
  return {
    readiness: () => serverReadiness(server, isStoreOpen),
    metrics: async (state) =>
      renderPrometheus(takeSnapshot(server, running.appMetrics === undefined ? undefined : await running.appMetrics()), {
        nowMs: Date.now(),
        version: VERSION,
        ...state,
        reload: running.lastReload?.(),
      }),
  };
}

/**
 * Catches SIGINT and SIGTERM from the moment it is made, keeping the first one until a
 * listener is attached. Made before the server starts: a signal that finds no handler kills
 * the process at once, and a supervisor may signal the moment it sees the listening line.
 */
export class ShutdownSignals {
  #first: NodeJS.Signals | undefined;
  #listener: ((signal: NodeJS.Signals) => void) | undefined;
  readonly #onSignal = (signal: NodeJS.Signals) => {
    if (this.#listener !== undefined) this.#listener(signal);
    else this.#first ??= signal;
  };

  constructor() {
    process.on("SIGINT", this.#onSignal);
    process.on("SIGTERM", this.#onSignal);
  }

  /** Attaches the listener; a signal that came earlier is delivered now. */
  listen(listener: (signal: NodeJS.Signals) => void): void {
    this.#listener = listener;
    if (this.#first !== undefined) listener(this.#first);
  }

  release(): void {
    process.off("SIGINT", this.#onSignal);
    process.off("SIGTERM", this.#onSignal);
  }
}

/** Runs a started server until a signal (or its supervisor's death), then drains it. Resolves with the exit code. */
export async function serveUntilSignal(
  running: RunningServer,
  how: { io: CliIo; signals?: ShutdownSignals; env?: Record<string, string | undefined> },
): Promise<number> {
  const { io, signals = new ShutdownSignals(), env = process.env } = how;
  const { server, logger, settings } = running;
  const banner = new ServeBanner(io, logger);
  const role = workerRoleOf(env);
  const { promise: exited, resolve: exit } = Promise.withResolvers<number>();
  let admin: AdminServer | undefined;
  let stopping = false;

  // After a busy stretch, when the server has gone quiet, one collection gives back its garbage.
  const reducer = new MemoryReducer(server.metrics, {
    collect: () => {
      const [before, started] = [process.memoryUsage.rss(), performance.now()];
      Bun.gc(true);
      logger.debug("memory collected after a busy stretch", { rss_before: before, rss_after: process.memoryUsage.rss(), gc_ms: Math.round(performance.now() - started) });
    },
  });

  const shutdown = (cause: string) => {
    if (stopping) return;
    stopping = true;
    reducer.stop();
    // First, before anything else: balancers polling /readyz stop sending new clients.
    admin?.markDraining();
    const stats = server.stats();
    logger.info("shutting down", { cause, connections: stats.connections, timeout_s: settings.ops.shutdownTimeout });
    if (role === undefined) banner.say(`${cause}: closing; in-flight commands finish, then every connection gets ERR: server is shutting down\n`);
    const started = performance.now();
    running.stop().then(
      async () => {
        const ms = Math.round(performance.now() - started);
        // close() cuts what is left at the deadline; it does not say so, but the clock does.
        if (ms >= settings.ops.shutdownTimeout * 1000) logger.warn("shutdown deadline reached; remaining connections were cut", { shutdown_ms: ms });
        logger.info("stopped", { shutdown_ms: ms, commands: server.metrics.commandsServed });
        await admin?.stop();
        exit(0);
      },
      async (error) => {
        logger.error("shutdown failed", { message: describe(error) });
        io.stderr(`gnp: shutdown failed: ${describe(error)}\n`);
        await admin?.stop();
        exit(1);
      },
    );
  };
  // A lone server reloads on SIGHUP; its handler is installed before the listening line
  // (reloading.ts), since a signal that finds no handler kills the process. A worker
  // ignores it: its supervisor's SIGHUP is a rolling restart.
  if (role !== undefined) process.on("SIGHUP", () => logger.info("SIGHUP ignored", { why: "the supervisor restarts workers" }));

  if (role === undefined && settings.ops.admin !== undefined) {
    try {
      admin = AdminServer.start({ ...settings.ops.admin, source: serverAdminSource(running) });
    } catch (error) {
      await running.stop();
      throw new CliFailure(describe(error));
    }
    banner.say(`admin on ${admin.url} (/healthz, /readyz, /metrics)\n`);
  }
  logger.info("listening", {
    address: formatHostPort(server.hostname, server.port),
    slots: server.options.maxConnections,
    admin: admin?.url,
    pid: process.pid,
  });
  // Attached only now, so that an early signal still finds the admin listener to mark draining.
  signals.listen(shutdown);
  if (role !== undefined) {
    const channel = openWorkerChannel({
      report: async () => ({ readiness: serverReadiness(server, running.isStoreOpen), snapshot: takeSnapshot(server, await running.appMetrics()) }),
      onOrphaned: () => shutdown("supervisor exited"),
    });
    channel.send({ type: "listening", port: server.port });
  }
  return exited;
}
