// The reload side of a `gnp serve` process: SIGHUP (which `gnp reload` sends) reloads; every
// reload is logged as one line, `reloaded` or `reload refused` with the reason, and its outcome
// is published in DATA/reload.json beside DATA/gnp.pid so `gnp reload` can report it. Workers
// of --workers do none of it: pid file and signal belong to the process a user signals.

import type { Logger } from "../ops/logger.ts";
import type { LastReload } from "../ops/prometheus.ts";
import type { ReloadController, ReloadOutcome } from "./reload-controller.ts";
import { removePidFile, writePidFile, writeReloadStatus } from "./reload-status.ts";

export type Reloading = {
  /** Reloads and logs; `cause` says who asked ("SIGHUP"). Never rejects. */
  reload: (cause: string) => Promise<ReloadOutcome>;
  /** The last configuration load (the start, then each reload) and whether it applied, for /metrics. */
  last: () => LastReload;
  /** Removes the pid file and the SIGHUP handler; for shutdown. */
  close: () => void;
};

/**
 * Wires a ReloadController to the log and, with `dataDir`, to the pid and status files.
 *
 * @example const reloading = startReloading(controller, { logger, dataDir: settings.dataDir });
 */
export function startReloading(controller: ReloadController, where: { logger: Logger; dataDir: string | undefined }): Reloading {
  const { logger, dataDir } = where;
  let attempt = 0;
  let last: LastReload = { atMs: Date.now(), ok: true };
  const publish = (status: { attempt: number; generation: number; ok: boolean; message: string; warnings?: readonly string[] }) => {
    if (dataDir === undefined) return;
    try {
      writeReloadStatus(dataDir, status);
    } catch (error) {
      logger.warn("cannot write reload status", { dir: dataDir, message: (error as Error).message });
    }
  };
  const reload: Reloading["reload"] = async (cause) => {
    const outcome = await controller.reload();
    attempt++;
    last = { atMs: Date.now(), ok: outcome.ok };
    if (outcome.ok) {
      const changed = outcome.changed.length === 0 ? "nothing" : outcome.changed.join(", ");
      logger.info("reloaded", { cause, generation: outcome.generation, changed });
      for (const warning of outcome.warnings) logger.warn("config warning", { message: warning });
      publish({ attempt, generation: outcome.generation, ok: true, message: `changed: ${changed}`, warnings: outcome.warnings });
    } else {
      logger.error("reload refused", { cause, reason: outcome.reason, kept: `generation ${outcome.generation}` });
      publish({ attempt, generation: outcome.generation, ok: false, message: outcome.reason });
    }
    return outcome;
  };
  const onSignal = () => void reload("SIGHUP");
  if (dataDir !== undefined) {
    // Before the pid file exists: a SIGHUP that finds no handler would kill the process.
    process.on("SIGHUP", onSignal);
    try {
      writePidFile(dataDir);
    } catch (error) {
      // `gnp reload` will not find this server; SIGHUP by pid still works.
      logger.warn("cannot write pid file", { dir: dataDir, message: (error as Error).message });
    }
  }
  publish({ attempt, generation: controller.generation, ok: true, message: "started" });
  for (const warning of controller.current.warnings) logger.warn("config warning", { message: warning });
  return {
    reload,
    last: () => last,
    close: () => {
      if (dataDir === undefined) return;
      process.off("SIGHUP", onSignal);
      try {
        removePidFile(dataDir);
      } catch {
        // Nothing to do about it at exit; a stale pid file is detected by `gnp reload`.
      }
    },
  };
}
