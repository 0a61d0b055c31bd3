#!/usr/bin/env bun
// The `gnp` command: one entry point, one subcommand per job. Each subcommand returns an
// exit code; a failure is one line on stderr (`gnp: ...`), never a stack trace.

import { GnpError } from "./errors.ts";
import { CliFailure, processIo } from "./io.ts";
import { describe } from "./wording.ts";
import { VERSION } from "./version.ts";

const USAGE = `usage: gnp <command> [flags]

commands:
  serve     run the server (gnp serve --help for its flags)
  call      send one command, or open a prompt (gnp call --help)
  bench     load-test a server (gnp bench --help)
  certs     create and inspect certificates (gnp certs --help)
  reload    make a running server re-read its configuration (gnp reload --help)
  health    exit 0 when a running server's admin listener says ready (gnp health --help)
  version   print the version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return (await import("./cli/serve.ts")).runServe(rest, processIo);
    case "call":
      return (await import("./cli/call.ts")).runCall(rest, processIo);
    case "bench":
      return (await import("./cli/bench.ts")).runBench(rest, processIo);
    case "certs":
      return (await import("./cli/certs.ts")).runCerts(rest, processIo);
    case "reload":
      return (await import("./cli/reload.ts")).runReload(rest, processIo);
    case "health":
      return (await import("./cli/health.ts")).runHealth(rest, processIo);
    case "version":
    case "--version":
    case "-v":
      processIo.stdout(`gnp ${VERSION} (bun ${Bun.version}, ${process.platform}-${process.arch})\n`);
      return 0;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      processIo.stdout(USAGE);
      return command === undefined ? 2 : 0;
    default:
      processIo.stderr(`gnp: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
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
