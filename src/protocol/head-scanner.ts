// The framing of PROTOCOL.md section 2, shared by the server (requests) and the client
// (replies and pushes): find the end of a head, check its bytes, and split it into a first
// line and headers. Pure: bytes in, values out. Bad input is a returned fault, never a throw.
// Resumable: the caller keeps `scanFrom` between calls, so no byte is scanned twice however
// the input was cut, and the whole parse stays linear in the input.

import type { ErrorCode } from "../errors.ts";

/** The largest head, CRLF CRLF included: one slot's message buffer. */
export const MAX_HEAD_BYTES = 8064;
/** The longest Sequence value. */
export const MAX_SEQUENCE_BYTES = 64;

const CR = 0x0d;
const LF = 0x0a;
const TAB = 0x09;
const DEL = 0x7f;

export type HeadFault = { readonly kind: "fault"; readonly code: ErrorCode; readonly message: string };

/** Where the scan of an unfinished head stopped, or where a finished head ends. */
export type HeadScan =
  | { readonly kind: "need-more"; readonly scanFrom: number }
  | { readonly kind: "head"; readonly headEnd: number }
  | HeadFault;

/**
 * Looks for the CRLF CRLF that ends the head starting at `start`, in `buf[start, end)`,
 * resuming at `scanFrom` (pass `start` on the first call, then the returned `scanFrom`).
 * Checks every byte once on the way: control bytes other than TAB, DEL, a CR not followed
 * by LF and an LF not preceded by CR are faults, found as soon as they arrive rather than
 * once 8064 bytes have piled up. A byte loop rather than indexOf because every byte needs
 * that check anyway.
 */
export function scanHead(buf: Uint8Array, start: number, end: number, scanFrom: number, maxHead = MAX_HEAD_BYTES): HeadScan {
  const limit = Math.min(end, start + maxHead);
  let i = scanFrom;
  for (; i < limit; i++) {
    const b = buf[i]!;
    if (b >= 0x20 && b !== DEL) continue;
    if (b === TAB) continue;
    if (b === CR) {
      if (i + 1 >= limit) break; // its LF has not arrived yet: resume here
      if (buf[i + 1] !== LF) return fault("BAD_HEAD_BYTE", "bare CR in message head: lines end with CRLF");
      continue;
    }
    if (b === LF) {
      if (i === start || buf[i - 1] !== CR) {
        return fault("BAD_HEAD_BYTE", "bare LF in message head: lines end with CRLF (openssl s_client needs -crlf)");
      }
      if (i === start + 1) return fault("EMPTY_COMMAND", "empty command line");
      if (i - start >= 3 && buf[i - 2] === LF) return { kind: "head", headEnd: i + 1 };
      continue;
    }
    return fault("BAD_HEAD_BYTE", `byte 0x${b.toString(16).padStart(2, "0")} is not allowed in a message head`);
  }
  // No terminator within maxHead bytes (a CR left waiting on the last byte included: its LF
  // would be byte maxHead + 1): the head is too large, whatever follows.
  if (end - start >= maxHead) return fault("HEAD_TOO_LARGE", `message head exceeds ${maxHead} bytes`);
  return { kind: "need-more", scanFrom: i };
}

/**
 * A head split into its parts. Only what every message needs is made eagerly: the first line's
 * tokens, Sequence and Size. The other headers stay in the head's text (immutable, so this is
 * safe however long a handler keeps the head) until headersOf() or findHeader() asks for them:
 * most requests are never asked.
 */
export type Head = {
  /** The first line's first token: a request's command (as sent), a reply's status. */
  readonly command: string;
  /** The first line's other tokens: a request's arguments, as given. */
  readonly args: readonly string[];
  readonly sequence: string | undefined;
  /** The body length, or -1 when no Size header was sent. */
  readonly size: number;
  /** The head as text, without its final CRLF CRLF, and where its header lines begin in it. */
  readonly text: string;
  readonly headersAt: number;
};

/**
 * The first header named `name` (case-insensitive) in wire order, or undefined: how a handler
 * reads a request's headers and a client a reply's.
 *
 * @example headerValue([["Content-Type", "application/json"]], "content-type") // "application/json"
 */
export function headerValue(headers: readonly (readonly [name: string, value: string])[], name: string): string | undefined {
  // What toLowerCase() on both sides says, without lower-casing a copy of every name: an ASCII
  // comparison first, and the full one only where a name holds anything but ASCII.
  const asciiName = isAscii(name, 0, name.length);
  let wanted: string | undefined;
  for (const [key, value] of headers) {
    if (key.length === name.length && equalsIgnoringAsciiCase(key, 0, name)) return value;
    // For an ASCII name, only a key of its length can match by toLowerCase (U+212A KELVIN SIGN
    // is "k"); the mappings that change a length give non-ASCII, which cannot equal it.
    if (!asciiName || (key.length === name.length && !isAscii(key, 0, key.length))) {
      wanted ??= name.toLowerCase();
      if (key.toLowerCase() === wanted) return value;
    }
  }
  return undefined;
}

/**
 * Every header of a parsed head, in order, as sent: what headerValue() reads. Made afresh on
 * each call; callers that ask twice keep the result.
 *
 * @example headersOf(head) // [["Sequence", "7"], ["Content-Type", "text/plain"]]
 */
export function headersOf(head: Head): [name: string, value: string][] {
  const { text, headersAt } = head;
  const headers: [string, string][] = [];
  for (let lineStart = headersAt; lineStart < text.length; ) {
    const lineEnd = endOfLine(text, lineStart);
    const colon = text.indexOf(":", lineStart);
    headers.push([text.slice(lineStart, colon), trimBlanks(text, colon + 1, lineEnd)]);
    lineStart = lineEnd + 2;
  }
  return headers;
}

/**
 * What headerValue(headersOf(head), name) says, without making the list: only the value
 * found is sliced out of the head's text.
 *
 * @example findHeader(head, "if-match") // "3", or undefined
 */
export function findHeader(head: Head, name: string): string | undefined {
  const { text, headersAt } = head;
  const asciiName = isAscii(name, 0, name.length);
  let wanted: string | undefined;
  for (let lineStart = headersAt; lineStart < text.length; ) {
    const lineEnd = endOfLine(text, lineStart);
    const colon = text.indexOf(":", lineStart);
    const length = colon - lineStart;
    if (length === name.length && equalsIgnoringAsciiCase(text, lineStart, name)) return trimBlanks(text, colon + 1, lineEnd);
    // As in headerValue: only a non-ASCII name can match by toLowerCase alone.
    if (!asciiName || (length === name.length && !isAscii(text, lineStart, colon))) {
      wanted ??= name.toLowerCase();
      if (text.slice(lineStart, colon).toLowerCase() === wanted) return trimBlanks(text, colon + 1, lineEnd);
    }
    lineStart = lineEnd + 2;
  }
  return undefined;
}

function isAscii(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** text[at, at + b.length) and b are the same characters but for the case of ASCII letters. */
function equalsIgnoringAsciiCase(text: string, at: number, b: string): boolean {
  for (let i = 0; i < b.length; i++) {
    const x = text.charCodeAt(at + i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const lower = x | 0x20;
    if (lower !== (y | 0x20) || lower < 0x61 || lower > 0x7a) return false;
  }
  return true;
}

/**
 * Where the line starting at `from` ends (its CR), or the text's end for the last line. The
 * scanner let no CR through without its LF, nor an LF without its CR, so a CR ends a line.
 */
function endOfLine(text: string, from: number): number {
  const cr = text.indexOf("\r", from);
  return cr < 0 ? text.length : cr;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

const SPACE = 0x20;
const COLON = 0x3a;
const NO_ARGS: readonly string[] = Object.freeze([]);

/**
 * Splits a complete head `buf[start, headEnd)` (as found by scanHead) into its parts, and
 * checks the rules every message shares: header syntax, at most one Sequence and one Size,
 * Sequence of 1-64 visible ASCII bytes, Size in decimal digits up to `maxBody`. Whether a
 * Sequence is required is the caller's rule (a connection-level line has none). Every request
 * pays for this, so it walks the text once by char codes (no indexOf or split), and makes no
 * string for a header other than Sequence and Size (see Head).
 */
export function parseHead(buf: Uint8Array, start: number, headEnd: number, maxBody: number): Head | HeadFault {
  // A head in a Buffer (the server's slab) is read as Latin-1 first, without the view and the
  // decoder call that UTF-8 needs: for a head all in ASCII (most are) that is its text, and the
  // walk finds out whether it is on the way. Anything else, faults included, is read again as
  // UTF-8, so that what is returned never depends on the way taken.
  if (buf instanceof Buffer) {
    const head = parseText(buf.toString("latin1", start, headEnd - 4), maxBody, true);
    if (head !== undefined && !isHeadFault(head)) return head;
  }
  let text: string;
  try {
    text = utf8.decode(buf.subarray(start, headEnd - 4));
  } catch {
    return fault("BAD_HEAD_BYTE", "message head is not valid UTF-8");
  }
  return parseText(text, maxBody, false)!;
}

/** parseHead over the head's text; with `asciiOnly`, undefined for a text that holds anything but ASCII. */
function parseText(text: string, maxBody: number, asciiOnly: boolean): Head | HeadFault | undefined {
  const length = text.length;
  // One walk by char codes, lines found on the way: the scanner let no CR through without its
  // LF, nor an LF without its CR, so a CR ends a line.
  // The first line's tokens, split on runs of spaces.
  let i = 0;
  let c = 0;
  // Every char is read once below; their bits together say whether one was past ASCII.
  let seen = 0;
  while (i < length && (c = text.charCodeAt(i)) === SPACE) i++;
  if (i === length || c === CR) return fault("EMPTY_COMMAND", "empty command line");
  const commandStart = i;
  while (i < length && (c = text.charCodeAt(i)) !== SPACE && c !== CR) {
    seen |= c;
    i++;
  }
  const command = text.slice(commandStart, i);
  let args = NO_ARGS;
  for (;;) {
    while (i < length && (c = text.charCodeAt(i)) === SPACE) i++;
    if (i === length || c === CR) break;
    const tokenStart = i;
    while (i < length && (c = text.charCodeAt(i)) !== SPACE && c !== CR) {
      seen |= c;
      i++;
    }
    if (args === NO_ARGS) args = [];
    (args as string[]).push(text.slice(tokenStart, i));
  }
  const headersAt = i + 2;

  let sequence: string | undefined;
  let size = -1;
  for (let lineStart = headersAt; lineStart < length; ) {
    // The name runs to the first ':'; it may hold no space or tab.
    let colon = lineStart;
    let blank = false;
    for (; colon < length; colon++) {
      c = text.charCodeAt(colon);
      if (c === COLON || c === CR) break;
      if (c === SPACE || c === TAB) blank = true;
      seen |= c;
    }
    if (colon === length || c === CR) return fault("BAD_HEADER", `header line without ':': ${quote(text.slice(lineStart, colon))}`);
    if (colon === lineStart || blank) return fault("BAD_HEADER", `invalid header name ${quote(text.slice(lineStart, colon))}`);
    let lineEnd = colon + 1;
    for (; lineEnd < length && (c = text.charCodeAt(lineEnd)) !== CR; lineEnd++) seen |= c;
    const nameLength = colon - lineStart;
    if (nameLength === 8 && isNamed(text, lineStart, "sequence")) {
      if (sequence !== undefined) return fault("DUPLICATE_HEADER", "repeated Sequence header");
      const value = trimBlanks(text, colon + 1, lineEnd);
      if (!isValidSequence(value)) {
        return fault("BAD_SEQUENCE", `invalid Sequence ${quote(value)}: expected 1 to 64 visible ASCII characters`);
      }
      sequence = value;
    } else if (nameLength === 4 && isNamed(text, lineStart, "size")) {
      if (size >= 0) return fault("DUPLICATE_HEADER", "repeated Size header");
      const value = trimBlanks(text, colon + 1, lineEnd);
      const parsed = parseDecimal(value);
      if (parsed < 0) return fault("BAD_SIZE", `invalid Size ${quote(value)}: expected decimal digits`);
      if (parsed > maxBody) return fault("BODY_TOO_LARGE", `Size ${value} exceeds the body limit of ${maxBody} bytes`);
      size = parsed;
    }
    lineStart = lineEnd + 2;
  }
  if (asciiOnly && seen > 0x7f) return undefined;
  return { command, args, sequence, size, text, headersAt };
}

/**
 * Whether the text at `from` is `lower` (lower-case ASCII letters) in any case: what
 * toLowerCase() and a comparison say, without making the lower-cased string. Setting bit 0x20
 * lower-cases an ASCII letter and turns nothing else into one.
 */
function isNamed(text: string, from: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if ((text.charCodeAt(from + i) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** text[from, to) without the spaces and tabs around it. */
function trimBlanks(text: string, from: number, to: number): string {
  while (from < to && (text.charCodeAt(from) === SPACE || text.charCodeAt(from) === TAB)) from++;
  while (to > from && (text.charCodeAt(to - 1) === SPACE || text.charCodeAt(to - 1) === TAB)) to--;
  return text.slice(from, to);
}

/** Decimal digits to a number (Infinity past 2^53); -1 when empty or not all digits. */
function parseDecimal(value: string): number {
  if (value.length === 0) return -1;
  let result = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    result = result * 10 + digit;
  }
  return result > Number.MAX_SAFE_INTEGER ? Number.POSITIVE_INFINITY : result;
}

/** True for 1 to 64 bytes of visible ASCII (0x21-0x7E). */
export function isValidSequence(value: string): boolean {
  if (value.length === 0 || value.length > MAX_SEQUENCE_BYTES) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

export function isHeadFault<T extends object>(value: T | HeadFault): value is HeadFault {
  return (value as HeadFault).kind === "fault";
}

function fault(code: ErrorCode, message: string): HeadFault {
  return { kind: "fault", code, message };
}

/** Quotes a value for an error message, cut short so a message never carries a whole head. */
function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
}
