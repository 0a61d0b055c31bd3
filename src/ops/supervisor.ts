// Runs N copies of the server as child processes on one port (SO_REUSEPORT: the kernel
// spreads connections across them), restarts one that exits unasked (with exponential
// backoff, giving up after repeated failures to start), replaces them one at a time on
// rolling restart, and on stop forwards the signal and waits for every worker, SIGKILLing
// what is left at the deadline. It spawns a given command; it knows nothing of flags or TLS.

import type { Subprocess } from "bun";
import type { Logger } from "./logger.ts";
import { emptySnapshot, mergeSnapshots, retiredPart, type MetricsSnapshot } from "./metrics-snapshot.ts";
import type { Readiness } from "./admin-server.ts";
import { WORKER_ID_ENV, WORKER_PORT_ENV, type FromWorker, type ToWorker } from "./worker-ipc.ts";

export const RESTART_BACKOFF_MS = { initial: 100, max: 5_000 } as const;
/** A worker that ran this long before exiting resets its slot's failure count. */
const STABLE_AFTER_MS = 10_000;
/** Consecutive failures of one slot (exits before STABLE_AFTER_MS) before the supervisor gives up. */
export const MAX_CONSECUTIVE_FAILURES = 8;
/** How long a report request waits for a worker that is busy or dying. */
const REPORT_TIMEOUT_MS = 2_000;
/** Grace on top of the shutdown timeout for a worker to exit before SIGKILL. */
const EXIT_GRACE_MS = 5_000;

export type SupervisorOptions = {
  workers: number;
  /** The worker's command line, e.g. [execPath, "serve", ...flags]. */
  command: string[];
  env: Record<string, string | undefined>;
  logger: Logger;
  /** The workers' own --shutdown-timeout, in ms: how long stop() expects them to drain. */
  shutdownTimeoutMs: number;
};

type WorkerReport = Extract<FromWorker, { type: "report" }>;

/** A worker exited before it listened while the supervisor was starting: nothing to serve with. */
export class WorkerStartFailure extends Error {
  readonly exitCode: number;
  constructor(slot: number, exit: { exitCode: number; signal: string | number | null }) {
    super(`worker ${slot} exited with ${exit.signal ?? `code ${exit.exitCode}`} before listening`);
    this.exitCode = exit.exitCode === 0 ? 1 : exit.exitCode;
  }
}

type Worker = {
  slot: number;
  /** A crash replacement: retried with backoff even if it dies before listening. */
  isReplacement: boolean;
  process: Subprocess<"ignore", "inherit", "inherit">;
  startedAt: number;
  listening: PromiseWithResolvers<number>;
  isListening: boolean;
  /** Asked to exit (stop or rolling restart): its exit is not a crash. */
  retiring: boolean;
  exited: Promise<number>;
  last: MetricsSnapshot | undefined;
};

/**
 * @example
 * const supervisor = new Supervisor({ workers: 2, command, env: process.env, logger, shutdownTimeoutMs: 10_000 });
 * const port = await supervisor.start();
 * process.on("SIGTERM", () => supervisor.stop("SIGTERM").then((code) => process.exit(code)));
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #workers = new Set<Worker>();
  readonly #failures: number[];
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #reports = new Map<number, { worker: Worker; resolve: (report: WorkerReport | undefined) => void }>();
  /** Counters of workers that are gone, so merged totals do not fall when one is replaced. */
  #retired: MetricsSnapshot;
  readonly startedAt = Date.now();
  #port: number | undefined;
  #stopping: Promise<number> | undefined;
  #rolling = false;
  #started = false;
  #nextReportId = 1;
  restarts = 0;
  /** Resolves with an exit code when the supervisor gives up on a slot that keeps failing. */
  readonly failed = Promise.withResolvers<number>();

  constructor(options: SupervisorOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError(`invalid workers ${options.workers}: expected a whole number from 1`);
    this.#options = options;
    this.#failures = new Array<number>(options.workers + 1).fill(0);
    this.#retired = emptySnapshot(this.startedAt);
  }

  /** The shared port, once the first worker listens. */
  get port(): number | undefined {
    return this.#port;
  }

  /** Workers running now (including one being replaced during a rolling restart). */
  get running(): number {
    return this.#workers.size;
  }

  get pids(): number[] {
    return [...this.#workers].map((worker) => worker.process.pid);
  }

  /**
   * Starts worker 1 and waits for its port, then the rest on that port. Resolves with the
   * port once all listen; rejects with the exit code of a worker that failed to start
   * (its own stderr already says why), after stopping the others.
   */
  async start(): Promise<number> {
    if (this.#stopping) throw new Error("the supervisor was stopped before it started");
    const first = this.#spawn(1);
    this.#port = await this.#untilListening(first);
    // Stopped while the first one started: spawn no more (stop() has its list of workers).
    if (this.#stopping) throw new Error("the supervisor was stopped while starting");
    const rest = Array.from({ length: this.#options.workers - 1 }, (_, i) => this.#spawn(i + 2));
    await Promise.all(rest.map((worker) => this.#untilListening(worker)));
    this.#started = true;
    return this.#port;
  }

  /** Forwards `signal` to every worker and waits for them; 0 when all exited cleanly. */
  stop(signal: NodeJS.Signals): Promise<number> {
    this.#stopping ??= this.#stopAll(signal);
    return this.#stopping;
  }

  /**
   * Replaces the workers one at a time: a new one starts and listens before the old one is
   * sent SIGTERM, so the port never goes unanswered. New workers read config and
   * certificates afresh. A replacement that fails to start ends the roll and keeps the old.
   */
  async rollingRestart(): Promise<{ ok: boolean; message: string }> {
    if (!this.#started) return { ok: false, message: "the workers are still starting" };
    if (this.#stopping) return { ok: false, message: "the supervisor is shutting down" };
    if (this.#rolling) return { ok: false, message: "a rolling restart is already running" };
    this.#rolling = true;
    try {
      const old = [...this.#workers].filter((worker) => !worker.retiring);
      for (const [i, worker] of old.entries()) {
        if (this.#stopping) return { ok: false, message: `shutdown began after ${i} of ${old.length} workers were replaced` };
        const replacement = this.#spawn(worker.slot, false);
        try {
          await this.#untilListening(replacement);
        } catch (error) {
          const message = `${(error as Error).message}; ${i} of ${old.length} workers were replaced, the others keep running`;
          this.#options.logger.error("rolling restart stopped", { slot: worker.slot, message });
          return { ok: false, message };
        }
        worker.retiring = true;
        worker.process.kill("SIGTERM");
        await worker.exited;
      }
      this.#options.logger.info("rolling restart done", { workers: this.#workers.size });
      return { ok: true, message: `${old.length} workers replaced` };
    } finally {
      this.#rolling = false;
    }
  }

  /** Asks every listening worker for readiness and metrics; merges what answers in time. */
  async collect(): Promise<{ readiness: Readiness; snapshot: MetricsSnapshot }> {
    const live = [...this.#workers].filter((worker) => worker.isListening && !worker.retiring);
    const reports = await Promise.all(live.map((worker) => this.#report(worker)));
    const snapshots: MetricsSnapshot[] = [this.#retired];
    let ready = 0;
    for (const [i, report] of reports.entries()) {
      if (report === undefined) continue;
      live[i]!.last = report.snapshot;
      snapshots.push(report.snapshot);
      if (report.readiness.ready) ready++;
    }
    const readiness: Readiness =
      ready > 0 ? { ready: true, reason: `${ready} of ${this.#options.workers} workers ready` } : { ready: false, reason: `no worker ready (${live.length} listening)` };
    return { readiness, snapshot: mergeSnapshots(snapshots, this.startedAt) };
  }

  #spawn(slot: number, isReplacement = false): Worker {
    const env = { ...this.#options.env, [WORKER_ID_ENV]: String(slot) } as Record<string, string | undefined>;
    if (this.#port !== undefined) env[WORKER_PORT_ENV] = String(this.#port);
    else delete env[WORKER_PORT_ENV];
    const listening = Promise.withResolvers<number>();
    listening.promise.catch(() => {}); // observed by #untilListening; a crash later must not be unhandled
    let worker: Worker;
    const child = Bun.spawn(this.#options.command, {
      env,
      stdio: ["ignore", "inherit", "inherit"],
      serialization: "json",
      ipc: (message: FromWorker) => this.#onMessage(worker, message),
    });
    worker = { slot, isReplacement, process: child, startedAt: Date.now(), listening, isListening: false, retiring: false, exited: child.exited, last: undefined };
    this.#workers.add(worker);
    this.#options.logger.info("worker started", { slot, pid: child.pid });
    child.exited.then((code) => this.#onExit(worker, code));
    return worker;
  }

  #onMessage(worker: Worker, message: FromWorker): void {
    if (message?.type === "listening") {
      worker.isListening = true;
      this.#options.logger.info("worker listening", { slot: worker.slot, pid: worker.process.pid, port: message.port });
      worker.listening.resolve(message.port);
    } else if (message?.type === "report") {
      this.#reports.get(message.id)?.resolve(message);
    }
  }

  async #untilListening(worker: Worker): Promise<number> {
    return worker.listening.promise;
  }

  #onExit(worker: Worker, code: number): void {
    this.#workers.delete(worker);
    this.#retire(worker);
    const signal = worker.process.signalCode;
    const ranMs = Date.now() - worker.startedAt;
    const fields = { slot: worker.slot, pid: worker.process.pid, code, signal: signal ?? undefined, ran_ms: ranMs };
    worker.listening.reject(new WorkerStartFailure(worker.slot, { exitCode: code, signal }));
    for (const pending of this.#reports.values()) if (pending.worker === worker) pending.resolve(undefined);
    if (worker.retiring || this.#stopping) {
      this.#options.logger.info("worker exited", fields);
      return;
    }
    this.#options.logger.warn("worker exited unexpectedly", fields);
    // Still starting (start() reports it), or a rolling replacement that never listened (the roll reports it).
    if (!this.#started || !(worker.isListening || worker.isReplacement)) return;
    const failures = ranMs >= STABLE_AFTER_MS && worker.isListening ? 1 : this.#failures[worker.slot]! + 1;
    this.#failures[worker.slot] = failures;
    if (failures > MAX_CONSECUTIVE_FAILURES) {
      // A replacement that keeps failing (say, a typo in gnp.toml since the last start) must not
      // take the healthy workers down with it: give up on this slot only, while others serve.
      const serving = [...this.#workers].some((other) => other.isListening && !other.retiring);
      if (serving) {
        this.#options.logger.error("giving up on this worker slot; the other workers keep serving", { slot: worker.slot, failures });
        return;
      }
      this.#options.logger.error("giving up on worker", { slot: worker.slot, failures });
      this.failed.resolve(1);
      return;
    }
    const delay = Math.min(RESTART_BACKOFF_MS.initial * 2 ** (failures - 1), RESTART_BACKOFF_MS.max);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#stopping) return;
      this.restarts++;
      const replacement = this.#spawn(worker.slot, true);
      // A replacement that listens has proven itself only once it stays up: see STABLE_AFTER_MS.
      replacement.listening.promise.then(() => this.#options.logger.info("worker restarted", { slot: worker.slot, pid: replacement.process.pid }), () => {});
    }, delay);
    this.#timers.add(timer);
  }

  /** Keeps a gone worker's counters (from its last report), with its gauges zeroed. */
  #retire(worker: Worker): void {
    const last = worker.last;
    if (last === undefined) return;
    this.#retired = mergeSnapshots([this.#retired, retiredPart(last, this.startedAt)], this.startedAt);
  }

  #report(worker: Worker): Promise<WorkerReport | undefined> {
    const id = this.#nextReportId++;
    const { promise, resolve } = Promise.withResolvers<WorkerReport | undefined>();
    const timer = setTimeout(() => resolve(undefined), REPORT_TIMEOUT_MS);
    this.#reports.set(id, { worker, resolve });
    try {
      worker.process.send({ type: "report", id } satisfies ToWorker);
    } catch {
      resolve(undefined);
    }
    return promise.finally(() => {
      clearTimeout(timer);
      this.#reports.delete(id);
    });
  }

  async #stopAll(signal: NodeJS.Signals): Promise<number> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const workers = [...this.#workers];
    for (const worker of workers) {
      worker.retiring = true;
      worker.process.kill(signal);
    }
    const deadline = Promise.withResolvers<"deadline">();
    const timer = setTimeout(() => deadline.resolve("deadline"), this.#options.shutdownTimeoutMs + EXIT_GRACE_MS);
    const all = Promise.all(workers.map((worker) => worker.exited));
    const outcome = await Promise.race([all, deadline.promise]);
    clearTimeout(timer);
    let clean = outcome !== "deadline";
    if (!clean) {
      for (const worker of this.#workers) {
        this.#options.logger.error("worker did not exit in time; killing it", { slot: worker.slot, pid: worker.process.pid });
        worker.process.kill("SIGKILL");
      }
      await all;
    }
    // A worker counts as clean when it exited 0, or died of the very signal it was sent.
    for (const worker of workers) {
      const code = worker.process.exitCode;
      if (code !== 0 && worker.process.signalCode !== signal) clean = false;
    }
    return clean ? 0 : 1;
  }
}
