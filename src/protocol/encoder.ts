// The writing side of the framing: reply, push and request heads as PROTOCOL.md sections 2
// and 3 lay them out, shared by the server and the client: as strings, and a reply's head as
// bytes written straight into an output buffer (no head string on the server's hot path).
// Header names and values given by handlers or callers are checked here, because one CR or LF
// in them would let a value forge a message of its own.

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

/**
 * The checked header lines of `headers` ("Name: value" CRLF each; "" for none), as a reply head
 * carries them after Size. Throws TypeError for a name or value that cannot be sent.
 */
export function encodeHeaderLines(headers: HeaderList | undefined): string {
  return headers === undefined ? "" : encodeHeaders(headers);
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

// ── Reply heads as bytes ────────────────────────────────────────────────────────────────

/**
 * A reply or push ready to be written: `size` is the body's length in bytes and `headerLines`
 * comes from encodeHeaderLines, so that writing it cannot fail. A body in parts is sent as the
 * parts one after the other, never joined first. `owned`: nobody but the queue holds a binary
 * body, which it frees once written (see owned-memory.ts).
 */
export type ReplyMessage = {
  status: ReplyStatus;
  sequence: string;
  size: number;
  headerLines: string;
  body: string | Uint8Array | readonly Uint8Array[];
  owned?: boolean;
};

/** Strings this short are measured by a loop over their char codes; longer ones natively. */
const SHORT_TEXT = 24;
/** Strings this short are copied by such a loop; longer ones natively (a view and a call cost about 50 chars' worth). */
const SHORT_COPY = 64;
const textEncoder = new TextEncoder();

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** The bytes before the Sequence value, by status. */
const STATUS_LINES: Record<ReplyStatus, Uint8Array> = { OK: ascii("OK\r\nSequence: "), ERR: ascii("ERR\r\nSequence: "), PUSH: ascii("PUSH\r\nSequence: ") };
const SIZE_LINE = ascii("\r\nSize: ");

/**
 * The UTF-8 length of a body: what Buffer.byteLength gives, with short ASCII strings (most
 * replies: "PONG", a number, a key) counted without a native call.
 */
export function bodyBytes(body: string | Uint8Array | readonly Uint8Array[]): number {
  if (typeof body !== "string") {
    if (body instanceof Uint8Array) return body.byteLength;
    let bytes = 0;
    for (const part of body) bytes += part.byteLength;
    return bytes;
  }
  const length = body.length;
  if (length > SHORT_TEXT) return Buffer.byteLength(body);
  for (let i = 0; i < length; i++) if (body.charCodeAt(i) > 0x7f) return Buffer.byteLength(body);
  return length;
}

/** At most how many bytes the head of `message` takes: the room writeReplyHead needs. */
export function replyHeadRoom(message: ReplyMessage): number {
  // status line and "Sequence: " (16), CRLF "Size: " (8), up to 16 digits, CRLF, lines, CRLF;
  // text counted at 3 bytes a UTF-16 unit, UTF-8's worst case.
  return 44 + 3 * (message.sequence.length + message.headerLines.length);
}

/**
 * Writes the head of `message` into `target` at `offset`: exactly the bytes of
 * encodeReplyHead for the same message. `target` has replyHeadRoom(message) bytes of room
 * there. Returns the offset past the head.
 *
 * @example
 * const end = writeReplyHead(buffer, 0, { status: "OK", sequence: "7", size: 4, headerLines: "", body: "PONG" });
 */
export function writeReplyHead(target: Uint8Array, offset: number, message: ReplyMessage): number {
  let at = writeText(target, copyShort(target, offset, STATUS_LINES[message.status]), message.sequence);
  at = writeDecimal(target, copyShort(target, at, SIZE_LINE), message.size);
  target[at++] = 0x0d;
  target[at++] = 0x0a;
  if (message.headerLines.length > 0) at = writeText(target, at, message.headerLines);
  target[at++] = 0x0d;
  target[at++] = 0x0a;
  return at;
}

/** Copies a few bytes by a loop: for 8 to 16 bytes, set() costs several times more (a native call). */
function copyShort(target: Uint8Array, offset: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) target[offset + i] = bytes[i]!;
  return offset + bytes.length;
}

/**
 * Writes `text` as UTF-8 into `target` at `offset` (room: 3 bytes per UTF-16 unit, or the
 * text's bodyBytes) and returns the offset past it. Short ASCII by a loop, the rest natively.
 */
export function writeText(target: Uint8Array, offset: number, text: string): number {
  const length = text.length;
  if (length <= SHORT_COPY) {
    let i = 0;
    for (; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) break;
      target[offset + i] = c;
    }
    if (i === length) return offset + length;
  }
  return offset + textEncoder.encodeInto(text, target.subarray(offset)).written;
}

/** A whole number in decimal digits, as a template string would print it. */
function writeDecimal(target: Uint8Array, offset: number, value: number): number {
  if (value < 10) {
    target[offset] = 0x30 + value;
    return offset + 1;
  }
  if (!Number.isSafeInteger(value)) return writeText(target, offset, String(value));
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  let at = offset + digits;
  for (let rest = value; at > offset; rest = Math.floor(rest / 10)) target[--at] = 0x30 + (rest % 10);
  return offset + digits;
}
