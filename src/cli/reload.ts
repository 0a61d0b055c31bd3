// `gnp reload`: asks the `gnp serve` running from this directory to re-read its configuration.
// It reads the pid from DATA/gnp.pid (DATA as `gnp serve` resolves it: --data, GNP_DATA, the
// settings file, .gnp), sends SIGHUP, and waits for the server's report in DATA/reload.json.
// Exit codes: 0 reloaded, 1 refused (the reason on stderr; the old configuration stays),
// 2 no running server found, or no report in time.

import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { findConfigFile } from "../config/config-file.ts";
import { FlagReader, flagHelp, numberWithin, parseCommandLine, type FlagSpec } from "../config/flags.ts";
import { DEFAULT_DATA_DIR } from "../config/serve-flags.ts";
import { CliFailure, type CliIo } from "../io.ts";
import { readPid, readReloadStatus } from "../serve/reload-status.ts";
import type { CommandModule } from "./command.ts";

type Env = Record<string, string | undefined>;

const DEFAULT_TIMEOUT_S = 10;
const POLL_MS = 50;

const RELOAD_FLAGS = {
  data: { type: "string", arg: "DIR", help: `data directory of the server (default ${DEFAULT_DATA_DIR}; env GNP_DATA; or data in the settings file)` },
  config: { type: "string", arg: "FILE", help: "settings file to take data from (default gnp.toml here, if any; env GNP_CONFIG)" },
  timeout: {
    type: "string",
    arg: "S",
    env: false,
    default: DEFAULT_TIMEOUT_S,
    parse: numberWithin({ min: 0, max: 3600, whole: false, seconds: true, positive: true }),
    help: `seconds to wait for the server's answer (default ${DEFAULT_TIMEOUT_S})`,
  },
  help: { type: "boolean", short: "h", env: false, help: "show this help" },
} as const satisfies Record<string, FlagSpec>;

const USAGE = `usage: gnp reload [--data DIR] [--config FILE] [--timeout S]

Sends SIGHUP to the gnp serve whose pid is in DATA/gnp.pid and prints what the reload did
and, on stderr, its warnings (a changed setting that waits for a restart).
exit code: 0 reloaded, 1 refused (the old configuration stays), 2 no server or no answer

${flagHelp(RELOAD_FLAGS, ["data", "config", "timeout"])}
`;

/**
 * Runs `gnp reload` and returns its exit code.
 *
 * @example process.exit(await runReload([], processIo));
 */
export async function runReload(argv: string[], io: CliIo, options: { env?: Env } = {}): Promise<number> {
  const env = options.env ?? process.env;
  const { texts } = parseCommandLine(argv, RELOAD_FLAGS, { command: "reload" });
  const flags = new FlagReader(RELOAD_FLAGS, { texts, env });
  if (flags.read("help")) {
    io.stdout(USAGE);
    return 0;
  }
  const timeoutS = flags.read("timeout");
  const dataDir = resolveDataDir(flags);
  const pid = readPid(dataDir);
  if (pid === undefined) throw new CliFailure(`no running server found: ${dataDir}/gnp.pid does not exist; is gnp serve running with --data ${dataDir}?`, 2);
  const before = readReloadStatus(dataDir);
  const attemptBefore = before?.pid === pid ? before.attempt : 0;
  // A pid file left by a killed server may name a pid the system has since given to another
  // program: signal it only if it is still a `gnp serve`.
  if (!isGnpServe(pid)) {
    throw new CliFailure(`no running server found: pid ${pid} in ${dataDir}/gnp.pid is not a gnp serve process (stale pid file)`, 2);
  }
  try {
    process.kill(pid, "SIGHUP");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new CliFailure(code === "ESRCH" ? `no running server found: pid ${pid} in ${dataDir}/gnp.pid is not running (stale pid file)` : `cannot signal pid ${pid}: ${(error as Error).message}`, 2);
  }
  // Bounded: at most timeout / POLL_MS looks at a small file.
  const polls = Math.ceil((timeoutS * 1000) / POLL_MS);
  for (let poll = 0; poll < polls; poll++) {
    await Bun.sleep(POLL_MS);
    const status = readReloadStatus(dataDir);
    if (status === undefined || status.pid !== pid || status.attempt <= attemptBefore) continue;
    if (status.ok) {
      io.stdout(`reloaded (pid ${pid}, generation ${status.generation}): ${status.message}\n`);
      for (const warning of status.warnings) io.stderr(`gnp: warning: ${warning}\n`);
      return 0;
    }
    io.stderr(`gnp: reload refused, the old configuration stays: ${status.message}\n`);
    return 1;
  }
  throw new CliFailure(`sent SIGHUP to pid ${pid}, but it did not report within ${timeoutS} s (${dataDir}/reload.json)`, 2);
}

/**
 * DATA as `gnp serve` resolves it: flag, environment, settings file, default. The file is read
 * leniently: the point of a reload may be to find out what is wrong with it, and only the
 * server's own check of it counts.
 */
function resolveDataDir(flags: FlagReader<typeof RELOAD_FLAGS>, cwd: string = process.cwd()): string {
  const given = flags.read("data");
  if (given !== undefined) return given;
  const path = findConfigFile(flags.read("config"), cwd);
  if (path === undefined) return DEFAULT_DATA_DIR;
  let data: unknown;
  try {
    data = (Bun.TOML.parse(readFileSync(resolve(cwd, path), "utf8")) as Record<string, unknown>).data;
  } catch {
    return DEFAULT_DATA_DIR;
  }
  // Relative to the file, as `gnp serve` takes it.
  return typeof data === "string" && data !== "" ? relative(cwd, resolve(dirname(resolve(cwd, path)), data)) || "." : DEFAULT_DATA_DIR;
}

/** Whether `pid` runs `gnp serve` (from source or the executable), read from /proc; true where /proc is missing. */
function isGnpServe(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    // No such process: let kill() report it. No /proc at all (not Linux): cannot tell, trust the file.
    return code === "ENOENT" ? !existsSync("/proc/self") : true;
  }
  const args = cmdline.split("\0");
  return args.includes("serve") && args.some((arg) => /(^|\/)(gnp|cli\.ts)$/.test(arg) || arg.endsWith("/gnp"));
}

/** `gnp reload` for the entry point. */
export const RELOAD_COMMAND: CommandModule = { run: (argv, io) => runReload(argv, io), flags: RELOAD_FLAGS };
