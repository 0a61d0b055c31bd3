// What every `gnp` command's module gives the entry point (src/cli.ts): how to run it, and the
// flag tables it reads, so that the usage text, a "did you mean" for a mistyped command, the
// check of GNP_* variables and `gnp completion` are all made from the same tables as --help.

import type { FlagTable } from "../config/flags.ts";
import type { CliIo } from "../io.ts";

/** What the entry point hands a command besides its arguments. */
export type RunContext = {
  /** Lines about GNP_* variables no command reads (a typo); serve logs them, check prints them. */
  warnings: readonly string[];
  /** Every command, for those that describe the others (completion). */
  commands: Readonly<Record<string, CommandEntry>>;
};

export type CommandModule = {
  run: (argv: string[], io: CliIo, context: RunContext) => Promise<number>;
  /** Its flags; a command with subcommands (certs) has one table per subcommand instead. */
  flags: FlagTable;
  subcommands?: Readonly<Record<string, FlagTable>>;
  /** The words its first argument takes, for completion (`gnp completion bash|zsh|fish`). */
  words?: readonly string[];
  /** GNP_* variables it reads besides its flags' own (GNP_HISTORY). */
  variables?: readonly string[];
  /** It reports the warnings of RunContext itself; for the others the entry point prints them. */
  reportsWarnings?: boolean;
};

/** One command as the entry point lists it: loaded only when it runs, or when described. */
export type CommandEntry = { summary: string; load: () => Promise<CommandModule> };
