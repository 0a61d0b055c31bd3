// `gnp check` and `gnp serve --check`: the configuration checked as a start would check it
// (src/serve/check.ts), said in a few lines on stdout: where a start would listen, its
// certificate, trust, store, handlers and data directory. Exit 0 when a start would get as
// far as listening; 1 with the one line `gnp serve` would stop with, whatever the mistake.

import type { SettingSource } from "../config/flags.ts";
import type { ServeConfig } from "../config/serve-config.ts";
import { CliFailure, type CliIo } from "../io.ts";
import { checkConfig, type CheckResult } from "../serve/check.ts";
import { formatInstant } from "../certs/validator.ts";
import { formatHostPort } from "../wording.ts";

/**
 * Checks `config` and prints the outcome; `warnings` (unknown GNP_* variables) go to stderr
 * with the check's own. Resolves with the exit code; a mistake throws CliFailure (exit 1).
 *
 * @example return reportCheck(config, { io, warnings: context.warnings });
 */
export async function reportCheck(config: ServeConfig, out: { io: CliIo; warnings: readonly string[] }): Promise<number> {
  const { io, warnings } = out;
  let result: CheckResult;
  try {
    result = await checkConfig(config);
  } catch (error) {
    throw new CliFailure((error as Error).message, 1);
  }
  for (const warning of [...warnings, ...result.warnings]) io.stderr(`gnp: warning: ${warning}\n`);
  io.stdout(formatCheck(config, result));
  return 0;
}

/** The check's lines: what a start with this configuration would find or make. */
export function formatCheck(config: ServeConfig, result: CheckResult): string {
  const settings = config.settings;
  const { certificate, trust, store, handlers, dataInUse } = result;
  const valid = `${certificate.name}, valid until ${formatInstant(certificate.notAfter)}`;
  const firstRun = pkiWording(certificate.firstRun, `${settings.dataDir}/pki`);
  const rows: [string, string][] = [
    ["settings", settingsSources(config)],
    ["certificate", firstRun === undefined ? `${valid}, key matches` : certificate.firstRun === "would create" ? firstRun : `${valid} (${firstRun})`],
    ["trust", `${count(trust.trustedCas, "trusted CA")}, ${count(trust.allowed, "allowed thumbprint")}, ${count(trust.clients, "[[clients]] entry", "[[clients]] entries")}`],
    ["store", `${store.url}${store.created ? " (created at the first start)" : ""}`],
    ["handlers", handlers === undefined ? "none" : `${count(handlers.commands.length, "command")} from ${handlers.file}: ${handlers.commands.join(", ")}`],
    ["admin", settings.ops.admin === undefined ? "off" : formatHostPort(settings.ops.admin.host, settings.ops.admin.port)],
    ["workers", String(settings.ops.workers)],
    ["data", dataInUse === undefined ? settings.dataDir : `${settings.dataDir} (in use now by gnp serve${dataInUse.pid === undefined ? "" : ` pid ${dataInUse.pid}`})`],
  ];
  const head = `configuration ok: gnp serve would listen on ${formatHostPort(settings.host, settings.port)} (mutual TLS)\n`;
  return head + rows.map(([label, value]) => `  ${label.padEnd(13)}${value}\n`).join("");
}

function pkiWording(firstRun: CheckResult["certificate"]["firstRun"], dir: string): string | undefined {
  if (firstRun === "would create") return `first run: a CA, a server and an admin client certificate would be created in ${dir}`;
  if (firstRun === undefined) return undefined;
  return `first-run certificates in ${dir}`;
}

/** Which sources set something: the settings file, GNP_* variables, flags; else defaults only. */
function settingsSources(config: ServeConfig): string {
  const kinds = new Set(Object.values(config.sources).map((source: SettingSource) => source.kind));
  const named = [
    kinds.has("file") || config.file !== undefined ? config.file?.path : undefined,
    kinds.has("env") ? "GNP_* variables" : undefined,
    kinds.has("flag") ? "flags" : undefined,
  ].filter((name): name is string => name !== undefined);
  return named.length === 0 ? "defaults only" : `${named.join(", ")}, else defaults`;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
