// The one flags module: a command declares its flags as one table (type, value name, default,
// whether a GNP_* variable and a gnp.toml key stand for it, how its text becomes a value, help),
// and this module drives util.parseArgs, the environment, the settings file and --help from it.
// Every mistake is one line with exit code 2 that names where the value came from: the flag
// (`invalid --port "x"`), its variable (`GNP_PORT: invalid --port "x"`) or the file.

import { parseArgs } from "node:util";
import { CliFailure } from "../io.ts";
import { expectedBy, withinLimit, type Limit } from "../options.ts";
import { describe, didYouMean } from "../wording.ts";

/** One flag of a command. */
export type FlagSpec<T = unknown> = {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  /** How --help names a string flag's value: FILE, N, S, HOST:PORT. */
  arg?: string;
  /** The only values it takes, when they are few words: shell completion offers them. */
  choices?: readonly string[];
  help: string;
  /** False: no GNP_* variable stands for it (the default for a command's own flags is set per table). */
  env?: boolean;
  /** How a gnp.toml key stands for it: false not at all, "path" as a path relative to the file. */
  file?: false | "path";
  /** What --print-config says when nothing sets it. */
  unset?: string;
  /** The value when nothing sets it. */
  default?: T;
  /** Turns the text (of the flag, the variable or the file) into the value; throws ValueMistake. */
  parse?: (text: string) => T;
};

export type FlagTable = Readonly<Record<string, FlagSpec<any>>>;

/** The value a flag's table entry yields: parsed, defaulted, a list for a repeatable flag. */
export type FlagValue<S> = S extends { type: "boolean" }
  ? boolean
  : S extends { parse: (text: string) => infer T }
    ? S extends { multiple: true }
      ? T[]
      : S extends { default: unknown }
        ? T
        : T | undefined
    : S extends { multiple: true }
      ? string[]
      : S extends { default: string }
        ? string
        : string | undefined;

export type FlagValues<Table> = { -readonly [K in keyof Table]: FlagValue<Table[K]> };

/** What util.parseArgs found: texts by flag name. */
export type FlagTexts = Record<string, string | string[] | boolean | undefined>;

/** Where a value came from, as --print-config prints it. */
export type SettingSource = { kind: "flag" | "env" | "file" | "default"; label: string };

/**
 * A value a setting cannot take. `expected` is worded `invalid --port "x": expected <expected>`;
 * a `phrase` stands as it is. Either way the source is named in front when it is not the flag.
 */
export class ValueMistake extends Error {
  readonly expected: string | undefined;
  private constructor(expected: string | undefined, phrase: string) {
    super(phrase);
    this.expected = expected;
  }

  static expected(what: string): ValueMistake {
    return new ValueMistake(what, what);
  }

  static phrase(text: string): ValueMistake {
    return new ValueMistake(undefined, text);
  }
}

/**
 * The one spelling of a flag's environment variable: GNP_, the name in upper case, `-` as `_`.
 *
 * @example envName("max-connections") // "GNP_MAX_CONNECTIONS"
 */
export function envName(flag: string): string {
  return `GNP_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * How the user wrote setting `name` that came from `source`: `--ca`, `GNP_CA`, or
 * `ca (from gnp.toml)` (`file` is the settings file's path); a default is named as its flag.
 *
 * @example settingOrigin("ca", { source: { kind: "env", label: "env GNP_CA" } }) // "GNP_CA"
 */
export function settingOrigin(name: string, where: { source: SettingSource; file?: string | undefined }): string {
  if (where.source.kind === "env") return envName(name);
  if (where.source.kind === "file") return `${name} (from ${where.file ?? "the settings file"})`;
  return `--${name}`;
}

/**
 * util.parseArgs over a table. A mistake is one CliFailure line (exit 2), after `command: `
 * when one is given.
 *
 * @example const { texts, positionals } = parseCommandLine(argv, CALL_FLAGS, { command: "call", positionals: true });
 */
export function parseCommandLine(
  argv: readonly string[],
  table: FlagTable,
  options: { command?: string; positionals?: boolean },
): { texts: FlagTexts; positionals: string[] } {
  const specs = Object.fromEntries(
    Object.entries(table).map(([name, flag]) => [name, { type: flag.type, ...(flag.multiple ? { multiple: true } : {}), ...(flag.short ? { short: flag.short } : {}) }]),
  );
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: specs as never, strict: true, allowPositionals: options.positionals === true });
    // parseArgs cannot type a table built at run time; the table says what each flag holds.
    return { texts: values as FlagTexts, positionals };
  } catch (error) {
    const mistake = flagMistake(error, { argv, flags: Object.keys(table) });
    throw new CliFailure(options.command === undefined ? mistake : `${options.command}: ${mistake}`, 2);
  }
}

/**
 * util.parseArgs's error, said for a person: its first sentence, for a value that starts with
 * "-" (`--max-body -1`), which it calls "ambiguous", the flag and the value it refused, and
 * for an unknown flag the one of `flags` it was probably meant to be.
 */
export function flagMistake(error: unknown, given: { argv: readonly string[]; flags: readonly string[] }): string {
  const { argv, flags } = given;
  const message = describe(error);
  const unknown = /^Unknown option '--([^'=]+)'/.exec(message);
  if (unknown) return `Unknown option '--${unknown[1]}'${didYouMean(unknown[1]!, flags, (flag) => `--${flag}`)}`;
  const ambiguous = /Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
  if (ambiguous) {
    const flag = ambiguous[1]!;
    const value = argv[argv.indexOf(flag) + 1] ?? "";
    return `invalid ${flag} ${JSON.stringify(value)}: a value may not start with "-"`;
  }
  // parseArgs appends advice about "--" that reads oddly after an unknown flag.
  return message.split("\n")[0]!.split(". To specify")[0]!;
}

/** --help lines for `names` of a table (all by default): `  --name ARG` then the help text. */
export function flagHelp(table: FlagTable, names: readonly string[] = Object.keys(table)): string {
  const lefts = names.map((name) => {
    const flag = table[name]!;
    return `  --${name}${flag.type === "string" ? ` ${flag.arg ?? "VALUE"}` : ""}`;
  });
  // One column for the help texts, wide enough that the longest flag keeps a space before its text.
  const width = Math.max(30, ...lefts.map((left) => left.length + 2));
  return names.map((name, index) => lefts[index]!.padEnd(width) + table[name]!.help).join("\n");
}

/** The settings file's values as the reader takes them: flag name to flag text. */
export type FileValues = { path: string; values: Readonly<Record<string, string | string[]>> };

/**
 * Reads each flag of a table from the command line, then its GNP_* variable, then the settings
 * file, then its default, parsing the winner and naming its source in any mistake.
 *
 * @example const values = new FlagReader(SERVE_FLAGS, { texts, env, file }).readAll();
 */
export class FlagReader<Table extends FlagTable> {
  readonly #table: Table;
  readonly #texts: FlagTexts;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #file: FileValues | undefined;
  /** Flags the file may set; all by default. */
  readonly #fromFile: ((name: string) => boolean) | undefined;

  constructor(
    table: Table,
    sources: { texts: FlagTexts; env: Readonly<Record<string, string | undefined>>; file?: FileValues | undefined; fromFile?: (name: string) => boolean },
  ) {
    this.#table = table;
    this.#texts = sources.texts;
    this.#env = sources.env;
    this.#file = sources.file;
    this.#fromFile = sources.fromFile;
  }

  /** Every flag of the table, read. */
  readAll(): FlagValues<Table> {
    const values: Record<string, unknown> = {};
    for (const name of Object.keys(this.#table)) values[name] = this.read(name);
    return values as FlagValues<Table>;
  }

  /** One flag, read: the winning text parsed, or the default. */
  read<K extends keyof Table & string>(name: K): FlagValue<Table[K]> {
    const flag = this.#table[name]!;
    const found = this.#find(name);
    if (flag.type === "boolean") return (found !== undefined && this.#parse(name, found.text, found.source) === true) as FlagValue<Table[K]>;
    if (found === undefined) return (flag.default ?? (flag.multiple ? [] : undefined)) as FlagValue<Table[K]>;
    return this.#parse(name, found.text, found.source) as FlagValue<Table[K]>;
  }

  /** Where the value of `name` comes from. */
  source(name: string): SettingSource {
    return this.#find(name)?.source ?? { kind: "default", label: "default" };
  }

  /**
   * How the user wrote the setting, for a line about the value it holds (a file it names that
   * cannot be read): `--ca`, `GNP_CA`, or `ca (from gnp.toml)`; a default is named as its flag.
   *
   * @example `cannot read ${reader.origin("ca")} ${path}: no such file` // "cannot read GNP_CA /pki/ca.crt: ..."
   */
  origin(name: string): string {
    return settingOrigin(name, { source: this.source(name), file: this.#file?.path });
  }

  /**
   * Parses every value the file holds, set elsewhere or not, so that a mistake in the file is
   * found (and named with the file) even while a flag or a variable overrides it.
   */
  checkFile(): void {
    const file = this.#file;
    if (file === undefined) return;
    for (const [name, text] of Object.entries(file.values)) {
      if (name in this.#table) this.#parse(name, text, { kind: "file", label: `file ${file.path}` });
    }
  }

  #find(name: string): { text: string | string[] | boolean; source: SettingSource } | undefined {
    const flag = this.#table[name]!;
    const given = this.#texts[name];
    if (typeof given === "string" || given === true || (Array.isArray(given) && given.length > 0)) return { text: given, source: { kind: "flag", label: `flag --${name}` } };
    if (flag.env !== false) {
      const variable = envName(name);
      const text = this.#env[variable];
      if (text !== undefined && text !== "") {
        const source: SettingSource = { kind: "env", label: `env ${variable}` };
        if (flag.type === "boolean") return { text: text === "1", source };
        if (flag.multiple) {
          const items = text.split(",").map((item) => item.trim()).filter(Boolean);
          if (items.length > 0) return { text: items, source };
        } else return { text, source };
      }
    }
    const file = this.#file;
    if (file !== undefined && flag.file !== false && (this.#fromFile?.(name) ?? true)) {
      const text = file.values[name];
      if (text !== undefined) return { text: flag.multiple && !Array.isArray(text) ? [text] : text, source: { kind: "file", label: `file ${file.path}` } };
    }
    return undefined;
  }

  #parse(name: string, text: string | string[] | boolean, source: SettingSource): unknown {
    const flag = this.#table[name]!;
    // A settings file writes a switch as `allow-stale-crl = true`; anything else there is a mistake.
    if (flag.type === "boolean" && typeof text === "string") {
      if (text === "true" || text === "false") return text === "true";
      throw new CliFailure(this.#word(ValueMistake.expected("true or false"), { name, text, source }), 2);
    }
    if (typeof text === "boolean" || flag.parse === undefined) return text;
    const parse = flag.parse;
    const one = (item: string) => {
      try {
        return parse(item);
      } catch (error) {
        if (!(error instanceof ValueMistake)) throw error;
        throw new CliFailure(this.#word(error, { name, text: item, source }), 2);
      }
    };
    return Array.isArray(text) ? text.map(one) : one(text);
  }

  #word(mistake: ValueMistake, value: { name: string; text: string; source: SettingSource }): string {
    const { name, text, source } = value;
    const where = source.kind === "env" ? envName(name) : source.kind === "file" ? this.#file!.path : `--${name}`;
    if (mistake.expected === undefined) return `${where}: ${mistake.message}`;
    const phrase = `invalid --${name} ${JSON.stringify(text)}: expected ${mistake.expected}`;
    return source.kind === "flag" ? phrase : `${where}: ${phrase}`;
  }
}

/**
 * A parse for a number within `limit` (from options.ts, where every range lives).
 *
 * @example "max-body": { type: "string", parse: numberWithin(LIMITS.maxBody), ... }
 */
export function numberWithin(limit: Limit): (text: string) => number {
  return (text) => {
    const value = text.trim() === "" ? NaN : Number(text);
    if (!withinLimit(limit, value)) throw ValueMistake.expected(expectedBy(limit));
    return value;
  };
}
