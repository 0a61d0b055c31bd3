// `gnp serve`: settings to a running server. With no certificate flags it creates (once) a
// local CA, server and admin client certificate under DATA/pki, trusts that CA and prints
// how to connect; with explicit certificates it creates nothing. SIGINT and SIGTERM close
// the server gracefully and exit 0.

import { join } from "node:path";
import { ensureLocalPki } from "../certs/local-pki.ts";
import { installApp } from "../app/install-app.ts";
import { defaultStoreUrl, openStore } from "../app/open-store.ts";
import type { DocumentStore } from "../app/document-store.ts";
import { GnpError } from "../errors.ts";
import { createServer, type GnpServer } from "../server/server.ts";
import { CliFailure, describe, type CliIo } from "./io.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "../options.ts";
import { DEFAULT_DATA_DIR, parseServeArgs, readPemFile, serveUsage, type ServeSettings } from "./serve-options.ts";

export type RunningServer = { server: GnpServer; stop: () => Promise<void> };

/** Starts a server from command-line flags. Resolves once it listens. */
export async function startServe(argv: string[], io: CliIo, env: Record<string, string | undefined> = process.env): Promise<RunningServer | undefined> {
  const settings = parseServeArgs(argv, env);
  if (settings.help) {
    io.stdout(serveUsage());
    return undefined;
  }
  const tls = await loadTls(settings, io);
  let server: GnpServer;
  try {
    server = createServer({
      host: settings.host,
      port: settings.port,
      tls: { cert: tls.cert, key: tls.key },
      allow: settings.allow,
      trustedCas: tls.trustedCas,
      maxConnections: settings.maxConnections,
      maxBody: settings.maxBody,
      maxOutput: settings.maxOutput,
      idleTimeout: settings.idleTimeout,
      handshakeTimeout: settings.handshakeTimeout,
    });
  } catch (error) {
    throw new CliFailure(describe(error));
  }
  const storeUrl = settings.store ?? defaultStoreUrl(settings.dataDir);
  let store: DocumentStore;
  try {
    store = await openStore(storeUrl);
  } catch (error) {
    throw new CliFailure(describe(error));
  }
  try {
    const added = await installApp(server, store, { handlersFile: settings.handlersFile });
    if (settings.handlersFile !== undefined) io.stdout(`loaded ${added.length} command(s) from ${settings.handlersFile}: ${added.join(", ")}\n`);
  } catch (error) {
    await store.close();
    throw new CliFailure(describe(error));
  }
  server.on("refuse", (info) => {
    const thumb = info.sha1 ? ` sha1=${info.sha1}` : "";
    io.stderr(`${new Date().toISOString()} refused ${info.remoteAddress}: ${info.reason}${thumb}\n`);
  });
  server.on("error", (error, connection) => {
    io.stderr(`${new Date().toISOString()} error${connection ? ` (${connection.identity})` : ""}: ${describe(error)}\n`);
  });
  try {
    await server.listen();
  } catch (error) {
    await store.close();
    throw new CliFailure(error instanceof GnpError ? error.message : describe(error));
  }
  io.stdout(`gnp listening on ${formatHostPort(settings.host, server.port)} (mutual TLS; ${settings.maxConnections} connection slots)\n`);
  if (tls.hint !== undefined) io.stdout(tls.hint.replaceAll("PORT", String(server.port)));
  const stop = async () => {
    await server.close();
    await store.close();
  };
  return { server, stop };
}

/** The `gnp serve` command: runs until SIGINT or SIGTERM, then exits 0 after a graceful close. */
export async function runServe(argv: string[], io: CliIo): Promise<number> {
  const running = await startServe(argv, io);
  if (running === undefined) return 0;
  const { promise: stopped, resolve } = Promise.withResolvers<number>();
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    io.stdout(`${signal}: closing; in-flight commands finish, then every connection gets ERR: server is shutting down\n`);
    running.stop().then(
      () => resolve(0),
      (error) => {
        io.stderr(`gnp: shutdown failed: ${describe(error)}\n`);
        resolve(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return stopped;
}

type TlsMaterial = { cert: string; key: string; trustedCas: string[]; hint: string | undefined };

async function loadTls(settings: ServeSettings, io: CliIo): Promise<TlsMaterial> {
  const trustedCas = settings.caFiles.map((file) => readPemFile("ca", file));
  if (settings.certFile !== undefined || settings.keyFile !== undefined) {
    if (settings.certFile === undefined) throw new CliFailure("--key was given without --cert");
    if (settings.keyFile === undefined) throw new CliFailure("--cert was given without --key");
    if (trustedCas.length === 0 && settings.allow.length === 0) {
      throw new CliFailure("no client could ever be admitted: give --ca FILE or --allow THUMBPRINT");
    }
    return { cert: readPemFile("cert", settings.certFile), key: readPemFile("key", settings.keyFile), trustedCas, hint: undefined };
  }
  // First run with nothing configured: a local CA of our own, trusted, and an admin client.
  const dir = join(settings.dataDir, "pki");
  let pki;
  try {
    pki = await ensureLocalPki(dir);
  } catch (error) {
    throw new CliFailure(`cannot prepare certificates in ${dir}: ${describe(error)}`);
  }
  if (pki.created) io.stdout(`created a local CA, a server certificate and an admin client certificate in ${dir}\n`);
  const host = settings.host === "0.0.0.0" || settings.host === "::" ? "127.0.0.1" : settings.host;
  const callFlags =
    (settings.dataDir === DEFAULT_DATA_DIR ? "" : ` --data ${settings.dataDir}`) +
    (settings.port === DEFAULT_PORT ? "" : " --port PORT") +
    (host === DEFAULT_HOST ? "" : ` --host ${host}`);
  const target = host.includes(":") ? `[${host}]:PORT` : `${host}:PORT`;
  const hint =
    `connect:\n` +
    `  gnp call PING${callFlags}\n` +
    `  openssl s_client -connect ${target} -cert ${pki.clientCert} -key ${pki.clientKey} -CAfile ${pki.caCert} -crlf -quiet\n`;
  return {
    cert: readPemFile("cert", pki.serverCert),
    key: readPemFile("key", pki.serverKey),
    trustedCas: [...trustedCas, readPemFile("ca", pki.caCert)],
    hint,
  };
}

function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
