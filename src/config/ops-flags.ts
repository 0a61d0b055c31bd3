// The production flags of `gnp serve` (admin listener, logging, shutdown deadline, workers),
// with their GNP_* twins, checked into plain values. serve-options.ts spreads OPS_FLAGS into
// its table and calls parseOpsSettings with its own flag-then-environment lookup, so the
// precedence and the one-line errors (exit 2) are those of every other serve flag.

import { availableParallelism } from "node:os";
import { DEFAULT_SHUTDOWN_TIMEOUT_S } from "../options.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "../ops/logger.ts";
import { CliFailure } from "../io.ts";

export const DEFAULT_WORKERS = 1;
/** More workers than this is a typo, not a deployment: each one holds its own slab. */
export const MAX_WORKERS = 256;

/** Flag table entries; `arg` names the value in --help. */
export const OPS_FLAGS = {
  admin: { type: "string", arg: "HOST:PORT", help: "serve /healthz, /readyz and /metrics over plain HTTP on this address (default: off)" },
  "log-format": { type: "string", arg: "text|json", help: "log line format (default: text when stdout is a terminal, else json)" },
  "log-level": { type: "string", arg: "LEVEL", help: "debug, info, warn or error (default info; debug adds every open and close)" },
  "shutdown-timeout": { type: "string", arg: "S", help: `seconds a graceful shutdown waits for in-flight commands before cutting connections (default ${DEFAULT_SHUTDOWN_TIMEOUT_S})` },
  workers: { type: "string", arg: "N|auto", help: `server processes sharing the port, each with its own slots; auto = one per core (default ${DEFAULT_WORKERS})` },
} as const;

export type OpsSettings = {
  admin: { host: string; port: number } | undefined;
  /** undefined: decided by whether stdout is a terminal (defaultLogFormat). */
  logFormat: LogFormat | undefined;
  logLevel: LogLevel;
  shutdownTimeout: number;
  workers: number;
};

/** Reads the ops flags through `pick` (flag, then GNP_* variable); throws CliFailure, exit 2. */
export function parseOpsSettings(pick: (name: keyof typeof OPS_FLAGS) => string | undefined): OpsSettings {
  return {
    admin: parseAdminAddress(pick("admin")),
    logFormat: parseLogFormat(pick("log-format")),
    logLevel: parseLogLevel(pick("log-level")),
    shutdownTimeout: parseShutdownTimeout(pick("shutdown-timeout")),
    workers: parseWorkers(pick("workers")),
  };
}

function parseAdminAddress(text: string | undefined): OpsSettings["admin"] {
  if (text === undefined) return undefined;
  // HOST:PORT, [v6]:PORT, or a bare PORT meaning 127.0.0.1 (never all interfaces by accident).
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new CliFailure(`invalid --admin ${JSON.stringify(text)}: expected HOST:PORT, e.g. 127.0.0.1:9090`, 2);
  }
  return { host: match[1] || match[2] || "127.0.0.1", port };
}

function parseLogFormat(text: string | undefined): LogFormat | undefined {
  if (text === undefined) return undefined;
  if (text === "text" || text === "json") return text;
  throw new CliFailure(`invalid --log-format ${JSON.stringify(text)}: expected text or json`, 2);
}

function parseLogLevel(text: string | undefined): LogLevel {
  if (text === undefined) return "info";
  const level = text.toLowerCase();
  if (level in LOG_LEVELS) return level as LogLevel;
  throw new CliFailure(`invalid --log-level ${JSON.stringify(text)}: expected debug, info, warn or error`, 2);
}

function parseShutdownTimeout(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SHUTDOWN_TIMEOUT_S;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0 || value > 86_400) {
    throw new CliFailure(`invalid --shutdown-timeout ${JSON.stringify(text)}: expected a number of seconds from 0 to 86400`, 2);
  }
  return value;
}

function parseWorkers(text: string | undefined): number {
  if (text === undefined) return DEFAULT_WORKERS;
  if (text === "auto") return Math.min(availableParallelism(), MAX_WORKERS);
  const value = Number(text);
  if (text.trim() === "" || !Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
    throw new CliFailure(`invalid --workers ${JSON.stringify(text)}: expected auto or a whole number from 1 to ${MAX_WORKERS}`, 2);
  }
  return value;
}
