// `gnp serve --workers N` (N > 1): this process becomes the supervisor. It checks the
// configuration and creates zero-config certificates once (so workers never race to write
// them), starts N copies of this same program as workers on one port, hosts the admin
// listener with every worker's metrics added up, and turns signals into worker actions:
// SIGTERM/SIGINT drain all and exit 0, SIGHUP replaces the workers one at a time.

import { resolveServeConfig, type ServeConfig } from "../config/serve-config.ts";
import { CliFailure } from "../io.ts";
import { AdminServer } from "../ops/admin-server.ts";
import { renderPrometheus, type LastReload } from "../ops/prometheus.ts";
import { Supervisor, WorkerStartFailure } from "../ops/supervisor.ts";
import { VERSION } from "../version.ts";
import { describe, formatHostPort } from "../wording.ts";
import { removePidFile, writePidFile, writeReloadStatus } from "./reload-status.ts";
import { ServeBanner } from "./banner.ts";
import { createServeLogger, type ServeProcess, type ShutdownSignals } from "./runtime.ts";
import { loadTls, trustConfigOf } from "./trust-loading.ts";

/** The command line that runs this program again with `args`: the compiled binary, or bun + script. */
export function selfCommand(args: readonly string[]): string[] {
  // A `bun build --compile` executable reports its entry inside Bun's embedded file system.
  const compiled = Bun.main.startsWith("/$bunfs/") || /^[A-Z]:[\\/]~BUN[\\/]/.test(Bun.main);
  return compiled ? [process.execPath, ...args] : [process.execPath, Bun.main, ...args];
}

/** Runs the supervisor until a signal; resolves with the exit code. */
export async function runSupervisor(config: ServeConfig, how: ServeProcess & { signals: ShutdownSignals }): Promise<number> {
  const { argv, io, env, signals } = how;
  const settings = config.settings;
  const logger = createServeLogger(settings.ops, { io, role: undefined });
  for (const warning of how.warnings ?? []) logger.warn("config warning", { message: warning });
  // Banner lines are plain text beside text logs; with JSON logs the events below say the same.
  const banner = new ServeBanner(io, logger);
  const tls = await loadTls(config, banner);
  const store = settings.store;
  if (store !== undefined && store.startsWith("memory:")) {
    logger.warn("each worker has its own memory store", { workers: settings.ops.workers, hint: "use sqlite:// or postgres:// so that every worker sees the same documents" });
  }
  const supervisor = new Supervisor({
    workers: settings.ops.workers,
    command: selfCommand(["serve", ...argv]),
    env,
    logger,
    shutdownTimeoutMs: settings.ops.shutdownTimeout * 1000,
  });
  let admin: AdminServer | undefined;
  let stopping: Promise<number> | undefined;
  let failure: number | undefined;
  const done = Promise.withResolvers<number>();
  const stop = (cause: NodeJS.Signals) => {
    if (stopping !== undefined) return stopping;
    admin?.markDraining();
    logger.info("shutting down", { cause, workers: supervisor.running, timeout_s: settings.ops.shutdownTimeout });
    banner.say(`${cause}: closing ${supervisor.running} workers; in-flight commands finish, then every connection gets ERR: server is shutting down\n`);
    stopping = supervisor.stop(cause);
    stopping.then((code) => done.resolve(failure ?? code));
    return stopping;
  };
  supervisor.failed.promise.then((code) => {
    failure = code;
    logger.error("a worker keeps failing; stopping", {});
    void stop("SIGTERM");
  });
  // Attached before any worker exists, so that a signal during start is forwarded too.
  signals.listen((signal) => void stop(signal));
  // SIGHUP (what `gnp reload` sends) is a rolling restart: new workers read the configuration
  // and certificates afresh. Its outcome goes to DATA/reload.json like a single server's reload.
  let attempt = 0;
  let generation = 1;
  let lastReload: LastReload = { atMs: Date.now(), ok: true };
  const publish = (status: { attempt: number; generation: number; ok: boolean; message: string; warnings?: readonly string[] }) => {
    try {
      writeReloadStatus(settings.dataDir, status);
    } catch (error) {
      logger.warn("cannot write reload status", { dir: settings.dataDir, message: describe(error) });
    }
  };
  /**
   * The checks a worker would make before it listens, made here first: a mistake in the new
   * configuration is refused with its own words, instead of "worker exited before listening".
   */
  const precheck = async (): Promise<{ problem: string } | { warnings: readonly string[] }> => {
    try {
      const next = resolveServeConfig(argv, { env });
      return { warnings: trustConfigOf(next, await loadTls(next, banner), { running: config }).warnings };
    } catch (error) {
      return { problem: describe(error) };
    }
  };
  process.on("SIGHUP", () => {
    logger.info("SIGHUP: rolling restart", { workers: supervisor.running });
    let warnings: readonly string[] = [];
    void precheck().then((checked) => {
      if ("problem" in checked) return { ok: false, message: checked.problem };
      warnings = checked.warnings;
      return supervisor.rollingRestart();
    }).then((outcome) => {
      attempt++;
      lastReload = { atMs: Date.now(), ok: outcome.ok };
      if (outcome.ok) {
        generation++;
        logger.info("reloaded", { cause: "SIGHUP", generation, changed: outcome.message });
        for (const warning of warnings) logger.warn("config warning", { message: warning });
      } else {
        logger.error("reload refused", { cause: "SIGHUP", reason: outcome.message, kept: `generation ${generation}` });
      }
      publish({ attempt, generation, ok: outcome.ok, message: outcome.ok ? `rolling restart: ${outcome.message}` : outcome.message, warnings: outcome.ok ? warnings : [] });
    });
  });

  if (stopping !== undefined) return finish(await done.promise); // signalled while preparing
  let port: number;
  try {
    port = await supervisor.start();
  } catch (error) {
    if (stopping !== undefined) return finish(await done.promise);
    await supervisor.stop("SIGTERM");
    // The worker printed its one-line reason on stderr already: a second line would only repeat it.
    if (error instanceof WorkerStartFailure) {
      logger.error("worker failed to start", { message: error.message });
      return error.exitCode;
    }
    throw error;
  }
  if (stopping !== undefined) return finish(await done.promise);

  if (settings.ops.admin !== undefined) {
    try {
      admin = AdminServer.start({
        ...settings.ops.admin,
        source: {
          readiness: async () => (await supervisor.collect()).readiness,
          metrics: async (state) => {
            const { snapshot } = await supervisor.collect();
            return renderPrometheus(snapshot, {
              nowMs: Date.now(),
              version: VERSION,
              ...state,
              workers: { running: supervisor.running, restarts: supervisor.restarts },
              reload: lastReload,
            });
          },
        },
      });
    } catch (error) {
      await supervisor.stop("SIGTERM");
      throw new CliFailure(describe(error));
    }
  }
  // Before the listening line, which a supervisor of ours (systemd, a test) may answer with a signal.
  try {
    writePidFile(settings.dataDir);
  } catch (error) {
    logger.warn("cannot write pid file", { dir: settings.dataDir, message: describe(error) });
  }
  publish({ attempt, generation, ok: true, message: "started" });
  const address = formatHostPort(settings.host, port);
  banner.say(`gnp listening on ${address} (mutual TLS; ${settings.ops.workers} workers, ${settings.maxConnections} connection slots each)\n`);
  if (admin !== undefined) banner.say(`admin on ${admin.url} (/healthz, /readyz, /metrics)\n`);
  if (tls.hint !== undefined) banner.say(tls.hint.replaceAll("PORT", String(port)));
  logger.info("listening", { address, workers: settings.ops.workers, pids: supervisor.pids.join(","), admin: admin?.url, pid: process.pid });

  return finish(await done.promise);

  async function finish(code: number): Promise<number> {
    try {
      removePidFile(settings.dataDir);
    } catch {
      // A stale pid file is detected by `gnp reload`; nothing to do about it at exit.
    }
    logger.info("stopped", { code });
    await admin?.stop();
    return code;
  }
}
