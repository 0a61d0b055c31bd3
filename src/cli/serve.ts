// `gnp serve` as a command: its flags, environment and settings file read once into a
// configuration, --help and --print-config answered here (they print and exit, creating
// nothing), and everything else handed to the running process in src/serve/.

import type { CliIo } from "../io.ts";
import { resolveServeConfig } from "../config/serve-config.ts";
import { SERVE_FLAGS, serveUsage } from "../config/serve-flags.ts";
import { INTERNAL_VARIABLES, serve } from "../serve/serve.ts";
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
  // --help and --print-config only print, whatever the worker count says.
  if (config.settings.help) {
    io.stdout(serveUsage());
    return 0;
  }
  if (config.printConfig) {
    for (const warning of warnings) io.stderr(`gnp: warning: ${warning}\n`);
    io.stdout(formatServeConfig(config));
    return 0;
  }
  return serve(config, { argv, io, env: process.env, warnings });
}

/** `gnp serve` for the entry point: it logs the warnings about GNP_* variables itself. */
export const SERVE_COMMAND: CommandModule = {
  run: (argv, io, context) => runServe(argv, io, context),
  flags: SERVE_FLAGS,
  variables: INTERNAL_VARIABLES,
  reportsWarnings: true,
};
