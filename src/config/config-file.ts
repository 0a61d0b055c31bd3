// The settings file, TOML: `--config FILE`, else `gnp.toml` in the working directory when one
// is there. Top-level keys are flag names (`port`, `max-connections`, `ca = [...]`), checked
// against the key table the caller passes, plus `[[clients]]` tables (checked in
// client-rules.ts). Values come back as the text a flag would carry, so one parser checks
// flags, environment and file alike. Every mistake is one GnpError line naming file and key.

import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { GnpError } from "../errors.ts";
import { didYouMean, systemReason } from "../wording.ts";

export const DEFAULT_CONFIG_FILE = "gnp.toml";

/** One allowed top-level key: a flag name; `list` takes an array, `path` is relative to the file. */
export type ConfigKey = { name: string; list: boolean; path: boolean };

export type ConfigFile = {
  /** As given or found; messages name the file this way. */
  path: string;
  /** Flag name to flag text (numbers as decimal text); paths resolved against the file's directory. */
  values: Record<string, string | string[]>;
  /** The `[[clients]]` tables, unchecked beyond being tables. */
  clients: Record<string, unknown>[];
};

/**
 * The file to read: `explicit` (which must exist), else gnp.toml in `cwd` if present.
 *
 * @example findConfigFile(undefined, process.cwd()) // "gnp.toml" or undefined
 */
export function findConfigFile(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit !== undefined) return explicit;
  // No gnp.toml here is the common case, not a mistake; one that exists but cannot be read
  // is reported by readConfigFile, since then the user plainly meant it.
  return existsSync(resolve(cwd, DEFAULT_CONFIG_FILE)) ? DEFAULT_CONFIG_FILE : undefined;
}

/** Reads and checks a settings file against `keys`; `cwd` anchors a relative `path`. Throws GnpError. */
export function readConfigFile(path: string, against: { keys: readonly ConfigKey[]; cwd?: string }): ConfigFile {
  const { keys, cwd = process.cwd() } = against;
  let text: string;
  try {
    text = readFileSync(resolve(cwd, path), "utf8");
  } catch (error) {
    throw new GnpError("FILE_UNREADABLE", `cannot read config ${path}: ${systemReason(error)}`, { cause: error });
  }
  return parseConfigText(text, { path, keys, baseDir: dirname(resolve(cwd, path)) });
}

/** Parses TOML text (of the file at `path`) into checked values; `baseDir` anchors relative paths. Throws GnpError. */
export function parseConfigText(text: string, file: { path: string; keys: readonly ConfigKey[]; baseDir: string }): ConfigFile {
  const { path, keys, baseDir } = file;
  let table: Record<string, unknown>;
  try {
    table = Bun.TOML.parse(text) as Record<string, unknown>;
  } catch (error) {
    const message = (error as Error).message.replace(/^TOML Parse error: /, "");
    const line = locateTomlError(text, (error as Error).message);
    throw new GnpError("CONFIG_INVALID", `${path}${line ? `:${line}` : ""}: ${message}`, { cause: error });
  }
  const byName = new Map(keys.map((key) => [key.name, key]));
  const values: Record<string, string | string[]> = {};
  const given = new Map<string, string>();
  let clients: Record<string, unknown>[] = [];
  for (const [rawKey, value] of Object.entries(table)) {
    if (rawKey === "clients") {
      clients = clientTables(path, value);
      continue;
    }
    // `max_connections` is accepted for `max-connections`: TOML users reach for either.
    const name = rawKey.replaceAll("_", "-");
    const key = byName.get(name);
    if (key === undefined) {
      throw new GnpError("CONFIG_INVALID", `${path}: unknown key ${JSON.stringify(rawKey)}${didYouMean(name, [...byName.keys(), "clients"])}`);
    }
    const earlier = given.get(name);
    if (earlier !== undefined) throw new GnpError("CONFIG_INVALID", `${path}: ${JSON.stringify(rawKey)} repeats ${JSON.stringify(earlier)}`);
    given.set(name, rawKey);
    values[name] = flagText(value, { path, rawKey, key, baseDir });
  }
  return { path, values, clients };
}

function flagText(value: unknown, at: { path: string; rawKey: string; key: ConfigKey; baseDir: string }): string | string[] {
  const { path, rawKey, key, baseDir } = at;
  const fix = (text: string) => {
    if (key.path && text !== "" && !isAbsolute(text)) return resolve(baseDir, text);
    // A relative sqlite:// store is a path like data's: relative to the file, not the working directory.
    if (rawKey === "store" && text.startsWith("sqlite://") && !text.startsWith("sqlite:///")) {
      return `sqlite://${resolve(baseDir, text.slice("sqlite://".length))}`;
    }
    return text;
  };
  if (key.list) {
    const items = Array.isArray(value) ? value : [value];
    if (!items.every((item) => typeof item === "string")) {
      throw new GnpError("CONFIG_INVALID", `${path}: ${rawKey} must be a string or a list of strings`);
    }
    return items.map(fix);
  }
  if (typeof value === "string") return fix(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "boolean") return String(value);
  throw new GnpError("CONFIG_INVALID", `${path}: ${rawKey} must be a string or a number, not ${describeValue(value)}`);
}

function clientTables(path: string, value: unknown): Record<string, unknown>[] {
  const isTable = (item: unknown): item is Record<string, unknown> => typeof item === "object" && item !== null && !Array.isArray(item);
  if (!Array.isArray(value) || !value.every(isTable)) {
    throw new GnpError("CONFIG_INVALID", `${path}: clients must be [[clients]] tables, one per client`);
  }
  return value;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value !== null && typeof value === "object") return "a table";
  return typeof value;
}

/**
 * The line of a TOML syntax error. Bun's message carries no position, so this finds the first
 * prefix of whole lines that fails with the same message; a prefix cut inside a multi-line
 * value fails differently and is passed over.
 */
function locateTomlError(text: string, message: string): number | undefined {
  const lines = text.split("\n");
  for (let count = 1; count <= lines.length && count <= 10_000; count++) {
    try {
      Bun.TOML.parse(`${lines.slice(0, count).join("\n")}\n`);
    } catch (error) {
      if ((error as Error).message === message) return count;
    }
  }
  return undefined;
}
