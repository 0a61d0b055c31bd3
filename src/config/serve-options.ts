// `gnp serve` flags and their GNP_* environment twins, parsed with util.parseArgs and
// checked into plain values. Precedence: flag, then environment, then the settings file
// (serve-config.ts), then default. Files are
// read here too, so a missing or unreadable file is one clear line before anything listens.

import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { CliFailure, flagsFailure } from "../io.ts";
import { systemReason } from "../wording.ts";
import { OPS_FLAGS, parseOpsSettings, type OpsSettings } from "./ops-flags.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_S,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT_S,
  DEFAULT_MAX_BODY,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_OUTPUT,
  DEFAULT_PORT,
  MAX_CONNECTIONS,
} from "../options.ts";

export const DEFAULT_DATA_DIR = ".gnp";

/** Every flag of `gnp serve`, with its help text. The README's table is made from the same words. */
export const SERVE_FLAGS = {
  host: { type: "string", help: `address to listen on (default ${DEFAULT_HOST}; 0.0.0.0 for all interfaces)` },
  port: { type: "string", help: `TCP port (default ${DEFAULT_PORT}; 0 picks a free one)` },
  cert: { type: "string", help: "server certificate chain, PEM file (default: created under --data)" },
  key: { type: "string", help: "server private key, PEM file (goes with --cert)" },
  ca: { type: "string", multiple: true, help: "trust client certificates issued by this CA, PEM file (repeatable)" },
  allow: { type: "string", multiple: true, help: "admit the client certificate with this SHA-1 or SHA-256 thumbprint (repeatable)" },
  data: { type: "string", help: `data directory (default ${DEFAULT_DATA_DIR}); first-run certificates go to DATA/pki` },
  store: { type: "string", help: "where documents live: sqlite://PATH (default DATA/gnp.db; ?sync=normal trades durability for speed), postgres://USER@HOST/DB, or memory:" },
  handlers: { type: "string", help: "a TypeScript/JavaScript module of your own command handlers, loaded at start" },
  "max-connections": { type: "string", help: `connection slots, 8 KiB each (default ${DEFAULT_MAX_CONNECTIONS})` },
  "max-body": { type: "string", help: `largest request body in bytes (default ${DEFAULT_MAX_BODY})` },
  "max-output": { type: "string", help: `unsent bytes per connection before a client that does not read is cut off (default ${DEFAULT_MAX_OUTPUT})` },
  "idle-timeout": { type: "string", help: `seconds without traffic before a connection is closed, 0 = never (default ${DEFAULT_IDLE_TIMEOUT_S})` },
  "handshake-timeout": { type: "string", help: `seconds for the TLS handshake (default ${DEFAULT_HANDSHAKE_TIMEOUT_S})` },
  ...OPS_FLAGS,
  config: { type: "string", arg: "FILE", help: "settings file, TOML, keys named as these flags (default: gnp.toml in the working directory, if any)" },
  "print-config": { type: "boolean", help: "print the settings in effect and where each came from (flag, env, file, default), then exit" },
  help: { type: "boolean", short: "h", help: "show this help" },
} as const;

export type ServeSettings = {
  host: string;
  port: number;
  certFile: string | undefined;
  keyFile: string | undefined;
  caFiles: string[];
  allow: string[];
  dataDir: string;
  store: string | undefined;
  handlersFile: string | undefined;
  maxConnections: number;
  maxBody: number;
  maxOutput: number;
  idleTimeout: number;
  handshakeTimeout: number;
  /** --admin, --log-format, --log-level, --shutdown-timeout, --workers (ops-flags.ts). */
  ops: OpsSettings;
  help: boolean;
};

type Env = Record<string, string | undefined>;

/**
 * Parses argv, the environment and the settings file's values (flag name to flag text, from
 * serve-config.ts) into settings. Throws CliFailure with one line on a mistake.
 */
export function parseServeArgs(argv: string[], env: Env = process.env, file: Readonly<Record<string, string | string[]>> = {}): ServeSettings {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    const options = Object.fromEntries(
      Object.entries(SERVE_FLAGS).map(([name, flag]) => [name, { type: flag.type, multiple: "multiple" in flag, ...("short" in flag ? { short: flag.short } : {}) }]),
    );
    ({ values } = parseArgs({ args: argv, options: options as never, strict: true, allowPositionals: false }));
  } catch (error) {
    throw flagsFailure("serve", error, argv);
  }
  const pick = (name: string): string | undefined => {
    const value = values[name];
    if (typeof value === "string") return value;
    const fromEnv = env[`GNP_${name.toUpperCase().replaceAll("-", "_")}`];
    if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
    const fromFile = file[name];
    return typeof fromFile === "string" ? fromFile : undefined;
  };
  const list = (name: string): string[] => {
    const value = values[name];
    if (Array.isArray(value) && value.length > 0) return value;
    const fromEnv = env[`GNP_${name.toUpperCase()}`];
    if (fromEnv) return fromEnv.split(",").map((item) => item.trim()).filter(Boolean);
    const fromFile = file[name];
    return Array.isArray(fromFile) ? [...fromFile] : [];
  };
  return {
    host: pick("host") ?? DEFAULT_HOST,
    port: number("port", pick("port"), DEFAULT_PORT, 0, 65535, true),
    certFile: pick("cert"),
    keyFile: pick("key"),
    caFiles: list("ca"),
    allow: list("allow"),
    dataDir: pick("data") ?? DEFAULT_DATA_DIR,
    store: pick("store"),
    handlersFile: pick("handlers"),
    maxConnections: number("max-connections", pick("max-connections"), DEFAULT_MAX_CONNECTIONS, 1, MAX_CONNECTIONS, true),
    maxBody: number("max-body", pick("max-body"), DEFAULT_MAX_BODY, 0, 2 ** 31 - 1, true),
    maxOutput: number("max-output", pick("max-output"), DEFAULT_MAX_OUTPUT, 1024, 2 ** 40, true),
    idleTimeout: number("idle-timeout", pick("idle-timeout"), DEFAULT_IDLE_TIMEOUT_S, 0, 2_000_000, false),
    handshakeTimeout: number("handshake-timeout", pick("handshake-timeout"), DEFAULT_HANDSHAKE_TIMEOUT_S, 0.001, 2_000_000, false),
    ops: parseOpsSettings(pick),
    help: values.help === true,
  };
}

function number(name: string, text: string | undefined, fallback: number, min: number, max: number, whole: boolean): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || (whole && !Number.isInteger(value)) || value < min || value > max) {
    const kind = whole ? "a whole number" : "a number";
    throw new CliFailure(`invalid --${name} ${JSON.stringify(text)}: expected ${kind} from ${min} to ${max}`, 2);
  }
  return value;
}

/** Reads a PEM file named by a flag; a missing or unreadable file is one line. */
export function readPemFile(flag: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CliFailure(`cannot read --${flag} ${path}: ${systemReason(error)}`);
  }
  if (!text.includes("-----BEGIN ")) throw new CliFailure(`--${flag} ${path} is not a PEM file`);
  return text;
}

export function serveUsage(): string {
  const lines = Object.entries(SERVE_FLAGS).map(([name, flag]) => {
    const arg = "arg" in flag ? ` ${flag.arg}` : flag.type === "string" ? ` ${name === "ca" || name === "cert" || name === "key" ? "FILE" : name === "allow" ? "THUMBPRINT" : name === "data" ? "DIR" : name === "store" ? "URL" : name === "handlers" ? "FILE" : name === "host" ? "ADDRESS" : "N"}` : "";
    return `  --${name}${arg}`.padEnd(30) + flag.help;
  });
  return `usage: gnp serve [flags]\n\nEvery flag also reads from GNP_<FLAG> in the environment (GNP_MAX_BODY, ...; lists comma-separated).\n\n${lines.join("\n")}\n`;
}
