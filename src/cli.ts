#!/usr/bin/env bun
// The `gnp` command: one entry point, one subcommand per job, listed once in COMMANDS (loaded
// only when it runs). Each subcommand returns an exit code; a failure is one line on stderr
// (`gnp: ...`), never a stack trace. A mistyped command gets a "did you mean", and a GNP_*
// variable that no command reads gets a warning before the command runs.

import { GnpError } from "./errors.ts";
import type { CommandEntry, CommandModule } from "./cli/command.ts";
import { unknownVariables } from "./cli/variables.ts";
import { CliFailure, processIo } from "./io.ts";
import { describe, didYouMean } from "./wording.ts";
import { VERSION } from "./version.ts";

const VERSION_COMMAND: CommandModule = {
  run: async (_argv, io) => {
    io.stdout(`gnp ${VERSION} (bun ${Bun.version}, ${process.platform}-${process.arch})\n`);
    return 0;
  },
  flags: {},
};

/** Every command, in the order the usage lists them. */
const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  serve: { summary: "run the server (gnp serve --help for its flags)", load: async () => (await import("./cli/serve.ts")).SERVE_COMMAND },
  check: { summary: "check a configuration as gnp serve would, without listening (same flags)", load: async () => (await import("./cli/serve.ts")).CHECK_COMMAND },
  call: { summary: "send one command, stream a WATCH, or open a prompt (gnp call --help)", load: async () => (await import("./cli/call.ts")).CALL_COMMAND },
  bench: { summary: "load-test a server (gnp bench --help)", load: async () => (await import("./cli/bench.ts")).BENCH_COMMAND },
  certs: { summary: "create and inspect certificates (gnp certs --help)", load: async () => (await import("./cli/certs.ts")).CERTS_COMMAND },
  reload: { summary: "make a running server re-read its configuration (gnp reload --help)", load: async () => (await import("./cli/reload.ts")).RELOAD_COMMAND },
  health: { summary: "exit 0 when a running server's admin listener says ready (gnp health --help)", load: async () => (await import("./cli/health.ts")).HEALTH_COMMAND },
  completion: { summary: "print a shell completion script: gnp completion bash|zsh|fish", load: async () => (await import("./cli/completion.ts")).COMPLETION_COMMAND },
  version: { summary: "print the version", load: async () => VERSION_COMMAND },
};

const USAGE = `usage: gnp <command> [flags]

commands:
${Object.entries(COMMANDS)
  .map(([name, entry]) => `  ${name.padEnd(11)} ${entry.summary}`)
  .join("\n")}
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "--version":
    case "-v":
      return VERSION_COMMAND.run([], processIo, { warnings: [], commands: COMMANDS });
    case undefined:
    case "help":
    case "--help":
    case "-h":
      processIo.stdout(USAGE);
      return command === undefined ? 2 : 0;
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (entry === undefined) {
    processIo.stderr(`gnp: unknown command ${JSON.stringify(command)}${didYouMean(command, Object.keys(COMMANDS))}\n${USAGE}`);
    return 2;
  }
  const running = await entry.load();
  const warnings = await unknownVariables(process.env, { running, commands: COMMANDS });
  if (running.reportsWarnings !== true) for (const warning of warnings) processIo.stderr(`gnp: warning: ${warning}\n`);
  return running.run(rest, processIo, { warnings, commands: COMMANDS });
}

try {
  const code = await main(process.argv.slice(2));
  process.exit(code);
} catch (error) {
  const exitCode = error instanceof CliFailure ? error.exitCode : 1;
  const message = error instanceof CliFailure || error instanceof GnpError ? error.message : describe(error);
  processIo.stderr(`gnp: ${message}\n`);
  process.exit(exitCode);
}
