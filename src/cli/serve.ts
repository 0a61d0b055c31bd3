// `gnp serve`: settings to a running server. With no certificate flags it creates (once) a
// local CA, server and admin client certificate under DATA/pki, trusts that CA and prints
// how to connect; with explicit certificates it creates nothing. SIGINT and SIGTERM close
// the server gracefully and exit 0.

import { ensureLocalPki } from "../certs/local-pki.ts";
import { installApp } from "../app/install-app.ts";
import { defaultStoreUrl, openStore } from "../app/open-store.ts";
import type { DocumentStore } from "../app/document-store.ts";
import { GnpError } from "../errors.ts";
import { createServer, type GnpServer } from "../server/server.ts";
import { CliFailure, type CliIo } from "./io.ts";
import { describe, formatHostPort, systemReason } from "../wording.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "../options.ts";
import { DEFAULT_DATA_DIR, readPemFile, serveUsage, type ServeSettings } from "./serve-options.ts";
import { logServerEvents } from "../ops/server-log.ts";
import { workerRoleOf } from "../ops/worker-ipc.ts";
import { createServeLogger, serveUntilSignal, ShutdownSignals, type RunningServer } from "./serve-runtime.ts";
import { ReloadController } from "../config/reload.ts";
import { formatServeConfig } from "./print-config.ts";
import { admissionSettings, resolveServeConfig } from "./serve-config.ts";
import { startReloading } from "./serve-reload.ts";
import { trustConfigOf } from "./serve-trust.ts";
import { pkiDir } from "../certs/pki-paths.ts";

/** Starts a server from command-line flags. Resolves once it listens. */
export async function startServe(argv: string[], io: CliIo, env: Record<string, string | undefined> = process.env): Promise<RunningServer | undefined> {
  const config = resolveServeConfig(argv, env);
  // Listing a client in [[clients]] by thumbprint admits it: its thumbprint joins the allow-list.
  const settings = admissionSettings(config);
  if (settings.help) {
    io.stdout(serveUsage());
    return undefined;
  }
  if (config.printConfig) {
    io.stdout(formatServeConfig(config));
    return undefined;
  }
  // A worker of `--workers N` shares the supervisor's port (SO_REUSEPORT) and prints no banner.
  const worker = workerRoleOf(env);
  const logger = createServeLogger(settings.ops, io, worker);
  const tls = await loadTls(settings, io);
  const trust = trustConfigOf(config, tls);
  let server: GnpServer;
  try {
    server = createServer({
      host: settings.host,
      port: worker?.port ?? settings.port,
      tls: { cert: tls.cert, key: tls.key },
      allow: settings.allow,
      trustedCas: tls.trustedCas,
      maxConnections: settings.maxConnections,
      maxBody: settings.maxBody,
      maxOutput: settings.maxOutput,
      idleTimeout: settings.idleTimeout,
      handshakeTimeout: settings.handshakeTimeout,
      shutdownTimeout: settings.ops.shutdownTimeout,
      reusePort: worker !== undefined,
    });
  } catch (error) {
    throw new CliFailure(describe(error));
  }
  const reloader = ReloadController.attach(server, trust, async () => {
    const next = resolveServeConfig(argv, env);
    const nextTrust = trustConfigOf(next, await loadTls(admissionSettings(next), io), settings);
    next.clients.checkCommands(server.commands, next.file?.path ?? "config");
    return nextTrust;
  });
  const storeUrl = settings.store ?? defaultStoreUrl(settings.dataDir);
  let store: DocumentStore;
  try {
    store = await openStore(storeUrl);
  } catch (error) {
    throw new CliFailure(describe(error));
  }
  try {
    const added = await installApp(server, store, { handlersFile: settings.handlersFile, permissionsOf: reloader.permissionsOf });
    if (settings.handlersFile !== undefined) io.stdout(`loaded ${added.length} command(s) from ${settings.handlersFile}: ${added.join(", ")}\n`);
    config.clients.checkCommands(server.commands, config.file?.path ?? "config");
  } catch (error) {
    await store.close();
    throw new CliFailure(describe(error));
  }
  logServerEvents(server, logger);
  if (worker === undefined && settings.ops.admin !== undefined) probeAdminAddress(settings.ops.admin);
  try {
    await server.listen();
  } catch (error) {
    await store.close();
    throw new CliFailure(error instanceof GnpError ? error.message : describe(error));
  }
  // The pid and reload-status files belong to the process a user signals, not to a worker.
  // Written before the listening line, which a supervisor may answer with a signal at once.
  const reloading = startReloading(reloader, logger, worker === undefined ? settings.dataDir : undefined);
  if (worker === undefined) {
    io.stdout(`gnp listening on ${formatHostPort(settings.host, server.port)} (mutual TLS; ${settings.maxConnections} connection slots)\n`);
    if (tls.hint !== undefined) io.stdout(tls.hint.replaceAll("PORT", String(server.port)));
  }
  let storeOpen = true;
  const stop = async () => {
    reloading.close();
    await server.close();
    storeOpen = false;
    await store.close();
  };
  return { server, stop, logger, settings, isStoreOpen: () => storeOpen, reload: reloading.reload };
}

/**
 * The `gnp serve` command: runs until SIGINT or SIGTERM, then exits 0 after a graceful close
 * (src/cli/serve-runtime.ts). With --workers above 1 this process supervises that many
 * workers instead (src/cli/serve-supervisor.ts).
 */
export async function runServe(argv: string[], io: CliIo): Promise<number> {
  // Caught from now on: the listening line is printed before this function returns, and a
  // signal that finds no handler kills the process outright.
  const signals = new ShutdownSignals();
  // The settings file counts here too: `workers = 4` in gnp.toml starts a supervisor.
  const { settings, printConfig } = resolveServeConfig(argv, process.env);
  // --help and --print-config only print, whatever the worker count says.
  if (!settings.help && !printConfig && settings.ops.workers > 1 && workerRoleOf(process.env) === undefined) {
    if (settings.ops.admin !== undefined) probeAdminAddress(settings.ops.admin);
    return (await import("./serve-supervisor.ts")).runSupervisor(argv, settings, io, { loadTls }, signals);
  }
  const running = await startServe(argv, io);
  if (running === undefined) {
    signals.release();
    return 0;
  }
  return serveUntilSignal(running, io, signals);
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
  const dir = pkiDir(settings.dataDir);
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
  const target = formatHostPort(host, "PORT");
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

/**
 * Fails before anything listens when the admin address cannot be bound: the admin listener
 * itself starts after the server (it reports on it), and a mistake found then would leave the
 * TLS port open for a moment.
 */
function probeAdminAddress(admin: { host: string; port: number }): void {
  if (admin.port === 0) return;
  try {
    Bun.listen({ hostname: admin.host, port: admin.port, socket: { data() {} } }).stop(true);
  } catch (error) {
    throw new CliFailure(`cannot listen on admin address ${formatHostPort(admin.host, admin.port)}: ${systemReason(error)}`);
  }
}
