// The connection flags `gnp call` and `gnp bench` share, with their GNP_* environment twins
// (the same names `gnp serve` reads). Precedence: flag, then environment, then the server's
// settings file (gnp.toml: its port, host and data; never its own cert and key), then the
// zero-config files `gnp serve` creates under DATA/pki, so `gnp call PING` works right after
// `gnp serve`. Mistakes are one CliFailure line with exit code 2.

import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { localPkiPaths, pkiDir } from "../certs/pki-paths.ts";
import type { ConnectOptions } from "../client/connect-options.ts";
import { FlagReader, flagHelp, numberWithin, type FlagSpec, type FlagTexts } from "../config/flags.ts";
import { readPemFile } from "../config/pem-file.ts";
import { loadSharedConfig } from "../config/serve-config.ts";
import { DEFAULT_DATA_DIR } from "../config/serve-flags.ts";
import type { GnpError } from "../errors.ts";
import { CliFailure } from "../io.ts";
import { DEFAULT_HOST, DEFAULT_PORT, LIMITS, checkKeyPair } from "../options.ts";

export type Env = Record<string, string | undefined>;

/** Where a client connects: any port a server may listen on, but 0. */
const CONNECT_PORT = { ...LIMITS.port, min: 1 };

/** The connection flags, with their GNP_* variables. */
export const CONNECTION_FLAGS = {
  host: { type: "string", arg: "ADDRESS", default: DEFAULT_HOST, help: `server address (default ${DEFAULT_HOST}; env GNP_HOST)` },
  port: { type: "string", arg: "N", default: DEFAULT_PORT, parse: numberWithin(CONNECT_PORT), help: `server port (default ${DEFAULT_PORT}; env GNP_PORT)` },
  cert: { type: "string", arg: "FILE", help: "client certificate, PEM file (default DATA/pki/client.crt; env GNP_CERT)" },
  key: { type: "string", arg: "FILE", help: "client private key, PEM file (default DATA/pki/client.key; env GNP_KEY)" },
  ca: { type: "string", arg: "FILE", help: "CA that verifies the server, PEM file (default DATA/pki/ca.crt with the default certificate; env GNP_CA)" },
  insecure: { type: "boolean", help: "do not verify the server's certificate, for development only (env GNP_INSECURE=1)" },
  servername: { type: "string", arg: "NAME", help: "name to expect in the server's certificate (default: --host)" },
  data: { type: "string", arg: "DIR", default: DEFAULT_DATA_DIR, help: `data directory of a local \`gnp serve\` (default ${DEFAULT_DATA_DIR}; env GNP_DATA)` },
  config: { type: "string", arg: "FILE", help: "the server's settings file, for its port, host and data (default gnp.toml here, if any; env GNP_CONFIG)" },
} as const satisfies Record<string, FlagSpec>;

// Only these describe where the server is; its cert and key are the server's own, not ours.
const FROM_SERVER_FILE = new Set(["host", "port", "data"]);

export type ConnectionSettings = Omit<ConnectOptions, "timeout" | "onPush" | "maxBody"> & { host: string; port: number };

/** Turns parsed flags and the environment into connect() options, reading the PEM files. */
export function resolveConnection(texts: FlagTexts, where: { env: Env; cwd?: string }): ConnectionSettings {
  const { env } = where;
  const file = serverFile(texts, where);
  const reader = new FlagReader(CONNECTION_FLAGS, { texts, env, file, fromFile: (name) => FROM_SERVER_FILE.has(name) });
  const host = connectable(reader.read("host"));
  const port = reader.read("port");
  const insecure = reader.read("insecure");
  let certFile = reader.read("cert");
  let keyFile = reader.read("key");
  let caFile = reader.read("ca");
  if (certFile === undefined && keyFile === undefined) {
    // Zero config: the admin client certificate a local `gnp serve` created, and its CA.
    const pki = clientPkiPaths(reader.read("data"));
    if (!existsSync(pki.clientCert) || !existsSync(pki.clientKey)) {
      throw new CliFailure(`no client certificate: pass --cert FILE --key FILE, or run \`gnp serve\` here first (it creates ${pki.clientCert})`, 2);
    }
    certFile = pki.clientCert;
    keyFile = pki.clientKey;
    if (caFile === undefined && !insecure && existsSync(pki.caCert)) caFile = pki.caCert;
  }
  if (certFile === undefined) throw new CliFailure("--key was given without --cert", 2);
  if (keyFile === undefined) throw new CliFailure("--cert was given without --key", 2);
  if (insecure && texts.ca !== undefined) throw new CliFailure("--ca and --insecure exclude each other", 2);
  const servername = reader.read("servername");
  const cert = readPem(reader.origin("cert"), certFile);
  refuseCaCertificate(cert, `${reader.origin("cert")} ${certFile}`);
  const key = readPem(reader.origin("key"), keyFile);
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
    ...(caFile !== undefined && !insecure ? { ca: readPem(reader.origin("ca"), caFile) } : {}),
    insecure,
    ...(servername !== undefined ? { servername } : {}),
  };
}

/**
 * A CA certificate cannot sign a client's handshake (the TLS library says only
 * KEY_USAGE_BIT_INCORRECT, or the server an illegal parameter): said here, naming the file.
 */
function refuseCaCertificate(pem: string, named: string): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    // Not parsable here: the TLS library says why when it connects.
    return;
  }
  if (!certificate.ca) return;
  const subject = certificate.subject.split("\n").join(", ");
  throw new CliFailure(`${named} is a CA certificate (${subject}), not a client certificate: pass a client's own certificate and key (gnp certs client NAME makes one)`, 2);
}

/**
 * The one line for a failed connect, with what to do when the cause is plain: a server
 * certificate that nothing verified because no --ca was given.
 *
 * @example io.stderr(`gnp: ${explainFailure(error, connection)}\n`);
 */
export function explainFailure(error: GnpError, connection: ConnectionSettings | undefined): string {
  if (error.code === "SERVER_CERT_INVALID" && connection !== undefined && connection.ca === undefined && !connection.insecure) {
    return `${error.message}: pass --ca FILE (the CA that issued the server's certificate) to verify the server, or --insecure`;
  }
  return error.message;
}

/** Where `gnp serve` writes its admin client certificate, key and CA on a first run. */
export function clientPkiPaths(dataDir: string): { clientCert: string; clientKey: string; caCert: string } {
  const { clientCert, clientKey, caCert } = localPkiPaths(pkiDir(dataDir));
  return { clientCert, clientKey, caCert };
}

/** The server's settings file, read as `gnp serve` reads it, if one is named or present. */
function serverFile(texts: FlagTexts, where: { env: Env; cwd?: string }) {
  try {
    return loadSharedConfig(typeof texts.config === "string" ? texts.config : undefined, where);
  } catch (error) {
    // The same one line `gnp serve` gives, with the exit code of "could not connect".
    throw new CliFailure((error as Error).message, 2);
  }
}

/** A server listening on every interface is reached on loopback. */
function connectable(host: string): string {
  return host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
}

/** Help lines for the connection flags, in the same layout as `gnp serve --help`. */
export function connectionUsage(): string {
  return flagHelp(CONNECTION_FLAGS);
}

/** `origin` names the setting as the user wrote it: `--ca`, `GNP_CA`. */
function readPem(origin: string, path: string): string {
  try {
    return readPemFile(origin, path);
  } catch (error) {
    // The same one line `gnp serve` gives, with the exit code of "could not connect".
    throw new CliFailure((error as Error).message, 2);
  }
}
