// Which server events reach the log, at which level, with which fields. Every refused client
// is a warning with its reason code and text, remote address, certificate CN when it had one
// and both thumbprints (public digests, never key material); handler and socket errors are
// errors; an admission that carries a warning (a stale CRL served on) is a warning, once per
// warning per interval rather than once per connection, and so is a client certificate that
// expires within 7 days, once a day per certificate; opens and closes are debug, and their
// hooks are registered only when debug is on.

import { GnpError } from "../errors.ts";
import type { GnpServer } from "../server/server.ts";
import type { Logger } from "./logger.ts";

/** How often one admission warning is repeated while it lasts. */
const WARNING_INTERVAL_MS = 10 * 60_000;
/** A client certificate this close to its notAfter is worth a warning when it connects (once a day). */
export const CLIENT_EXPIRY_WARNING_DAYS = 7;
const DAY_MS = 86_400_000;
/** Warnings remembered at once; past it, the oldest is forgotten (and may be logged again). */
const REMEMBERED = 1024;

/** Says whether a key is due again: the first time, then once per interval. */
class OncePer {
  readonly #intervalMs: number;
  readonly #last = new Map<string, number>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  due(key: string, now: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return false;
    this.#last.delete(key);
    if (this.#last.size >= REMEMBERED) this.#last.delete(this.#last.keys().next().value!);
    this.#last.set(key, now);
    return true;
  }
}

/**
 * Sends a server's refuse, error, and (at debug) open and close events to `logger`.
 *
 * @example logServerEvents(server, new Logger({ format: "json", write: (l) => process.stderr.write(l) }));
 */
export function logServerEvents(server: GnpServer, logger: Logger): void {
  const admissionWarnings = new OncePer(WARNING_INTERVAL_MS);
  const expiring = new OncePer(DAY_MS);
  server.on("open", (connection) => {
    const certificate = connection.certificate;
    if (certificate === undefined) return;
    const now = Date.now();
    for (const warning of certificate.warnings ?? []) {
      if (admissionWarnings.due(warning, now)) logger.warn("admitted with a warning", { identity: connection.identity, warning });
    }
    const left = certificate.notAfter.getTime() - now;
    if (left < CLIENT_EXPIRY_WARNING_DAYS * DAY_MS && expiring.due(certificate.sha256, now)) {
      logger.warn("client certificate expires soon", {
        identity: connection.identity,
        not_after: certificate.notAfter.toISOString(),
        days: Math.max(0, Math.floor(left / DAY_MS)),
        ca: certificate.trustedCa,
        sha256: certificate.sha256,
      });
    }
  });
  server.on("refuse", (info) => {
    logger.warn("refused", {
      code: info.code,
      reason: info.reason,
      remote: info.remoteAddress,
      identity: info.identity,
      sha1: info.sha1,
      sha256: info.sha256,
      // A summary: this many more refusals of the code from the address since the first.
      repeated: info.repeated,
      sans: info.sans,
    });
  });
  server.on("error", (error, connection) => {
    logger.error("error", {
      // The message only: a stack is for a debugger, and a handler's message is its own words.
      message: error instanceof Error ? error.message : String(error),
      code: error instanceof GnpError ? error.code : undefined,
      type: error instanceof Error ? error.name : typeof error,
      identity: connection?.identity || undefined,
      remote: connection?.remoteAddress,
    });
  });
  if (!logger.enabled("debug")) return;
  server.on("open", (connection) => {
    logger.debug("open", {
      connection: connection.id,
      identity: connection.identity,
      remote: `${connection.remoteAddress}:${connection.remotePort}`,
      via: connection.certificate?.viaCa ? "ca" : "allow-list",
      sans: connection.certificate?.sans.join(", ") || undefined,
      sha256: connection.certificate?.sha256,
    });
  });
  server.on("close", (connection, info) => {
    logger.debug("close", {
      connection: connection.id,
      identity: connection.identity,
      remote: `${connection.remoteAddress}:${connection.remotePort}`,
      code: info?.code ?? "CLIENT_CLOSED",
      reason: info?.reason,
    });
  });
}
