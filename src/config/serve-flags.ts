// The flags of `gnp serve`, as one table: each flag's value name, default, GNP_* variable and
// gnp.toml key, how its text becomes a value (ranges from options.ts) and its help. The flags
// module (flags.ts) reads them from the command line, the environment and the settings file;
// serveSettingsOf gives the values the shape the running process (src/serve/) uses.

import { availableParallelism } from "node:os";
import { normalizeAllowEntry } from "../certs/thumbprint.ts";
import { DEFAULT_MAX_CHAIN_DEPTH, DEFAULT_MAX_PRESENTED_CERTIFICATES } from "../certs/trust-policy.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "../ops/logger.ts";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_S,
  DEFAULT_HOST,
  DEFAULT_IDLE_TIMEOUT_S,
  DEFAULT_MAX_BODY,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_HANDSHAKES,
  DEFAULT_MAX_HANDSHAKES_PER_ADDRESS,
  DEFAULT_MAX_OUTPUT,
  DEFAULT_PORT,
  DEFAULT_REQUEST_TIMEOUT_S,
  DEFAULT_SHUTDOWN_TIMEOUT_S,
  DEFAULT_WORKERS,
  LIMITS,
  expectedBy,
} from "../options.ts";
import { flagHelp, numberWithin, ValueMistake, type FlagSpec, type FlagValues } from "./flags.ts";

export const DEFAULT_DATA_DIR = ".gnp";
/** How often the files trust is read from are checked for a change (a CRL a cron job rewrites, a Secret kubelet swaps). */
export const DEFAULT_POLL_INTERVAL_S = 5;

/** Every flag of `gnp serve`. The README's table is made from the same words. */
export const SERVE_FLAGS = {
  host: { type: "string", arg: "ADDRESS", default: DEFAULT_HOST, help: `address to listen on (default ${DEFAULT_HOST}; 0.0.0.0 for all interfaces)` },
  port: { type: "string", arg: "N", default: DEFAULT_PORT, parse: numberWithin(LIMITS.port), help: `TCP port (default ${DEFAULT_PORT}; 0 picks a free one)` },
  cert: { type: "string", arg: "FILE", file: "path", unset: "created under DATA/pki on first run", help: "server certificate chain, PEM file (default: created under --data)" },
  key: { type: "string", arg: "FILE", file: "path", unset: "created under DATA/pki on first run", help: "server private key, PEM file (goes with --cert)" },
  ca: { type: "string", arg: "FILE", multiple: true, file: "path", help: "trust client certificates issued by this CA, PEM file (repeatable)" },
  allow: { type: "string", arg: "THUMBPRINT", multiple: true, parse: thumbprint, help: "admit the client certificate with this SHA-1 or SHA-256 thumbprint, or any certificate of the key with this SPKI pin, sha256/BASE64 (repeatable)" },
  crl: {
    type: "string",
    arg: "FILE",
    multiple: true,
    file: "path",
    unset: "none (DATA/pki/ca.crl when the local CA is in use and the file exists)",
    help: "revocation list of a trusted CA, PEM or DER file (repeatable); reread when it changes",
  },
  "allow-stale-crl": { type: "boolean", help: "admit the clients of a CA whose CRL is past its nextUpdate, with a logged warning, instead of refusing them" },
  "max-chain-depth": {
    type: "string",
    arg: "N",
    default: DEFAULT_MAX_CHAIN_DEPTH,
    parse: numberWithin(LIMITS.maxChainDepth),
    help: `intermediate CAs allowed between a client certificate and a trusted CA (default ${DEFAULT_MAX_CHAIN_DEPTH})`,
  },
  "max-presented-certificates": {
    type: "string",
    arg: "N",
    default: DEFAULT_MAX_PRESENTED_CERTIFICATES,
    parse: numberWithin(LIMITS.maxPresentedCertificates),
    help: `certificates a client may send, its own included (default ${DEFAULT_MAX_PRESENTED_CERTIFICATES})`,
  },
  "poll-interval": {
    type: "string",
    arg: "S",
    default: DEFAULT_POLL_INTERVAL_S,
    parse: numberWithin(LIMITS.pollInterval),
    help: `seconds between checks of the certificate, key, CA and CRL files; a change reloads them, as SIGHUP does; 0 = never (default ${DEFAULT_POLL_INTERVAL_S})`,
  },
  data: { type: "string", arg: "DIR", file: "path", default: DEFAULT_DATA_DIR, help: `data directory (default ${DEFAULT_DATA_DIR}); first-run certificates go to DATA/pki` },
  store: {
    type: "string",
    arg: "URL",
    unset: "sqlite under DATA",
    help: "where documents live: sqlite://PATH (default DATA/gnp.db; ?sync=normal trades durability for speed, ?cache=BYTES bounds the cache of large values), postgres://USER@HOST/DB, or memory:",
  },
  handlers: { type: "string", arg: "FILE", file: "path", help: "a TypeScript/JavaScript module of your own command handlers, loaded at start" },
  "max-connections": { type: "string", arg: "N", default: DEFAULT_MAX_CONNECTIONS, parse: numberWithin(LIMITS.maxConnections), help: `connection slots, 8 KiB each (default ${DEFAULT_MAX_CONNECTIONS})` },
  "max-handshakes": {
    type: "string",
    arg: "N",
    default: DEFAULT_MAX_HANDSHAKES,
    parse: numberWithin(LIMITS.maxHandshakes),
    help: `slots connections still in their TLS handshake may hold; when full, the oldest without a ClientHello makes room (default ${DEFAULT_MAX_HANDSHAKES}, at most --max-connections)`,
  },
  "max-handshakes-per-address": {
    type: "string",
    arg: "N",
    default: DEFAULT_MAX_HANDSHAKES_PER_ADDRESS,
    parse: numberWithin(LIMITS.maxHandshakesPerAddress),
    help: `connections in their TLS handshake one remote address may have; more are cut (default ${DEFAULT_MAX_HANDSHAKES_PER_ADDRESS})`,
  },
  "max-body": { type: "string", arg: "N", default: DEFAULT_MAX_BODY, parse: numberWithin(LIMITS.maxBody), help: `largest request body in bytes (default ${DEFAULT_MAX_BODY})` },
  "max-output": {
    type: "string",
    arg: "N",
    default: DEFAULT_MAX_OUTPUT,
    parse: numberWithin(LIMITS.maxOutput),
    help: `output per connection, queued or set aside for running commands: input pauses there, a subscriber past it is cut off (default ${DEFAULT_MAX_OUTPUT})`,
  },
  "idle-timeout": {
    type: "string",
    arg: "S",
    default: DEFAULT_IDLE_TIMEOUT_S,
    parse: numberWithin(LIMITS.idleTimeout),
    help: `seconds without traffic before a connection is closed, 0 = never (default ${DEFAULT_IDLE_TIMEOUT_S})`,
  },
  "handshake-timeout": { type: "string", arg: "S", default: DEFAULT_HANDSHAKE_TIMEOUT_S, parse: numberWithin(LIMITS.handshakeTimeout), help: `seconds for the TLS handshake (default ${DEFAULT_HANDSHAKE_TIMEOUT_S})` },
  "request-timeout": {
    type: "string",
    arg: "S",
    default: DEFAULT_REQUEST_TIMEOUT_S,
    parse: numberWithin(LIMITS.requestTimeout),
    help: `seconds a request's head and body may take to arrive from its first byte, 0 = no limit (default ${DEFAULT_REQUEST_TIMEOUT_S})`,
  },
  admin: { type: "string", arg: "HOST:PORT", parse: adminAddress, unset: "off", help: "serve /healthz, /readyz and /metrics over plain HTTP on this address (default: off)" },
  "log-format": { type: "string", arg: "text|json", choices: ["text", "json"], parse: logFormat, unset: "text on a terminal, else json", help: "log line format (default: text when stdout is a terminal, else json)" },
  "log-level": { type: "string", arg: "LEVEL", choices: Object.keys(LOG_LEVELS), default: "info", parse: logLevel, help: "debug, info, warn or error (default info; debug adds every open and close)" },
  "shutdown-timeout": {
    type: "string",
    arg: "S",
    default: DEFAULT_SHUTDOWN_TIMEOUT_S,
    parse: numberWithin(LIMITS.shutdownTimeout),
    help: `seconds a graceful shutdown waits for in-flight commands before cutting connections (default ${DEFAULT_SHUTDOWN_TIMEOUT_S})`,
  },
  workers: { type: "string", arg: "N|auto", default: DEFAULT_WORKERS, parse: workers, help: `server processes sharing the port, each with its own slots; auto = one per core (default ${DEFAULT_WORKERS})` },
  config: { type: "string", arg: "FILE", file: false, help: "settings file, TOML, keys named as these flags (default: gnp.toml in the working directory, if any)" },
  "print-config": {
    type: "boolean",
    env: false,
    file: false,
    help: "print the settings in effect and where each came from (flag, env, file, default), then check them as --check does",
  },
  check: {
    type: "boolean",
    env: false,
    file: false,
    help: "check everything a start checks (files, key and certificate, CAs, [[clients]], store, handlers) without listening or creating anything; exit 0 or 1",
  },
  help: { type: "boolean", short: "h", env: false, file: false, help: "show this help" },
} as const satisfies Record<string, FlagSpec>;

export type ServeFlags = typeof SERVE_FLAGS;
export type ServeValues = FlagValues<ServeFlags>;

/** The production settings: admin listener, logging, shutdown deadline, workers. */
export type OpsSettings = {
  admin: { host: string; port: number } | undefined;
  /** undefined: decided by whether stdout is a terminal (defaultLogFormat). */
  logFormat: LogFormat | undefined;
  logLevel: LogLevel;
  shutdownTimeout: number;
  workers: number;
};

export type ServeSettings = {
  host: string;
  port: number;
  certFile: string | undefined;
  keyFile: string | undefined;
  caFiles: string[];
  allow: string[];
  crlFiles: string[];
  allowStaleCrls: boolean;
  maxChainDepth: number;
  maxPresentedCertificates: number;
  /** Seconds; 0 = the files are read again only on reload. */
  pollInterval: number;
  dataDir: string;
  store: string | undefined;
  handlersFile: string | undefined;
  maxConnections: number;
  maxHandshakes: number;
  maxHandshakesPerAddress: number;
  maxBody: number;
  maxOutput: number;
  idleTimeout: number;
  handshakeTimeout: number;
  requestTimeout: number;
  ops: OpsSettings;
  help: boolean;
};

/** The values by flag name, in the shape the running process uses. */
export function serveSettingsOf(values: ServeValues): ServeSettings {
  return {
    host: values.host,
    port: values.port,
    certFile: values.cert,
    keyFile: values.key,
    caFiles: values.ca,
    allow: values.allow,
    crlFiles: values.crl,
    allowStaleCrls: values["allow-stale-crl"],
    maxChainDepth: values["max-chain-depth"],
    maxPresentedCertificates: values["max-presented-certificates"],
    pollInterval: values["poll-interval"],
    dataDir: values.data,
    store: values.store,
    handlersFile: values.handlers,
    maxConnections: values["max-connections"],
    maxHandshakes: values["max-handshakes"],
    maxHandshakesPerAddress: values["max-handshakes-per-address"],
    maxBody: values["max-body"],
    maxOutput: values["max-output"],
    idleTimeout: values["idle-timeout"],
    handshakeTimeout: values["handshake-timeout"],
    requestTimeout: values["request-timeout"],
    ops: {
      admin: values.admin,
      logFormat: values["log-format"],
      logLevel: values["log-level"],
      shutdownTimeout: values["shutdown-timeout"],
      workers: values.workers,
    },
    help: values.help,
  };
}

export function serveUsage(): string {
  return `usage: gnp serve [flags]\n\nEvery flag also reads from GNP_<FLAG> in the environment (GNP_MAX_BODY, ...; lists comma-separated).\n\n${flagHelp(SERVE_FLAGS)}\n`;
}

/** Kept as written (resolveOptions normalizes it); only its form is checked here. */
function thumbprint(text: string): string {
  try {
    normalizeAllowEntry(text);
  } catch (error) {
    if (text.trim().toLowerCase().startsWith("sha256/")) throw ValueMistake.phrase((error as Error).message.replace(/^invalid SPKI pin/, "malformed SPKI pin"));
    throw ValueMistake.phrase(`malformed thumbprint ${JSON.stringify(text)}: expected 40 (SHA-1) or 64 (SHA-256) hex digits, or an SPKI pin sha256/BASE64`);
  }
  return text;
}

/** HOST:PORT, [v6]:PORT, or a bare PORT meaning 127.0.0.1 (never all interfaces by accident). */
function adminAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw ValueMistake.expected("HOST:PORT, e.g. 127.0.0.1:9090");
  return { host: match[1] || match[2] || "127.0.0.1", port };
}

function logFormat(text: string): LogFormat {
  if (text === "text" || text === "json") return text;
  throw ValueMistake.expected("text or json");
}

function logLevel(text: string): LogLevel {
  const level = text.toLowerCase();
  if (level in LOG_LEVELS) return level as LogLevel;
  throw ValueMistake.expected("debug, info, warn or error");
}

function workers(text: string): number {
  if (text === "auto") return Math.min(availableParallelism(), LIMITS.workers.max);
  try {
    return numberWithin(LIMITS.workers)(text);
  } catch {
    throw ValueMistake.expected(`auto or ${expectedBy(LIMITS.workers)}`);
  }
}
