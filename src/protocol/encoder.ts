// The writing side of the framing: reply, push and request heads as PROTOCOL.md sections 2
// and 3 lay them out. Pure string building, shared by the server and the client. Header names
// and values given by handlers or callers are checked here, because one CR or LF in them would
// let a value forge a message of its own.

import { MAX_HEAD_BYTES } from "./head-scanner.ts";

/** The status line of a message from the server (PROTOCOL.md section 3). */
export type ReplyStatus = "OK" | "ERR" | "PUSH";
export type HeaderList = readonly (readonly [name: string, value: string])[];

/** A header name: visible characters, no ':' (non-ASCII allowed, as in requests). */
function isHeaderName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || c === 0x3a || c === 0x7f) return false;
  }
  return true;
}

/** A header value: anything but control characters (TAB allowed). */
function isHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/** Sequence and Size are gnp's own; checked by length first, since most names are neither. */
function isReserved(name: string): boolean {
  return (name.length === 8 || name.length === 4) && (name.toLowerCase() === "sequence" || name.toLowerCase() === "size");
}

/** How a message is framed: its Sequence, its body's length, and headers of its own. */
export type Framing = { sequence: string; size: number; headers?: HeaderList | undefined };

/**
 * The head of a reply or push: status line, Sequence first, Size second, then `headers`.
 *
 * @example
 * encodeReplyHead("OK", { sequence: "7", size: 4 }) // "OK\r\nSequence: 7\r\nSize: 4\r\n\r\n"
 */
export function encodeReplyHead(status: ReplyStatus, framing: Framing): string {
  let head = `${status}\r\nSequence: ${framing.sequence}\r\nSize: ${framing.size}\r\n`;
  if (framing.headers !== undefined) head += encodeHeaders(framing.headers);
  return `${head}\r\n`;
}

/** A request's command line and framing; `size` -1 for a request without a body (no Size header then). */
export type RequestHead = Framing & { command: string; args: readonly string[] };

/**
 * The head of a request.
 *
 * @example
 * encodeRequestHead({ command: "GET", args: ["users/1"], sequence: "2", size: -1 }) // "GET users/1\r\nSequence: 2\r\n\r\n"
 */
export function encodeRequestHead(request: RequestHead): string {
  const { command, args, sequence, size, headers } = request;
  // The server aborts a connection over a bad head; refusing here keeps one bad call from
  // taking every other call on the connection down with it.
  if (command.length === 0 || !isToken(command)) throw new TypeError(`invalid command ${JSON.stringify(command)}: no white space or control characters`);
  let line = command;
  for (const arg of args) {
    if (arg.length === 0 || !isToken(arg)) {
      throw new TypeError(`invalid argument ${JSON.stringify(arg)}: arguments are non-empty and hold no white space or control characters`);
    }
    line += ` ${arg}`;
  }
  let head = `${line}\r\nSequence: ${sequence}\r\n`;
  if (size >= 0) head += `Size: ${size}\r\n`;
  if (headers !== undefined) head += encodeHeaders(headers);
  head += "\r\n";
  if (head.length > MAX_HEAD_BYTES || Buffer.byteLength(head) > MAX_HEAD_BYTES) {
    throw new RangeError(`request head of ${Buffer.byteLength(head)} bytes exceeds ${MAX_HEAD_BYTES}: send large values as a body`);
  }
  return head;
}

/** A command or argument as the server's head scanner takes it: no space, no control characters. */
function isToken(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return false;
  }
  return true;
}

/** The connection-level error line of PROTOCOL.md section 4. */
export function encodeErrorLine(reason: string): string {
  return `ERR: ${reason.replace(/[\r\n]+/g, " ")}\r\n`;
}

function encodeHeaders(headers: HeaderList): string {
  let text = "";
  for (const [name, value] of headers) {
    if (!isHeaderName(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    if (isReserved(name)) throw new TypeError(`header ${JSON.stringify(name)} is set by gnp itself`);
    if (!isHeaderValue(value)) throw new TypeError(`invalid value for header ${JSON.stringify(name)}: CR, LF and control bytes are not allowed`);
    text += `${name}: ${value}\r\n`;
  }
  return text;
}
