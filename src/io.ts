// How CLI commands talk to the world: output through an injectable io (tests capture it),
// failures as one line on stderr and an exit code, never a stack trace.

import { describe } from "./wording.ts";

export type CliIo = {
  stdout: (chunk: string | Uint8Array) => void;
  stderr: (text: string) => void;
};

export const processIo: CliIo = {
  stdout: (chunk) => void process.stdout.write(chunk),
  stderr: (text) => void process.stderr.write(text),
};

/** A failure the CLI reports as `gnp: <message>` with this exit code. */
export class CliFailure extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/**
 * util.parseArgs's errors, said for a person: its first sentence, and for a value that starts
 * with "-" (`--max-body -1`), which it calls "ambiguous", the flag and the value it refused.
 */
export function flagsFailure(command: string, error: unknown, argv: readonly string[]): CliFailure {
  const message = describe(error);
  const ambiguous = /Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message);
  if (ambiguous) {
    const flag = ambiguous[1]!;
    const value = argv[argv.indexOf(flag) + 1] ?? "";
    return new CliFailure(`${command}: invalid ${flag} ${JSON.stringify(value)}: a value may not start with "-"`, 2);
  }
  return new CliFailure(`${command}: ${message.split("\n")[0]!.split(". To specify")[0]}`, 2);
}
