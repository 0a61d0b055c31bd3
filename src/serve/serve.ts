// A `gnp serve` process from its configuration to its exit code: one server (the store, the
// app and the reloader around it) that runs until a signal, or, with --workers above 1, the
// supervisor of that many copies of this program. With no certificate settings it creates
// (once) a local CA, server and admin client certificate under DATA/pki and prints how to
// connect; with explicit certificates it creates nothing.

import { resolveServeConfig, admissionSettings, type ServeConfig } from "../config/serve-config.ts";
import { GnpError } from "../errors.ts";
import { CliFailure } from "../io.ts";
import type { AppMetrics, StoreCounts } from "../ops/metrics-table.ts";
import { logServerEvents } from "../ops/server-log.ts";
import { WORKER_ID_ENV, WORKER_PORT_ENV, workerRoleOf } from "../ops/worker-ipc.ts";
import { describe, formatHostPort, systemReason } from "../wording.ts";
import { pollFiles } from "./file-polling.ts";
import { ServeBanner } from "./banner.ts";
import { DataDirLock } from "./data-lock.ts";
import { prepareServer } from "./prepare.ts";
import { startReloading } from "./reloading.ts";
import { createServeLogger, serveUntilSignal, ShutdownSignals, type RunningServer, type ServeProcess } from "./runtime.ts";
import { loadTls, trustConfigOf } from "./trust-loading.ts";

/** Variables the program sets for itself: a supervisor tells its workers who they are. */
export const INTERNAL_VARIABLES: readonly string[] = [WORKER_ID_ENV, WORKER_PORT_ENV];

/**
 * Serves `config` until a signal and resolves with the exit code.
 *
 * @example process.exit(await serve(resolveServeConfig(argv, { env: process.env }), { argv, io: processIo, env: process.env }));
 */
export async function serve(config: ServeConfig, how: ServeProcess): Promise<number> {
  // Caught from now on: the listening line is printed before this function returns, and a
  // signal that finds no handler kills the process outright.
  const signals = new ShutdownSignals();
  const settings = config.settings;
  const worker = workerRoleOf(how.env);
  // The process a user signals holds the data directory; its workers share it.
  const lock = worker === undefined ? await lockDataDir(settings.dataDir) : undefined;
  try {
    if (settings.ops.workers > 1 && worker === undefined) {
      if (settings.ops.admin !== undefined) probeAdminAddress(settings.ops.admin);
      return await (await import("./supervise.ts")).runSupervisor(config, { ...how, signals });
    }
    const running = await startServing(config, how);
    return await serveUntilSignal(running, { io: how.io, signals, env: how.env });
  } finally {
    lock?.release();
  }
}

/**
 * Takes the data directory's lock, or fails in one line when another server holds it. A lock
 * that cannot even be made (a read-only or foreign directory) does not stop the start: the
 * certificates or the pid file then report that directory in their own words.
 */
async function lockDataDir(dataDir: string): Promise<DataDirLock | undefined> {
  try {
    return await DataDirLock.acquire(dataDir);
  } catch (error) {
    if (error instanceof GnpError && error.code === "DATA_DIR_IN_USE") throw new CliFailure(error.message);
    return undefined;
  }
}

/** Starts one server from `config`. Resolves once it listens. */
export async function startServing(config: ServeConfig, how: ServeProcess): Promise<RunningServer> {
  const { io, env } = how;
  const settings = admissionSettings(config);
  // A worker of `--workers N` shares the supervisor's port (SO_REUSEPORT) and prints no banner.
  const worker = workerRoleOf(env);
  const logger = createServeLogger(settings.ops, { io, role: worker });
  if (worker === undefined) for (const warning of how.warnings ?? []) logger.warn("config warning", { message: warning });
  const banner = new ServeBanner(io, logger);
  const { server, store, tls, reloader, added, watchesOpen } = await prepareServer(config, {
    banner,
    mode: "serve",
    worker,
    reloadWith: (server) => async () => {
      const next = resolveServeConfig(how.argv, { env });
      const nextTrust = trustConfigOf(next, await loadTls(next, banner), { running: config });
      next.clients.checkCommands(server.commands, next.file?.path ?? "config");
      return nextTrust;
    },
  });
  if (settings.handlersFile !== undefined) {
    banner.say(`loaded ${added.length} command(s) from ${settings.handlersFile}: ${added.join(", ")}\n`, {
      event: "handlers loaded",
      fields: { file: settings.handlersFile, commands: added.join(",") },
    });
  }
  logServerEvents(server, logger);
  if (worker === undefined && settings.ops.admin !== undefined) probeAdminAddress(settings.ops.admin);
  try {
    await server.listen();
  } catch (error) {
    await store.close();
    throw new CliFailure(error instanceof GnpError ? error.message : describe(error));
  }
  // The pid and reload-status files belong to the process a user signals, not to a worker.
  // Written before the listening line, which a supervisor may answer with a signal at once.
  const reloading = startReloading(reloader, { logger, dataDir: worker === undefined ? settings.dataDir : undefined });
  // CRLs are rewritten by cron jobs and sidecars, Secrets by kubelet: a change needs no signal.
  const polling = pollFiles(() => reloader.current.files, {
    intervalMs: settings.pollInterval * 1000,
    reload: (changed) => reloading.reload(`file changed: ${changed.join(", ")}`),
  });
  // With JSON logs the `listening` event of serveUntilSignal says this.
  if (worker === undefined) {
    banner.say(`gnp listening on ${formatHostPort(settings.host, server.port)} (mutual TLS; ${settings.maxConnections} connection slots)\n`);
    if (tls.hint !== undefined) banner.say(tls.hint.replaceAll("PORT", String(server.port)));
  }
  let storeOpen = true;
  const stop = async () => {
    polling.close();
    reloading.close();
    await server.close();
    storeOpen = false;
    await store.close();
  };
  const appMetrics = async (): Promise<AppMetrics> => {
    let counts: StoreCounts | undefined;
    try {
      const info = await store.info();
      // A memory store is each process's own; a file or a database is shared by every worker.
      counts = { keys: info.keys, bytes: info.bytes, shared: info.kind !== "memory" };
    } catch {
      // Closed while draining, or the database away: the families go without a sample.
    }
    return { watches: watchesOpen(), store: counts };
  };
  return { server, stop, logger, settings, isStoreOpen: () => storeOpen, reload: reloading.reload, lastReload: reloading.last, appMetrics };
}

/**
 * Fails before anything listens when the admin address cannot be bound: the admin listener
 * itself starts after the server (it reports on it), and a mistake found then would leave the
 * TLS port open for a moment.
 */
function probeAdminAddress(admin: { host: string; port: number }): void {
  if (admin.port === 0) return;
  try {
    Bun.listen({ hostname: admin.host, port: admin.port, socket: { data() {} } }).stop(true);
  } catch (error) {
    throw new CliFailure(`cannot listen on admin address ${formatHostPort(admin.host, admin.port)}: ${systemReason(error)}`);
  }
}
