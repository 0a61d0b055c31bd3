// Structured logging for the server process: one line per event, never more, as JSON (for
// collectors) or as `time LEVEL event key=value ...` (for a person at a terminal). Events
// below the configured level cost one comparison. Callers pass only plain fields; nothing
// here reads keys, certificates or bodies, so nothing secret can reach a line by accident.

export const LOG_LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;
export type LogFormat = "text" | "json";
export type LogValue = string | number | boolean | null | undefined;
export type LogFields = Readonly<Record<string, LogValue>>;

export type LoggerOptions = {
  level?: LogLevel;
  format?: LogFormat;
  /** Receives each finished line, newline included (e.g. process.stderr.write). */
  write: (line: string) => void;
  /** Fields on every line, e.g. `{ worker: 2 }`. */
  base?: LogFields;
  /** For tests: the clock behind the `time` field. */
  now?: () => Date;
};

/** Plain text values that need no quoting: no spaces, quotes, `=` or control bytes. */
const BARE = /^[\x21-\x7e]+$/;
const NEEDS_QUOTES = /["=\\]/;

/**
 * A levelled logger that writes one line per event.
 *
 * @example
 * const log = new Logger({ level: "info", format: "json", write: (line) => process.stderr.write(line) });
 * log.warn("refused", { remote: "127.0.0.1", code: "CERT_EXPIRED" });
 * // {"time":"2026-05-01T10:00:00.000Z","level":"warn","event":"refused","remote":"127.0.0.1","code":"CERT_EXPIRED"}
 */
export class Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  readonly #threshold: number;
  readonly #write: (line: string) => void;
  readonly #base: LogFields;
  readonly #now: () => Date;

  constructor(options: LoggerOptions) {
    this.level = options.level ?? "info";
    this.format = options.format ?? "text";
    if (!(this.level in LOG_LEVELS)) throw new RangeError(`unknown log level ${JSON.stringify(this.level)}: expected debug, info, warn or error`);
    if (this.format !== "text" && this.format !== "json") throw new RangeError(`unknown log format ${JSON.stringify(this.format)}: expected text or json`);
    this.#threshold = LOG_LEVELS[this.level];
    this.#write = options.write;
    this.#base = options.base ?? {};
    this.#now = options.now ?? (() => new Date());
  }

  /** True when events of `level` are written; lets callers skip building fields (or hooks). */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS[level] >= this.#threshold;
  }

  /** A logger writing to the same place with extra fields on every line. */
  child(fields: LogFields): Logger {
    return new Logger({ level: this.level, format: this.format, write: this.#write, base: { ...this.#base, ...fields }, now: this.#now });
  }

  debug(event: string, fields?: LogFields): void {
    if (this.#threshold <= LOG_LEVELS.debug) this.#emit("debug", event, fields);
  }

  info(event: string, fields?: LogFields): void {
    if (this.#threshold <= LOG_LEVELS.info) this.#emit("info", event, fields);
  }

  warn(event: string, fields?: LogFields): void {
    if (this.#threshold <= LOG_LEVELS.warn) this.#emit("warn", event, fields);
  }

  error(event: string, fields?: LogFields): void {
    this.#emit("error", event, fields);
  }

  #emit(level: LogLevel, event: string, fields: LogFields | undefined): void {
    const time = this.#now().toISOString();
    const all = fields === undefined ? this.#base : { ...this.#base, ...fields };
    let line: string;
    if (this.format === "json") {
      // Fixed keys first so that a field can never shadow time, level or event.
      const record: Record<string, LogValue> = { time, level, event };
      for (const key in all) if (all[key] !== undefined && !(key in record)) record[key] = all[key];
      line = JSON.stringify(record);
    } else {
      line = `${time} ${level.toUpperCase().padEnd(5)} ${event}`;
      for (const key in all) {
        const value = all[key];
        if (value !== undefined) line += ` ${key}=${textValue(value)}`;
      }
    }
    try {
      this.#write(`${line}\n`);
    } catch {
      // A log sink that fails (a closed pipe) must never take a connection or the server down.
    }
  }
}

/** Quotes a text value when it could be misread: the line stays one line, split on spaces. */
function textValue(value: Exclude<LogValue, undefined>): string {
  const text = String(value);
  return text !== "" && BARE.test(text) && !NEEDS_QUOTES.test(text) ? text : JSON.stringify(text);
}

/**
 * The format when none was asked for: text for a person (the log stream is a terminal),
 * JSON for a collector (a pipe, a file, a container runtime, journald).
 */
export function defaultLogFormat(streamIsTty: boolean): LogFormat {
  return streamIsTty ? "text" : "json";
}
