// The prompt of `gnp call` without a command: a person types `GET users/1` (with the same
// --body/--header/--timeout flags as the shell form) and sees the reply; Sequence numbers are
// the client's business. At a terminal it has line editing and a history kept across runs
// (GNP_HISTORY, default ~/.gnp_history); piped input runs line by line without prompts. A push
// prints as one line with its headers; at a terminal it clears the line being typed, prints,
// and draws the prompt and the typed text again, so a push never breaks what is typed.

import { readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { connect } from "../client/client.ts";
import type { Push } from "../client/message.ts";
import { GnpError } from "../errors.ts";
import { parseCommandLine } from "../config/flags.ts";
import { promptPushLine } from "./call-output.ts";
import { REQUEST_FLAGS, buildRequest, type CallIo } from "./call-request.ts";
import type { ConnectionSettings, Env } from "./connection-flags.ts";
import { CliFailure } from "../io.ts";
import { describe } from "../wording.ts";

const HISTORY_SIZE = 1000;
const HELP = `type a command and its arguments, e.g.  GET users/1   or   PUT users/1 --body '{"a":1}'
flags per line: --body TEXT|@FILE  --header NAME=VALUE (repeatable)  --timeout S
pushes print as: PUSH <sequence> Key=... Op=... Version=... <body>
leave with: quit, exit or Ctrl-D
`;

export type PromptSettings = {
  connection: ConnectionSettings;
  timeoutMs: number;
  io: CallIo;
  stdin: NodeJS.ReadableStream;
  /** A person at a terminal: prompts, line editing, history. */
  terminal: boolean;
  env: Env;
};

/**
 * Runs the prompt until quit, end of input or, for piped input, a lost connection. At a
 * terminal a lost connection (the server's idle timeout during a pause, a restart) is said
 * once and the next command reconnects. Exit code: 2 lost, 1 some ERR, else 0.
 */
export async function runPrompt(settings: PromptSettings): Promise<number> {
  const { io, terminal } = settings;
  // Set while the prompt waits for a line: a push then has a prompt and typed text to redraw.
  let prompting = false;
  const showPush = (push: Push) => {
    const line = `${promptPushLine(push)}\n`;
    if (!terminal || !prompting) return io.stdout(line);
    // Back to the start of the line and clear it, the push, then the prompt and what was typed.
    io.stdout(`\r\x1b[2K${line}`);
    rl.prompt(true);
  };
  const open = () => connect({ ...settings.connection, timeout: settings.timeoutMs, onPush: showPush });
  const historyFile = settings.env.GNP_HISTORY || join(homedir(), ".gnp_history");
  let client = await open();
  const rl = createInterface({
    input: settings.stdin,
    ...(terminal ? { output: process.stdout, history: loadHistory(historyFile), historySize: HISTORY_SIZE } : {}),
    terminal,
    prompt: "gnp> ",
  });
  const prompt = () => {
    prompting = true;
    rl.prompt();
  };
  let history: string[] | undefined;
  rl.on("history", (lines: string[]) => (history = lines));
  let lost: GnpError | undefined;
  const watch = (current: typeof client) =>
    void current.closed.then((error) => {
      if (error === undefined || current !== client) return;
      lost = error;
      if (!terminal) rl.close();
      else io.stderr(`\nconnection closed: ${error.message}; the next command reconnects\n`);
    });
  watch(client);
  if (terminal) {
    io.stderr(`connected to ${client.host}:${client.port} ("help" for help)\n`);
    prompt();
  }
  let sawError = false;
  for await (const line of rl) {
    prompting = false;
    if (lost !== undefined && terminal && !LOCAL_WORDS.has(line.trim().split(/\s+/)[0]!.toLowerCase())) {
      try {
        client = await open();
        lost = undefined;
        watch(client);
        io.stderr(`reconnected to ${client.host}:${client.port}\n`);
      } catch (error) {
        io.stderr(`gnp: ${describe(error)}\n`);
        sawError = true;
        prompt();
        continue;
      }
    }
    const outcome = await runLine(line, { client, io, terminal });
    if (outcome === "quit") break;
    if (outcome === "error") sawError = true;
    if (lost !== undefined && !terminal) break;
    if (terminal) prompt();
  }
  rl.close();
  if (terminal && history !== undefined) saveHistory(historyFile, history);
  if (lost !== undefined && !terminal) {
    io.stderr(`gnp: ${lost.message}\n`);
    return 2;
  }
  await client.close();
  return sawError ? 1 : 0;
}

type Outcome = "ok" | "error" | "quit";

/** Lines the prompt answers itself: no connection needed for them. */
const LOCAL_WORDS = new Set(["", "quit", "exit", "help"]);

async function runLine(line: string, to: { client: Awaited<ReturnType<typeof connect>>; io: CallIo; terminal: boolean }): Promise<Outcome> {
  const { client, io, terminal } = to;
  let words: string[];
  try {
    words = splitWords(line);
  } catch (error) {
    io.stderr(`gnp: ${describe(error)}\n`);
    return "error";
  }
  const first = words[0]?.toLowerCase();
  if (first === undefined) return "ok";
  if (first === "quit" || first === "exit") return "quit";
  if (first === "help" && words.length === 1) {
    io.stderr(HELP);
    return "ok";
  }
  try {
    const { texts: values, positionals } = parseCommandLine(words, REQUEST_FLAGS, { command: "call", positionals: true });
    if (positionals.length === 0) throw new CliFailure("a COMMAND comes first", 2);
    // No @- here: standard input is where the prompt reads its lines.
    if (values.body === "@-") throw new CliFailure("--body @- is not available at the prompt: use TEXT or @FILE", 2);
    const request = await buildRequest(positionals, { values, stdin: undefined });
    const reply = await client.call(request.command, request.args, request.options);
    // A person sees that an empty reply arrived; a script reading stdout sees nothing added.
    if (reply.body.length === 0 && terminal) io.stderr("(OK, empty body)\n");
    io.stdout(reply.body);
    // One reply per line, so that the next prompt (or the next reply) starts on its own line.
    if (reply.body.length > 0 && reply.body[reply.body.length - 1] !== 0x0a) io.stdout("\n");
    return "ok";
  } catch (error) {
    if (error instanceof GnpError && error.code === "REPLY_ERROR") io.stderr(`ERR ${error.message}\n`);
    else if (!(error instanceof GnpError && error.code === "CONNECTION_LOST")) io.stderr(`gnp: ${describe(error)}\n`);
    return "error";
  }
}

/**
 * Splits a line into words as a shell would, for the cases people type: spaces separate,
 * '...' keeps everything, "..." and bare words honour backslash escapes.
 *
 * @example
 * splitWords(`PUT users/1 --body '{"a": 1}'`) // ["PUT", "users/1", "--body", '{"a": 1}']
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new CliFailure(`unterminated ${quote} quote`, 2);
  if (inWord) words.push(word);
  return words;
}

function loadHistory(file: string): string[] {
  try {
    // readline wants the newest entry first; the file keeps the oldest first, like a shell's.
    return readFileSync(file, "utf8").split("\n").filter(Boolean).slice(-HISTORY_SIZE).reverse();
  } catch {
    return [];
  }
}

function saveHistory(file: string, newestFirst: string[]): void {
  try {
    writeFileSync(file, `${newestFirst.slice(0, HISTORY_SIZE).reverse().join("\n")}\n`, { mode: 0o600 });
  } catch {
    // A history that cannot be saved is not worth failing the session for.
  }
}
