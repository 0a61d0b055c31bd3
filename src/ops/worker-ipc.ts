// What a supervisor and its workers say to each other over Bun's IPC channel (JSON), and the
// worker's side of it. A process is a worker when GNP_WORKER_ID is set; GNP_WORKER_PORT then
// gives the port the first worker bound, so `--port 0` still means one shared port. A worker
// whose channel closes (its supervisor died) shuts down instead of serving unsupervised.

import type { MetricsSnapshot } from "./metrics-snapshot.ts";
import type { Readiness } from "./admin-server.ts";

export const WORKER_ID_ENV = "GNP_WORKER_ID";
export const WORKER_PORT_ENV = "GNP_WORKER_PORT";

export type WorkerRole = { id: number; port: number | undefined };

/** Supervisor to worker. */
export type ToWorker = { type: "report"; id: number };
/** Worker to supervisor. */
export type FromWorker =
  | { type: "listening"; port: number }
  | { type: "report"; id: number; readiness: Readiness; snapshot: MetricsSnapshot };

/** The worker role from the environment, or undefined for a process on its own. */
export function workerRoleOf(env: Record<string, string | undefined>): WorkerRole | undefined {
  const id = Number(env[WORKER_ID_ENV]);
  if (!env[WORKER_ID_ENV] || !Number.isInteger(id) || id < 1) return undefined;
  const port = Number(env[WORKER_PORT_ENV]);
  return { id, port: env[WORKER_PORT_ENV] && Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined };
}

export type WorkerChannelOptions = {
  /** Answers the supervisor's report request (readiness and metrics of this worker). */
  report: () => { readiness: Readiness; snapshot: MetricsSnapshot } | Promise<{ readiness: Readiness; snapshot: MetricsSnapshot }>;
  /** Called once if the supervisor goes away: the worker should shut down gracefully. */
  onOrphaned: () => void;
};

/**
 * The worker's end: answers report requests and watches for the supervisor's death.
 * Returns `send` for the worker's own messages (a no-op without a channel).
 *
 * @example const channel = openWorkerChannel({ report, onOrphaned: () => stop("orphaned") });
 * channel.send({ type: "listening", port: server.port });
 */
export function openWorkerChannel(options: WorkerChannelOptions): { send: (message: FromWorker) => void } {
  const send = (message: FromWorker) => {
    // The channel may already be gone while the worker drains; a lost report is harmless.
    if (process.connected) process.send?.(message);
  };
  if (process.send === undefined) return { send };
  process.on("message", (message: ToWorker) => {
    // The store's counts may take a query (PostgreSQL): answered when they are in.
    if (message?.type === "report") void Promise.resolve(options.report()).then((report) => send({ type: "report", id: message.id, ...report }));
  });
  process.once("disconnect", () => options.onOrphaned());
  return { send };
}
