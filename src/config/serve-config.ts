// Where every `gnp serve` setting comes from: a flag, then its GNP_* variable, then the settings
// file (`--config FILE` / GNP_CONFIG, else gnp.toml in the working directory), then the
// default. resolveServeConfig reads argv once and merges the sources through the flags module,
// remembering each value's source for `--print-config`; mistakes are one line naming where the
// value came from, found before anything listens. `gnp call` reads the same file through
// loadSharedConfig; `gnp reload` reads only its `data`, and leniently (src/cli/reload.ts).

import { ClientRules } from "./client-rules.ts";
import { findConfigFile, readConfigFile, type ConfigFile, type ConfigKey } from "./config-file.ts";
import { FlagReader, parseCommandLine, settingOrigin, type FlagTable, type SettingSource } from "./flags.ts";
import { SERVE_FLAGS, serveSettingsOf, type ServeSettings, type ServeValues } from "./serve-flags.ts";
import { GnpError } from "../errors.ts";
import { CliFailure } from "../io.ts";

type Env = Record<string, string | undefined>;

export type { SettingSource } from "./flags.ts";

export type ServeConfig = {
  settings: ServeSettings;
  /** Every flag's value by its name, as read. */
  values: ServeValues;
  /** Where each setting (each flag a settings file may hold) came from. */
  sources: Record<string, SettingSource>;
  file: ConfigFile | undefined;
  clients: ClientRules;
  printConfig: boolean;
};

/** The names of the flags that set something: those a settings file may hold. */
const SETTINGS = Object.entries(SERVE_FLAGS as FlagTable)
  .filter(([, flag]) => flag.file !== false)
  .map(([name]) => name);

/** The keys a settings file may hold: every `gnp serve` flag that sets something. */
export function configKeys(): ConfigKey[] {
  return SETTINGS.map((name) => {
    const flag = (SERVE_FLAGS as FlagTable)[name]!;
    return { name, list: flag.multiple === true, path: flag.file === "path" };
  });
}

/**
 * Settings from argv, environment and file. Throws CliFailure (one line) on any mistake.
 *
 * @example const { settings, sources } = resolveServeConfig(["--port", "0"], { env: process.env });
 */
export function resolveServeConfig(argv: readonly string[], where: { env: Env; cwd?: string }): ServeConfig {
  const { env, cwd = process.cwd() } = where;
  const { texts } = parseCommandLine(argv, SERVE_FLAGS, { command: "serve" });
  const file = loadSharedConfig(typeof texts.config === "string" ? texts.config : undefined, { env, cwd });
  const reader = new FlagReader(SERVE_FLAGS, { texts, env, file });
  // The file in full first, so that a bad value in it is reported with the file's name.
  reader.checkFile();
  const values = reader.readAll();
  const sources = Object.fromEntries(SETTINGS.map((name) => [name, reader.source(name)]));
  let clients = ClientRules.NONE;
  if (file !== undefined) {
    try {
      clients = ClientRules.parse(file.clients, file.path);
    } catch (error) {
      throw new CliFailure((error as Error).message);
    }
  }
  return { settings: serveSettingsOf(values), values, sources, file, clients, printConfig: values["print-config"] };
}

/**
 * The settings file that applies, read and checked, or undefined when there is none:
 * `explicit` (a --config value), else GNP_CONFIG, else gnp.toml in `cwd`. For `gnp call`,
 * which takes host, port and data from it. Throws CliFailure on an unreadable or invalid file.
 *
 * @example const file = loadSharedConfig(values.config, { env: process.env }); const port = file?.values.port;
 */
export function loadSharedConfig(explicit: string | undefined, where: { env: Env; cwd?: string }): ConfigFile | undefined {
  const { env, cwd = process.cwd() } = where;
  const fromEnv = env.GNP_CONFIG === "" ? undefined : env.GNP_CONFIG;
  const path = findConfigFile(explicit ?? fromEnv, cwd);
  if (path === undefined) return undefined;
  try {
    return readConfigFile(path, { keys: configKeys(), cwd });
  } catch (error) {
    throw new CliFailure(error instanceof GnpError ? error.message : String(error));
  }
}

/** The value of setting `name` (a flag name) in `config`; an empty list counts as unset. */
export function settingValue(config: ServeConfig, name: string): unknown {
  const value = (config.values as Record<string, unknown>)[name];
  return Array.isArray(value) && value.length === 0 ? undefined : value;
}

/**
 * How the user wrote setting `name` of `config`, for a line about the file it names.
 *
 * @example `cannot read ${originOf(config, "ca")} ...` // "cannot read GNP_CA ..."
 */
export function originOf(config: ServeConfig, name: string): string {
  return settingOrigin(name, { source: config.sources[name] ?? { kind: "default", label: "default" }, file: config.file?.path });
}

/** Settings for admission: the allow-list grows by the thumbprints and SPKI pins of [[clients]] entries. */
export function admissionSettings(config: ServeConfig): ServeSettings {
  const pins = config.clients.pins;
  return pins.length === 0 ? config.settings : { ...config.settings, allow: [...config.settings.allow, ...pins] };
}
