// `gnp serve --print-config`: the settings in effect as TOML a person can read and paste into
// gnp.toml, each line commented with where its value came from (flag, env, file, default).
// It prints and exits; it creates nothing (not even the first-run certificates).

import type { ClientRules } from "../config/client-rules.ts";
import type { FlagTable } from "../config/flags.ts";
import { SERVE_FLAGS } from "../config/serve-flags.ts";
import { settingValue, type ServeConfig } from "../config/serve-config.ts";
import { formatHostPort } from "../wording.ts";

/**
 * The resolved settings as commented TOML.
 *
 * @example io.stdout(formatServeConfig(resolveServeConfig(argv, { env: process.env })));
 */
export function formatServeConfig(config: ServeConfig): string {
  const precedence = `flag > environment (GNP_*) > ${config.file ? config.file.path : "settings file (none found)"} > default`;
  const lines = [`# gnp serve: the settings in effect; precedence: ${precedence}`];
  const rows: [string, string][] = [];
  for (const [name, source] of Object.entries(config.sources)) {
    const value = hidePassword(settingValue(config, name));
    const text = value === undefined ? `# ${name} is unset: ${unsetMeans(name)}` : `${name} = ${tomlValue(value)}`;
    rows.push([text, source.label]);
  }
  // Aligned comments read best; one long value (an allow-list) must not push every line right.
  const width = Math.min(Math.max(...rows.map(([text]) => text.length)), 56);
  for (const [text, label] of rows) lines.push(`${text.padEnd(width)} # ${label}`);
  lines.push("", ...formatClients(config.clients, config.file?.path));
  return `${lines.join("\n")}\n`;
}

/** What an unset setting means, as its row of the flag table says. */
function unsetMeans(name: string): string {
  return (SERVE_FLAGS as FlagTable)[name]?.unset ?? "none";
}

function formatClients(clients: ClientRules, path: string | undefined): string[] {
  if (clients.isEmpty) return ["# no [[clients]]: every admitted client may run every command"];
  const lines = [`# [[clients]] from ${path}; a client matching none may run only WHOAMI`];
  for (const rule of clients.rules) {
    lines.push("[[clients]]", `name = ${tomlValue(rule.name)}`);
    const { match } = rule;
    lines.push(`${match.by} = ${tomlValue(match.by === "thumbprint" ? match.thumbprint : match.by === "spki" ? match.pin : match.value)}`);
    lines.push(`allow = ${tomlValue(rule.allow === "*" ? "*" : [...rule.allow])}`);
    if (rule.read !== undefined) lines.push(`read = ${tomlValue(rule.read === "*" ? "*" : [...rule.read])}`);
    if (rule.write !== undefined) lines.push(`write = ${tomlValue(rule.write === "*" ? "*" : [...rule.write])}`);
    lines.push("");
  }
  return lines;
}

function tomlValue(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  if (value !== null && typeof value === "object" && "host" in value && "port" in value) {
    // --admin's parsed form, printed back as the HOST:PORT it was given as.
    const { host, port } = value as { host: string; port: number };
    return JSON.stringify(formatHostPort(host, port));
  }
  return JSON.stringify(value);
}

/** A store URL's password never reaches the screen (or a support ticket pasted from it). */
function hidePassword<T>(value: T): T {
  if (typeof value !== "string") return value;
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*):[^@/]*@/i, "$1:***@") as T;
}
