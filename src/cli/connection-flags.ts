// The connection flags `gnp call` and `gnp bench` share, with their GNP_* environment twins
// (the same names `gnp serve` reads). Precedence: flag, then environment, then the server's
// settings file (gnp.toml: its port, host and data; never its own cert and key), then the
// zero-config files `gnp serve` creates under DATA/pki, so `gnp call PING` works right after
// `gnp serve`. Mistakes are one CliFailure line with exit code 2.

import { existsSync } from "node:fs";
import type { ConnectOptions } from "../client/connect-options.ts";
import { DEFAULT_HOST, DEFAULT_PORT, checkKeyPair } from "../options.ts";
import { findConfigFile, readConfigFile, type ConfigKey } from "../config/config-file.ts";
import { GnpError } from "../errors.ts";
import { CliFailure } from "../io.ts";
import { DEFAULT_DATA_DIR, SERVE_FLAGS, readPemFile } from "../config/serve-options.ts";
import { localPkiPaths, pkiDir } from "../certs/pki-paths.ts";

export type Env = Record<string, string | undefined>;
export type FlagValues = Record<string, string | string[] | boolean | undefined>;

/** Flag definitions for util.parseArgs, with help text. */
export const CONNECTION_FLAGS = {
  host: { type: "string", help: `server address (default ${DEFAULT_HOST}; env GNP_HOST)` },
  port: { type: "string", help: `server port (default ${DEFAULT_PORT}; env GNP_PORT)` },
  cert: { type: "string", help: "client certificate, PEM file (default DATA/pki/client.crt; env GNP_CERT)" },
  key: { type: "string", help: "client private key, PEM file (default DATA/pki/client.key; env GNP_KEY)" },
  ca: { type: "string", help: "CA that verifies the server, PEM file (default DATA/pki/ca.crt with the default certificate; env GNP_CA)" },
  insecure: { type: "boolean", help: "do not verify the server's certificate, for development only (env GNP_INSECURE=1)" },
  servername: { type: "string", help: "name to expect in the server's certificate (default: --host)" },
  data: { type: "string", help: `data directory of a local \`gnp serve\` (default ${DEFAULT_DATA_DIR}; env GNP_DATA)` },
  config: { type: "string", help: "the server's settings file, for its port, host and data (default gnp.toml here, if any; env GNP_CONFIG)" },
} as const;

// The server's keys, so that any file `gnp serve` accepts is accepted here too.
const SERVER_FILE_KEYS: ConfigKey[] = Object.entries(SERVE_FLAGS)
  .filter(([name]) => name !== "help")
  .map(([name, flag]) => ({ name, list: "multiple" in flag, path: ["cert", "key", "ca", "data"].includes(name) }));
// Only these describe where the server is; its cert and key are the server's own, not ours.
const FROM_SERVER_FILE = new Set(["host", "port", "data"]);

export type ConnectionSettings = Omit<ConnectOptions, "timeout" | "onPush" | "maxBody"> & { host: string; port: number };

/** Turns parsed flags and the environment into connect() options, reading the PEM files. */
export function resolveConnection(values: FlagValues, env: Env, cwd: string = process.cwd()): ConnectionSettings {
  const file = serverFile(values, env, cwd);
  const pick = (name: string): string | undefined => {
    const value = values[name];
    if (typeof value === "string") return value;
    const fromEnv = env[`GNP_${name.toUpperCase()}`];
    if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
    const fromFile = FROM_SERVER_FILE.has(name) ? file[name] : undefined;
    return typeof fromFile === "string" ? fromFile : undefined;
  };
  const host = connectable(pick("host") ?? DEFAULT_HOST);
  const portText = pick("port");
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535 || portText?.trim() === "") {
    throw new CliFailure(`invalid --port ${JSON.stringify(portText)}: expected a whole number from 1 to 65535`, 2);
  }
  const insecure = values.insecure === true || env.GNP_INSECURE === "1";
  let certFile = pick("cert");
  let keyFile = pick("key");
  let caFile = pick("ca");
  if (certFile === undefined && keyFile === undefined) {
    // Zero config: the admin client certificate a local `gnp serve` created, and its CA.
    const pki = clientPkiPaths(pick("data") ?? DEFAULT_DATA_DIR);
    if (!existsSync(pki.clientCert) || !existsSync(pki.clientKey)) {
      throw new CliFailure(`no client certificate: pass --cert FILE --key FILE, or run \`gnp serve\` here first (it creates ${pki.clientCert})`, 2);
    }
    certFile = pki.clientCert;
    keyFile = pki.clientKey;
    if (caFile === undefined && !insecure && existsSync(pki.caCert)) caFile = pki.caCert;
  }
  if (certFile === undefined) throw new CliFailure("--key was given without --cert", 2);
  if (keyFile === undefined) throw new CliFailure("--cert was given without --key", 2);
  if (insecure && values.ca !== undefined) throw new CliFailure("--ca and --insecure exclude each other", 2);
  const servername = pick("servername");
  const cert = readPem("cert", certFile);
  const key = readPem("key", keyFile);
  // Said here, in words: the TLS layer would only report KEY_VALUES_MISMATCH.
  try {
    checkKeyPair(cert, key);
  } catch (error) {
    throw new CliFailure(`--cert ${certFile} and --key ${keyFile}: ${(error as Error).message.replace(/^server /, "")}`, 2);
  }
  return {
    host,
    port,
    cert,
    key,
    ...(caFile !== undefined && !insecure ? { ca: readPem("ca", caFile) } : {}),
    insecure,
    ...(servername !== undefined ? { servername } : {}),
  };
}

/** Where `gnp serve` writes its admin client certificate, key and CA on a first run. */
export function clientPkiPaths(dataDir: string): { clientCert: string; clientKey: string; caCert: string } {
  const { clientCert, clientKey, caCert } = localPkiPaths(pkiDir(dataDir));
  return { clientCert, clientKey, caCert };
}

/** The values of the server's settings file, if one is named or present; {} otherwise. */
function serverFile(values: FlagValues, env: Env, cwd: string): Record<string, string | string[]> {
  const explicit = typeof values.config === "string" ? values.config : env.GNP_CONFIG || undefined;
  const path = findConfigFile(explicit, cwd);
  if (path === undefined) return {};
  try {
    return readConfigFile(path, SERVER_FILE_KEYS, cwd).values;
  } catch (error) {
    if (error instanceof GnpError) throw new CliFailure(error.message, 2);
    throw error;
  }
}

/** A server listening on every interface is reached on loopback. */
function connectable(host: string): string {
  return host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
}

/** Help lines for the connection flags, in the same layout as `gnp serve --help`. */
export function connectionUsage(): string {
  return Object.entries(CONNECTION_FLAGS)
    .map(([name, flag]) => `  --${name}${flag.type === "string" ? (name === "host" ? " ADDRESS" : name === "port" ? " N" : name === "data" ? " DIR" : name === "servername" ? " NAME" : " FILE") : ""}`.padEnd(30) + flag.help)
    .join("\n");
}

/** parseArgs option specs (without help texts) for a table of flags. */
export function parseArgsOptions(flags: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>) {
  return Object.fromEntries(
    Object.entries(flags).map(([name, flag]) => [
      name,
      { type: flag.type, ...(flag.multiple ? { multiple: true } : {}), ...(flag.short ? { short: flag.short } : {}) },
    ]),
  ) as Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;
}

function readPem(flag: string, path: string): string {
  try {
    return readPemFile(flag, path);
  } catch (error) {
    // The same one line `gnp serve` gives, with the exit code of "could not connect".
    throw new CliFailure((error as Error).message, 2);
  }
}
