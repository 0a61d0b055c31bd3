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

/** A head split into its parts. `headers` keeps every header, in order, as sent. */
export type Head = {
  /** The first line's tokens: a request's command and arguments, or a reply's status. */
  readonly tokens: string[];
  readonly headers: [name: string, value: string][];
  readonly sequence: string | undefined;
  /** The body length, or -1 when no Size header was sent. */
  readonly size: number;
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Splits a complete head `buf[start, headEnd)` (as found by scanHead) into tokens and
 * headers, and checks the rules every message shares: header syntax, at most one Sequence
 * and one Size, Sequence of 1-64 visible ASCII bytes, Size in decimal digits up to `maxBody`.
 * Whether a Sequence is required is the caller's rule (a connection-level line has none).
 */
export function parseHead(buf: Uint8Array, start: number, headEnd: number, maxBody: number): Head | HeadFault {
  let text: string;
  try {
    text = utf8.decode(buf.subarray(start, headEnd - 4));
  } catch {
    return fault("BAD_HEAD_BYTE", "message head is not valid UTF-8");
  }
  const lines = text.split("\r\n");
  const tokens = lines[0]!.split(" ").filter((token) => token.length > 0);
  if (tokens.length === 0) return fault("EMPTY_COMMAND", "empty command line");

  const headers: [string, string][] = [];
  let sequence: string | undefined;
  let size = -1;
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!;
    const colon = line.indexOf(":");
    if (colon < 0) return fault("BAD_HEADER", `header line without ':': ${quote(line)}`);
    const name = line.slice(0, colon);
    if (name.length === 0 || /[\s]/.test(name)) return fault("BAD_HEADER", `invalid header name ${quote(name)}`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    const lower = name.toLowerCase();
    if (lower === "sequence") {
      if (sequence !== undefined) return fault("DUPLICATE_HEADER", "repeated Sequence header");
      if (!isValidSequence(value)) {
        return fault("BAD_SEQUENCE", `invalid Sequence ${quote(value)}: expected 1 to 64 visible ASCII characters`);
      }
      sequence = value;
    } else if (lower === "size") {
      if (size >= 0) return fault("DUPLICATE_HEADER", "repeated Size header");
      if (!/^[0-9]+$/.test(value)) return fault("BAD_SIZE", `invalid Size ${quote(value)}: expected decimal digits`);
      const parsed = value.length > 16 ? Number.POSITIVE_INFINITY : Number(value);
      if (parsed > maxBody) return fault("BODY_TOO_LARGE", `Size ${value} exceeds the body limit of ${maxBody} bytes`);
      size = parsed;
    }
    headers.push([name, value]);
  }
  return { tokens, headers, sequence, size };
}

/** True for 1 to 64 bytes of visible ASCII (0x21-0x7E). */
export function isValidSequence(value: string): boolean {
  return value.length > 0 && value.length <= MAX_SEQUENCE_BYTES && /^[\x21-\x7e]+$/.test(value);
}

export function isHeadFault(value: Head | HeadFault): value is HeadFault {
  return (value as HeadFault).kind === "fault";
}

function fault(code: ErrorCode, message: string): HeadFault {
  return { kind: "fault", code, message };
}

/** Quotes a value for an error message, cut short so a message never carries a whole head. */
function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
}
