// `gnp check` (and `gnp serve --check`, and the check behind `--print-config`): everything a
// start verifies before it listens, through the same prepareServer, without listening and
// without creating anything. The result says what a start would find or make; a mistake is
// the same one CliFailure line `gnp serve` would stop with. Ports are not bound: the server
// being checked may be running and hold them.

import type { ServeConfig } from "../config/serve-config.ts";
import { Logger } from "../ops/logger.ts";
import { ServeBanner } from "./banner.ts";
import { DataDirLock, type LockHolder } from "./data-lock.ts";
import { closePrepared, prepareServer } from "./prepare.ts";
import { checkServerCertificate } from "./server-certificate.ts";

/** What a start with the checked configuration would find or make. */
export type CheckResult = {
  /** The server certificate's name and end, or how a first run provides one. */
  certificate: { name: string; notAfter: Date; firstRun: "created" | "reused" | "would create" | undefined };
  trust: { trustedCas: number; allowed: number; clients: number };
  store: { url: string; created: boolean };
  handlers: { file: string; commands: string[] } | undefined;
  /** Who holds the data directory now (a running server), if anyone. */
  dataInUse: LockHolder | undefined;
  /** Worth saying but not a failure: a certificate near expiry. */
  warnings: readonly string[];
};

/** A banner that says nothing: a check creates nothing to announce. */
const SILENT = new ServeBanner({ stdout: () => {}, stderr: () => {} }, new Logger({ level: "error", format: "text", write: () => {} }));

/**
 * Checks `config` as a start would. Throws CliFailure with the line the start would fail with.
 *
 * @example const result = await checkConfig(resolveServeConfig(argv, { env: process.env }));
 */
export async function checkConfig(config: ServeConfig): Promise<CheckResult> {
  const prepared = await prepareServer(config, { banner: SILENT, mode: "check" });
  try {
    const { tls, trust, storeUrl, storeCreated, added } = prepared;
    const { name, notAfter } = checkServerCertificate(tls.cert);
    const settings = config.settings;
    return {
      certificate: { name, notAfter, firstRun: tls.firstRun },
      trust: { trustedCas: trust.trust.trustedCas.length, allowed: trust.trust.allow.length, clients: config.clients.rules.length },
      store: { url: storeUrl, created: storeCreated },
      handlers: settings.handlersFile === undefined ? undefined : { file: settings.handlersFile, commands: added },
      dataInUse: await DataDirLock.holder(settings.dataDir),
      warnings: trust.warnings,
    };
  } finally {
    await closePrepared(prepared);
  }
}
