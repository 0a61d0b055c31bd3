// `gnp serve` and `gnp check` as commands: flags, environment and settings file read once into
// a configuration; --help, --check and --print-config answered here (they print and exit,
// creating nothing; --print-config then checks as --check does, so that it fails where a start
// would), and everything else handed to the running process in src/serve/.

import type { CliIo } from "../io.ts";
import { CliFailure } from "../io.ts";
import { resolveServeConfig } from "../config/serve-config.ts";
import { SERVE_FLAGS, serveUsage } from "../config/serve-flags.ts";
import { checkConfig } from "../serve/check.ts";
import { INTERNAL_VARIABLES, serve } from "../serve/serve.ts";
import { reportCheck } from "./check.ts";
import type { CommandModule } from "./command.ts";
import { formatServeConfig } from "./print-config.ts";

/**
 * The `gnp serve` command: runs until SIGINT or SIGTERM, then exits 0 after a graceful close
 * (src/serve/runtime.ts). With --workers above 1 this process supervises that many workers
 * instead (src/serve/supervise.ts). `warnings` (unknown GNP_* variables) are logged at start.
 */
export async function runServe(argv: string[], io: CliIo, context: { warnings?: readonly string[] } = {}): Promise<number> {
  const warnings = context.warnings ?? [];
  const config = resolveServeConfig(argv, { env: process.env });
  // --help, --check and --print-config only print, whatever the worker count says.
  if (config.settings.help) {
    io.stdout(serveUsage());
    return 0;
  }
  if (config.values.check) return reportCheck(config, { io, warnings });
  if (config.printConfig) {
    for (const warning of warnings) io.stderr(`gnp: warning: ${warning}\n`);
    io.stdout(formatServeConfig(config));
    // What is printed is what a start would run with; it must fail where the start would.
    try {
      await checkConfig(config);
    } catch (error) {
      throw new CliFailure((error as Error).message, 1);
    }
    return 0;
  }
  return serve(config, { argv, io, env: process.env, warnings });
}

/**
 * The `gnp check` command: `gnp serve --check` with the same flags. Every mistake exits 1,
 * a flag's too, since what it checks is whether a start would fail.
 */
export async function runCheck(argv: string[], io: CliIo, context: { warnings?: readonly string[] } = {}): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout(serveUsage().replace("usage: gnp serve [flags]", "usage: gnp check [flags]     the checks of gnp serve --check, with the flags of gnp serve"));
    return 0;
  }
  try {
    return await runServe([...argv, "--check"], io, context);
  } catch (error) {
    if (error instanceof CliFailure) throw new CliFailure(error.message.replace(/^serve: /, "check: "), 1);
    throw error;
  }
}

/** `gnp serve` for the entry point: it logs the warnings about GNP_* variables itself. */
export const SERVE_COMMAND: CommandModule = {
  run: (argv, io, context) => runServe(argv, io, context),
  flags: SERVE_FLAGS,
  variables: INTERNAL_VARIABLES,
  reportsWarnings: true,
};

/** `gnp check` for the entry point: it prints the warnings about GNP_* variables with its own. */
export const CHECK_COMMAND: CommandModule = {
  run: (argv, io, context) => runCheck(argv, io, context),
  flags: SERVE_FLAGS,
  variables: INTERNAL_VARIABLES,
  reportsWarnings: true,
};
