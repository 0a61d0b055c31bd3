// `gnp call`: one command from the shell, a stream of a WATCH's pushes, or a prompt when no
// command is given. The reply body goes to stdout as raw bytes (so it pipes), an ERR reply's
// message to stderr; with --json each reply or push is one JSON object on stdout. Exit codes:
// 0 OK, 1 ERR reply, 2 anything that kept the call from being answered (bad flags, no
// certificate, could not connect, refused, timed out, connection lost).

import { connect } from "../client/client.ts";
import type { Reply } from "../client/message.ts";
import { GnpError } from "../errors.ts";
import { runPrompt } from "./call-prompt.ts";
import { FlagReader, flagHelp, numberWithin, parseCommandLine, type FlagSpec } from "../config/flags.ts";
import { errShown, messageJson } from "./call-output.ts";
import { DEFAULT_KEEPALIVE_S, streamPushes } from "./call-stream.ts";
import { REQUEST_FLAGS, buildRequest, seconds, writeBody, DEFAULT_CALL_TIMEOUT_S, type CallIo, type CallRequest } from "./call-request.ts";
import { CONNECTION_FLAGS, connectionUsage, explainFailure, resolveConnection, type ConnectionSettings, type Env } from "./connection-flags.ts";
import { CliFailure, processIo } from "../io.ts";
import { describe } from "../wording.ts";
import type { CommandModule } from "./command.ts";

export type { CallIo } from "./call-request.ts";

const CALL_FLAGS = {
  ...REQUEST_FLAGS,
  verbose: { type: "boolean", short: "v", env: false, help: "print the reply's status line and headers to stderr" },
  json: { type: "boolean", env: false, help: "print the reply (or each push, or the ERR) as one JSON object: status, headers, body" },
  count: {
    type: "string",
    arg: "N",
    env: false,
    parse: numberWithin({ min: 1, max: 1e9, whole: true, seconds: false, positive: false }),
    help: "stream the command's pushes and stop after N (WATCH streams until Ctrl-C without it)",
  },
  keepalive: {
    type: "string",
    arg: "S",
    env: false,
    default: DEFAULT_KEEPALIVE_S,
    parse: numberWithin({ min: 0, max: 3600, whole: false, seconds: true, positive: false }),
    help: `while streaming, seconds between the PINGs that keep a quiet connection open (default ${DEFAULT_KEEPALIVE_S}; 0 = none)`,
  },
  ...CONNECTION_FLAGS,
  help: { type: "boolean", short: "h", env: false, help: "show this help" },
} as const satisfies Record<string, FlagSpec>;

/**
 * Runs `gnp call` with the arguments after the subcommand and returns the exit code.
 *
 * @example
 * process.exit(await runCall(["GET", "users/1"], processIo));
 */
export async function runCall(argv: string[], io: CallIo, options: { env?: Env } = {}): Promise<number> {
  const env = options.env ?? process.env;
  let connection: ConnectionSettings | undefined;
  try {
    const { texts: values, positionals } = parseCommandLine(argv, CALL_FLAGS, { command: "call", positionals: true });
    if (values.help === true) {
      io.stdout(callUsage());
      return 0;
    }
    connection = resolveConnection(values, { env });
    const stdin = io.stdin ?? process.stdin;
    if (positionals.length === 0) {
      if (values.body !== undefined || values.header !== undefined) throw new CliFailure("--body and --header need a COMMAND", 2);
      const stdoutIsTTY = io.stdoutIsTTY ?? (io.stdout === processIo.stdout && process.stdout.isTTY === true);
      return await runPrompt({ connection, timeoutMs: seconds(values.timeout), io, stdin, terminal: stdin.isTTY === true && stdoutIsTTY, env });
    }
    const request = await buildRequest(positionals, { values, stdin });
    const json = values.json === true;
    const flags = new FlagReader(CALL_FLAGS, { texts: values, env: {} });
    const count = flags.read("count");
    if (count !== undefined || request.command.toUpperCase() === "WATCH") {
      return await streamPushes(connection, request, { io, json, count, verbose: values.verbose === true, keepaliveMs: flags.read("keepalive") * 1000 });
    }
    return await callOnce(connection, request, { verbose: values.verbose === true, json, io });
  } catch (error) {
    const exitCode = error instanceof CliFailure ? error.exitCode : 2;
    io.stderr(`gnp: ${error instanceof GnpError ? explainFailure(error, connection) : error instanceof CliFailure ? error.message : describe(error)}\n`);
    return exitCode;
  }
}

async function callOnce(connection: ReturnType<typeof resolveConnection>, request: CallRequest, out: { verbose: boolean; json: boolean; io: CallIo }): Promise<number> {
  const { verbose, json, io } = out;
  const timeout = request.options.timeout ?? DEFAULT_CALL_TIMEOUT_S * 1000;
  const client = await connect({ ...connection, timeout });
  // The first request on its connection: its Sequence is known, for an ERR shown as JSON.
  const sequence = "1";
  try {
    const reply = await client.call(request.command, request.args, { ...request.options, sequence });
    if (verbose) io.stderr(describeReply(reply));
    if (json) io.stdout(`${messageJson(reply)}\n`);
    else writeBody(reply, io);
    return 0;
  } catch (error) {
    if (error instanceof GnpError && error.code === "REPLY_ERROR") {
      if (json) io.stdout(`${messageJson(errShown(sequence, error.message))}\n`);
      else io.stderr(`ERR ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    await client.close();
  }
}

export function describeReply(reply: Reply): string {
  return `${reply.status}\n${reply.headers.map(([name, value]) => `${name}: ${value}`).join("\n")}\n\n`;
}

export function callUsage(): string {
  const own = flagHelp(
    CALL_FLAGS,
    Object.keys(CALL_FLAGS).filter((name) => !(name in CONNECTION_FLAGS)),
  );
  return (
    "usage: gnp call COMMAND [ARG...] [flags]     one call; the body goes to stdout\n" +
    "       gnp call WATCH PREFIX [--count N]      one line per push (Key Op Version value) until Ctrl-C or N pushes\n" +
    "       gnp call [flags]                       a prompt: type COMMAND ARG... [--body ...] per line\n\n" +
    "exit code: 0 OK, 1 ERR reply (message on stderr), 2 could not connect, refused or timed out\n\n" +
    `${own}\n\nconnection (after \`gnp serve\` in this directory, none are needed):\n${connectionUsage()}\n`
  );
}

/** `gnp call` for the entry point; the prompt's history file is named by GNP_HISTORY. */
export const CALL_COMMAND: CommandModule = { run: (argv, io) => runCall(argv, io), flags: CALL_FLAGS, variables: ["GNP_HISTORY"] };
