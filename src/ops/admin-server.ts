// The optional plain-HTTP admin listener (`--admin 127.0.0.1:9090`): /healthz answers 200
// while the process runs; /readyz 200 only while the server listens, its store is open and
// no shutdown has begun (503 from the first moment of one: markDraining() is synchronous);
// /metrics the Prometheus exposition. It serves operators on a private address, never clients.

import type { Server } from "bun";
import { GnpError } from "../errors.ts";
import { formatHostPort, systemReason } from "../wording.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./prometheus.ts";

export type Readiness = { ready: boolean; reason: string };

export type AdminSource = {
  /** Whether the server can take traffic (draining is checked before this is asked). */
  readiness: () => Readiness | Promise<Readiness>;
  /** The exposition text; `draining` and `ready` are passed so the gauges agree with /readyz. */
  metrics: (state: { ready: boolean; draining: boolean }) => string | Promise<string>;
};

export type AdminOptions = { host: string; port: number; source: AdminSource };

const TEXT = "text/plain; charset=utf-8";

/**
 * A running admin listener.
 *
 * @example
 * const admin = AdminServer.start({ host: "127.0.0.1", port: 9090, source });
 * process.on("SIGTERM", () => { admin.markDraining(); ... });
 */
export class AdminServer {
  readonly #server: Server<undefined>;
  readonly #source: AdminSource;
  #draining = false;

  private constructor(server: Server<undefined>, source: AdminSource) {
    this.#server = server;
    this.#source = source;
  }

  /** Binds the listener. Throws GnpError LISTEN_FAILED when the address cannot be bound. */
  static start(options: AdminOptions): AdminServer {
    let admin: AdminServer | undefined;
    let server: Server<undefined>;
    try {
      server = Bun.serve({
        hostname: options.host,
        port: options.port,
        // Probes and scrapes are tiny; a stuck scraper must not hold a socket for long.
        idleTimeout: 10,
        fetch: (request) => admin!.#handle(request),
        error: () => new Response("internal error\n", { status: 500, headers: { "content-type": TEXT } }),
      });
    } catch (error) {
      throw new GnpError("LISTEN_FAILED", `cannot listen on admin address ${formatHostPort(options.host, options.port)}: ${systemReason(error)}`, { cause: error });
    }
    admin = new AdminServer(server, options.source);
    return admin;
  }

  get port(): number {
    return this.#server.port ?? 0;
  }

  get url(): string {
    return `http://${formatHostPort(this.#server.hostname ?? "127.0.0.1", this.port)}`;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** From now on /readyz answers 503, so balancers stop sending before the listener closes. */
  markDraining(): void {
    this.#draining = true;
  }

  /** Closes the listener; in-flight probes are cut (the process is about to exit). */
  async stop(): Promise<void> {
    await this.#server.stop(true);
  }

  async #handle(request: Request): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD", "content-type": TEXT } });
    }
    const path = new URL(request.url).pathname;
    switch (path) {
      case "/healthz":
        return new Response("ok\n", { headers: { "content-type": TEXT, "cache-control": "no-store" } });
      case "/readyz": {
        const readiness = await this.#readiness();
        const body = readiness.ready ? "ready\n" : `not ready: ${readiness.reason}\n`;
        return new Response(body, { status: readiness.ready ? 200 : 503, headers: { "content-type": TEXT, "cache-control": "no-store" } });
      }
      case "/metrics": {
        const readiness = await this.#readiness();
        const text = await this.#source.metrics({ ready: readiness.ready, draining: this.#draining });
        return new Response(text, { headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" } });
      }
      default:
        return new Response("not found: try /healthz, /readyz or /metrics\n", { status: 404, headers: { "content-type": TEXT } });
    }
  }

  async #readiness(): Promise<Readiness> {
    if (this.#draining) return { ready: false, reason: "shutting down" };
    const readiness = await this.#source.readiness();
    // Asked again: a shutdown may have begun while the source was answering.
    return this.#draining ? { ready: false, reason: "shutting down" } : readiness;
  }
}
