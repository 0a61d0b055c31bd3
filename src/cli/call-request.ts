// What `gnp call` and its prompt share: the request flags (--body, --header, --timeout) and how
// they become a client.call(), and the io `gnp call` writes through. Every mistake is one
// CliFailure line with exit code 2.

import { readFileSync } from "node:fs";
import type { CallOptions } from "../client/connect-options.ts";
import type { Reply } from "../client/message.ts";
import type { FlagSpec, FlagTexts } from "../config/flags.ts";
import { CliFailure, processIo, type CliIo } from "../io.ts";
import { systemReason } from "../wording.ts";

export type CallIo = CliIo & {
  /** Where `--body @-` and the prompt read from. Default: process.stdin. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** True when stdout is a terminal: a newline is added after a body that lacks one. */
  stdoutIsTTY?: boolean;
};

export const DEFAULT_CALL_TIMEOUT_S = 10;

/** The flags a request takes, on the command line and on a prompt line alike. */
export const REQUEST_FLAGS = {
  body: { type: "string", arg: "BODY", env: false, help: "request body: TEXT, @FILE, or @- for standard input" },
  header: { type: "string", arg: "NAME=VALUE", multiple: true, env: false, help: "request header NAME=VALUE (repeatable)" },
  timeout: { type: "string", arg: "S", env: false, help: `seconds to wait for the reply (default ${DEFAULT_CALL_TIMEOUT_S}; 0 = forever)` },
} as const satisfies Record<string, FlagSpec>;

/** A request ready for client.call(). */
export type CallRequest = { command: string; args: string[]; options: CallOptions };

/** Writes a reply body as raw bytes, ending a line for a person at a terminal. */
export function writeBody(reply: Reply, io: CallIo): void {
  io.stdout(reply.body);
  const stdoutIsTTY = io.stdoutIsTTY ?? (io.stdout === processIo.stdout && process.stdout.isTTY === true);
  if (stdoutIsTTY && reply.body.length > 0 && reply.body[reply.body.length - 1] !== 0x0a) io.stdout("\n");
}

/** Turns COMMAND ARG... and the request flags into a call. Mistakes are CliFailure, exit 2. */
export async function buildRequest(
  words: readonly string[],
  flags: { values: FlagTexts; stdin: NodeJS.ReadableStream | undefined },
): Promise<CallRequest> {
  const { values, stdin } = flags;
  const [command, ...args] = words as [string, ...string[]];
  const options: CallOptions = {};
  if (typeof values.body === "string") options.body = await readBody(values.body, stdin);
  if (Array.isArray(values.header)) {
    options.headers = values.header.map((text): [string, string] => {
      const eq = text.indexOf("=");
      if (eq <= 0) throw new CliFailure(`invalid --header ${JSON.stringify(text)}: expected NAME=VALUE`, 2);
      return [text.slice(0, eq), text.slice(eq + 1)];
    });
  }
  if (values.timeout !== undefined) options.timeout = seconds(values.timeout);
  return { command, args, options };
}

async function readBody(text: string, stdin: NodeJS.ReadableStream | undefined): Promise<string | Uint8Array> {
  if (!text.startsWith("@")) return text;
  const path = text.slice(1);
  if (path === "-") {
    if (stdin === undefined) throw new CliFailure("--body @- needs standard input", 2);
    const chunks: Uint8Array[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array));
    return Buffer.concat(chunks);
  }
  try {
    return readFileSync(path);
  } catch (error) {
    throw new CliFailure(`cannot read --body @${path}: ${systemReason(error)}`, 2);
  }
}

/** Milliseconds from a --timeout in seconds (default 10). */
export function seconds(value: string | string[] | boolean | undefined): number {
  if (typeof value !== "string") return DEFAULT_CALL_TIMEOUT_S * 1000;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 2_000_000) {
    throw new CliFailure(`invalid --timeout ${JSON.stringify(value)}: expected seconds from 0 (forever) to 2000000`, 2);
  }
  return Math.round(n * 1000);
}
