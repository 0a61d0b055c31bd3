// Everything `gnp serve` makes and checks before it listens, in one place, so that serving,
// `gnp check` and `--print-config` agree on what is wrong: the TLS material and the trust, the
// server with its options, the store, the app with the handlers module, and the commands
// [[clients]] name. Serving creates what a first run needs; checking creates nothing (a
// throwaway pair and an empty memory store stand in). A mistake is one CliFailure line, and
// what was opened before it is closed again.

import type { DocumentStore } from "../app/document-store.ts";
import { installApp } from "../app/install-app.ts";
import { defaultStoreUrl, openStore, probeStore } from "../app/open-store.ts";
import { admissionSettings, type ServeConfig } from "../config/serve-config.ts";
import { CliFailure } from "../io.ts";
import type { WorkerRole } from "../ops/worker-ipc.ts";
import { createServer, type GnpServer } from "../server/server.ts";
import { describe } from "../wording.ts";
import type { ServeBanner } from "./banner.ts";
import { ReloadController, type TrustConfig } from "./reload-controller.ts";
import { loadTls, trustConfigOf, type TlsMaterial } from "./trust-loading.ts";

/** A server made from a configuration and checked, not listening yet. */
export type PreparedServer = {
  server: GnpServer;
  store: DocumentStore;
  storeUrl: string;
  /** A check found no store file: a start would create it. */
  storeCreated: boolean;
  tls: TlsMaterial;
  trust: TrustConfig;
  reloader: ReloadController;
  /** The commands the handlers module added. */
  added: string[];
  /** WATCH subscriptions open now, for the metrics. */
  watchesOpen: () => number;
};

export type PrepareOptions = {
  banner: ServeBanner;
  /** "serve" creates first-run certificates and the store; "check" creates nothing. */
  mode: "serve" | "check";
  /** A worker of --workers binds the supervisor's port beside its siblings. */
  worker?: WorkerRole | undefined;
  /** What a reload of this server reads and checks (serve.ts); a check never reloads. */
  reloadWith?: (server: GnpServer) => () => Promise<TrustConfig>;
};

/**
 * Makes and checks the server `config` describes. Throws CliFailure with one line.
 *
 * @example const prepared = await prepareServer(config, { banner, mode: "check" }); await closePrepared(prepared);
 */
export async function prepareServer(config: ServeConfig, options: PrepareOptions): Promise<PreparedServer> {
  const { banner, mode, worker } = options;
  // Listing a client in [[clients]] by thumbprint admits it: its thumbprint joins the allow-list.
  const settings = admissionSettings(config);
  const tls = await loadTls(config, banner, { create: mode === "serve" });
  const trust = trustConfigOf(config, tls);
  let server: GnpServer;
  try {
    server = createServer({
      host: settings.host,
      port: worker?.port ?? settings.port,
      tls: trust.tls,
      ...trust.trust,
      maxConnections: settings.maxConnections,
      maxHandshakes: settings.maxHandshakes,
      maxHandshakesPerAddress: settings.maxHandshakesPerAddress,
      maxBody: settings.maxBody,
      maxOutput: settings.maxOutput,
      idleTimeout: settings.idleTimeout,
      handshakeTimeout: settings.handshakeTimeout,
      requestTimeout: settings.requestTimeout,
      shutdownTimeout: settings.ops.shutdownTimeout,
      reusePort: worker !== undefined,
    });
  } catch (error) {
    throw new CliFailure(describe(error));
  }
  const notReloadable = () => Promise.reject(new Error("a checked configuration is not reloaded"));
  const reloader = ReloadController.attach(server, { initial: trust, prepare: options.reloadWith?.(server) ?? notReloadable });
  const storeUrl = settings.store ?? defaultStoreUrl(settings.dataDir);
  let store: DocumentStore;
  let storeCreated = false;
  try {
    // Sibling workers write the same file: a worker's store keeps no cache of their values.
    const shared = worker !== undefined;
    if (mode === "serve") store = await openStore(storeUrl, { shared });
    else ({ store, created: storeCreated } = await probeStore(storeUrl, { shared }));
  } catch (error) {
    throw new CliFailure(describe(error));
  }
  try {
    const { added, watchesOpen } = await installApp(server, store, { handlersFile: settings.handlersFile, permissionsOf: reloader.permissionsOf });
    config.clients.checkCommands(server.commands, config.file?.path ?? "config");
    return { server, store, storeUrl, storeCreated, tls, trust, reloader, added, watchesOpen };
  } catch (error) {
    await store.close();
    throw new CliFailure(describe(error));
  }
}

/** Closes what prepareServer opened (the store; the server never listened). */
export async function closePrepared(prepared: PreparedServer): Promise<void> {
  await prepared.server.close();
  await prepared.store.close();
}
