// How CLI commands talk to the world: output through an injectable io (tests capture it),
// failures as one line on stderr and an exit code, never a stack trace. It sits below cli/,
// serve/ and config/ because all three report through it.

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
