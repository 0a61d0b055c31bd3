// How `gnp call` writes what the server sent, besides a reply's raw body: a push as one line
// (a stream's, and the prompt's with header names), and any reply, push or ERR as one JSON
// object for --json. A body that is not one line of text is shown JSON-quoted in a line, and
// base64-encoded in JSON when it is not UTF-8, so that one message is always one line.

import type { Message } from "../client/message.ts";

/** The parts of a reply, a push or an ERR that the JSON form shows. */
export type Shown = { status: "OK" | "PUSH" | "ERR"; headers: readonly (readonly [string, string])[]; body: Uint8Array };

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Headers every message carries; a line leaves them out. */
const FRAMING = new Set(["sequence", "size"]);

/**
 * A push as one line of a stream: its header values but Sequence and Size, in wire order (for
 * WATCH: Key, Op, Version), then its body.
 *
 * @example pushLine(push) // 'users/1 PUT 3 {"name":"Jo"}'
 */
export function pushLine(push: Message): string {
  const values = push.headers.filter(([name]) => !FRAMING.has(name.toLowerCase())).map(([, value]) => value);
  return [...values, ...(push.body.length > 0 ? [lineText(push.body)] : [])].join(" ");
}

/**
 * A push as the prompt shows it, naming each header.
 *
 * @example promptPushLine(push) // 'PUSH 1 Key=users/1 Op=PUT Version=3 {"name":"Jo"}'
 */
export function promptPushLine(push: Message): string {
  const named = push.headers.filter(([name]) => !FRAMING.has(name.toLowerCase())).map(([name, value]) => `${name}=${value}`);
  return ["PUSH", push.sequence, ...named, ...(push.body.length > 0 ? [lineText(push.body)] : [])].join(" ");
}

/**
 * One message as a JSON object on one line: status, headers by name (a repeated one's values
 * joined by ", "), and the body as text, or as base64 with `"bodyEncoding": "base64"`.
 *
 * @example messageJson({ status: "OK", headers: [["Sequence", "1"], ["Size", "4"]], body }) // '{"status":"OK","headers":{"Sequence":"1","Size":"4"},"body":"PONG"}'
 */
export function messageJson(message: Shown): string {
  const headers: Record<string, string> = {};
  for (const [name, value] of message.headers) headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  const text = decoded(message.body);
  const body = text === undefined ? { body: Buffer.from(message.body).toString("base64"), bodyEncoding: "base64" } : { body: text };
  return JSON.stringify({ status: message.status, headers, ...body });
}

/**
 * An ERR reply as --json shows it. The client keeps only the message of an ERR; its head is
 * Sequence and Size and nothing else (PROTOCOL.md section 3), so it is said again here.
 */
export function errShown(sequence: string, message: string): Shown {
  const body = Buffer.from(message);
  return { status: "ERR", headers: [["Sequence", sequence], ["Size", String(body.length)]], body };
}

/** The body as it stands in a line: itself when it is printable text on one line, else JSON-quoted. */
function lineText(body: Uint8Array): string {
  const text = decoded(body);
  if (text === undefined) return JSON.stringify(Buffer.from(body).toString("latin1"));
  return /[\x00-\x1f\x7f]/.test(text) || text.startsWith('"') ? JSON.stringify(text) : text;
}

function decoded(body: Uint8Array): string | undefined {
  try {
    return utf8.decode(body);
  } catch {
    return undefined;
  }
}
