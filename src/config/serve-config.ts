// Where every `gnp serve` setting comes from: a flag, then its GNP_* variable, then the settings
// file (`--config FILE` / GNP_CONFIG, else gnp.toml in the working directory), then the
// default. resolveServeConfig merges them, remembering each value's source for
// `--print-config`; mistakes in the file are one line naming the file, found before anything
// listens. `gnp call` and `gnp reload` read the same file through loadSharedConfig.

import { parseArgs } from "node:util";
import { normalizeThumbprint } from "../certs/thumbprint.ts";
import { ClientRules } from "./client-rules.ts";
import { findConfigFile, readConfigFile, type ConfigFile, type ConfigKey } from "./config-file.ts";
import { GnpError } from "../errors.ts";
import { CliFailure, flagsFailure } from "../io.ts";
import { SERVE_FLAGS, parseServeArgs, type ServeSettings } from "./serve-options.ts";

type Env = Record<string, string | undefined>;

/** Flags that act rather than set something: not allowed in the file. */
const NOT_IN_FILE = new Set(["help", "config", "print-config"]);
/** Keys holding file paths: relative ones are taken from the settings file's directory. */
const PATH_KEYS = new Set(["cert", "key", "ca", "data", "handlers"]);

export type SettingSource = { kind: "flag" | "env" | "file" | "default"; label: string };

export type ServeConfig = {
  settings: ServeSettings;
  sources: Record<string, SettingSource>;
  file: ConfigFile | undefined;
  clients: ClientRules;
  printConfig: boolean;
};

/** The keys a settings file may hold: every `gnp serve` flag that sets something. */
export function configKeys(): ConfigKey[] {
  return Object.entries(SERVE_FLAGS)
    .filter(([name]) => !NOT_IN_FILE.has(name))
    .map(([name, flag]) => ({ name, list: "multiple" in flag, path: PATH_KEYS.has(name) }));
}

/**
 * Settings from argv, environment and file. Throws CliFailure (one line) on any mistake.
 *
 * @example const { settings, sources } = resolveServeConfig(["--port", "0"], process.env);
 */
export function resolveServeConfig(argv: string[], env: Env, cwd: string = process.cwd()): ServeConfig {
  const flags = parseFlagValues(argv);
  const file = loadSharedConfig(typeof flags.config === "string" ? flags.config : undefined, env, cwd);
  if (file !== undefined) {
    // The file alone first, so that a bad value in it is reported with the file's name.
    try {
      parseServeArgs([], {}, file.values);
    } catch (error) {
      throw new CliFailure(`${file.path}: ${(error as Error).message}`, error instanceof CliFailure ? error.exitCode : 1);
    }
  }
  const settings = parseServeArgs(argv, env, file?.values);
  const sources: Record<string, SettingSource> = {};
  for (const name of Object.keys(SERVE_FLAGS)) {
    if (NOT_IN_FILE.has(name)) continue;
    sources[name] = sourceOf(name, flags, env, file);
  }
  checkThumbprints(settings.allow, sources.allow!);
  let clients = ClientRules.NONE;
  if (file !== undefined) {
    try {
      clients = ClientRules.parse(file.clients, file.path);
    } catch (error) {
      throw new CliFailure((error as Error).message);
    }
  }
  return { settings, sources, file, clients, printConfig: flags["print-config"] === true };
}

/**
 * The settings file that applies, read and checked, or undefined when there is none:
 * `explicit` (a --config value), else GNP_CONFIG, else gnp.toml in `cwd`. For `gnp call`,
 * which takes host, port and data from it. Throws CliFailure on an unreadable or invalid file.
 *
 * @example const file = loadSharedConfig(values.config, process.env); const port = file?.values.port;
 */
export function loadSharedConfig(explicit: string | undefined, env: Env, cwd: string = process.cwd()): ConfigFile | undefined {
  const fromEnv = env.GNP_CONFIG === "" ? undefined : env.GNP_CONFIG;
  const path = findConfigFile(explicit ?? fromEnv, cwd);
  if (path === undefined) return undefined;
  try {
    return readConfigFile(path, configKeys(), cwd);
  } catch (error) {
    throw new CliFailure(error instanceof GnpError ? error.message : String(error));
  }
}

/** Settings fields whose names are not the flag's in camelCase. */
const FIELD_OF: Record<string, string> = { cert: "certFile", key: "keyFile", ca: "caFiles", data: "dataDir", handlers: "handlersFile" };

/** The value flag `name` set, looked up in parsed settings (ops flags live under settings.ops); an empty list is unset. */
export function settingValue(settings: ServeSettings, name: string): unknown {
  const field = FIELD_OF[name] ?? name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
  const record = settings as unknown as Record<string, unknown>;
  const ops = settings.ops as unknown as Record<string, unknown>;
  const value = field in record ? record[field] : ops[field];
  if (Array.isArray(value) && value.length === 0) return undefined;
  return value;
}

/** Settings for admission: the allow-list grows by the thumbprints of [[clients]] entries. */
export function admissionSettings(config: ServeConfig): ServeSettings {
  const thumbprints = config.clients.thumbprints;
  return thumbprints.length === 0 ? config.settings : { ...config.settings, allow: [...config.settings.allow, ...thumbprints] };
}

function parseFlagValues(argv: string[]): Record<string, string | string[] | boolean | undefined> {
  const options = Object.fromEntries(
    Object.entries(SERVE_FLAGS).map(([name, flag]) => [name, { type: flag.type, multiple: "multiple" in flag, ...("short" in flag ? { short: flag.short } : {}) }]),
  );
  try {
    return parseArgs({ args: argv, options: options as never, strict: true, allowPositionals: false }).values as Record<string, string | string[] | boolean | undefined>;
  } catch (error) {
    // Worded as parseServeArgs words it, so a bad flag reads the same with or without a file.
    throw flagsFailure("serve", error, argv);
  }
}

function sourceOf(name: string, flags: Record<string, unknown>, env: Env, file: ConfigFile | undefined): SettingSource {
  const flag = flags[name];
  if (typeof flag === "string" || (Array.isArray(flag) && flag.length > 0)) return { kind: "flag", label: `flag --${name}` };
  // The same variable names parseServeArgs reads: GNP_MAX_BODY for --max-body.
  const variable = `GNP_${name.toUpperCase().replaceAll("-", "_")}`;
  const fromEnv = env[variable];
  if (fromEnv !== undefined && fromEnv !== "") return { kind: "env", label: `env ${variable}` };
  if (file !== undefined && name in file.values) return { kind: "file", label: `file ${file.path}` };
  return { kind: "default", label: "default" };
}

function checkThumbprints(allow: readonly string[], source: SettingSource): void {
  for (const thumbprint of allow) {
    try {
      normalizeThumbprint(thumbprint);
    } catch {
      const where = source.kind === "flag" ? "--allow" : source.kind === "env" ? "GNP_ALLOW" : source.label.slice("file ".length);
      throw new CliFailure(`${where}: malformed thumbprint ${JSON.stringify(thumbprint)}: expected 40 (SHA-1) or 64 (SHA-256) hex digits`, 2);
    }
  }
}
