// The reading side of the client: turns what a server sends (PROTOCOL.md sections 1, 3, 4)
// into events: the greeting or a refusal, OK/ERR/PUSH messages, and connection-level
// `ERR: <reason>` lines. Pure and incremental: feed chunks cut anywhere, get the same events.
// Heads are framed by head-scanner.ts (one framing module for server and client); bytes are
// kept in one growable buffer, appended once and never rescanned, so the cost is linear.

import type { ReplyStatus } from "./encoder.ts";
import { MAX_HEAD_BYTES, headersOf, isHeadFault, parseHead, scanHead, type Head, type HeadFault } from "./head-scanner.ts";

/** Largest reply body accepted by default. Requests are limited to 1 MiB; replies may be larger. */
export const DEFAULT_MAX_REPLY_BODY = 64 * 1024 * 1024;

/** A reply or push, as framed on the wire. `body` is a copy the caller owns. */
export type ReplyMessage = {
  readonly kind: "message";
  readonly status: ReplyStatus;
  readonly sequence: string;
  /** Every header in wire order, Sequence and Size included; made the first time it is read. */
  readonly headers: [name: string, value: string][];
  readonly body: Uint8Array;
};

/**
 * A head as messages share it: the parsed head, and its header list once somebody asked. Most
 * readers never ask (a load generator reads the status and the Sequence), so the list is not
 * made for them: for a reply whose head differs every time (a PUT's Version), making it was
 * most of what a client spent per reply.
 */
type FramedHead = { readonly head: Head; headers: [string, string][] | undefined };

class FramedMessage implements ReplyMessage {
  readonly kind = "message";
  readonly #head: FramedHead;

  constructor(
    readonly status: ReplyStatus,
    readonly sequence: string,
    head: FramedHead,
    readonly body: Uint8Array,
  ) {
    this.#head = head;
  }

  get headers(): [string, string][] {
    const head = this.#head;
    return (head.headers ??= headersOf(head.head));
  }
}

export type ReplyEvent =
  /** The server admitted the connection (`OK` CRLF as its first bytes). */
  | { readonly kind: "greeting" }
  /** The server refused the connection (`ERR: <reason>` CRLF instead of the greeting). */
  | { readonly kind: "refused"; readonly reason: string }
  /** A connection-level `ERR: <reason>` after the greeting: the server is aborting. */
  | { readonly kind: "connection-error"; readonly reason: string }
  | ReplyMessage
  /** Bytes that are not a valid reply. The parser emits nothing after it. */
  | { readonly kind: "fault"; readonly code: "BAD_REPLY"; readonly message: string };

export type ReplyParserOptions = {
  /** Largest Size accepted in a reply or push; more is a BAD_REPLY fault. */
  readonly maxBody?: number;
  /** False when the greeting was already consumed (e.g. a parser made after connecting). */
  readonly expectGreeting?: boolean;
  /**
   * Remember parsed heads and reuse them when the same head bytes come again, as they do for
   * a load generator that reuses its Sequences. Messages with equal heads then share one
   * `headers` array (treat it as read-only). Costs a lookup per head: off by default, and off
   * again by itself when heads do not repeat (fewer than half of a memo's worth of lookups hit).
   */
  readonly reuseHeads?: boolean;
};

const CR = 0x0d;
const LF = 0x0a;
// "ERR:" marks a connection-level line; "ERR" CRLF starts an ERR reply.
const E = 0x45;
const R = 0x52;
const COLON = 0x3a;
const STATUSES: ReadonlySet<string> = new Set(["OK", "ERR", "PUSH"]);
const INITIAL_CAPACITY = 16 * 1024;
const SHRINK_ABOVE = 1024 * 1024;
// reuseHeads: heads longer than this are parsed every time; the memo forgets all when full.
const MEMO_MAX_HEAD = 256;
const MEMO_ENTRIES = 1024;

const State = { Greeting: 0, Start: 1, Line: 2, Head: 3, Body: 4, Done: 5 } as const;
type State = (typeof State)[keyof typeof State];

// Reasons are shown to people; a stray invalid byte must not hide the rest of the text.
const lossy = new TextDecoder("utf-8");

/**
 * Incremental parser of a server's output. Not reentrant; one per connection.
 *
 * @example
 * const parser = new ReplyParser();
 * for (const event of parser.push(chunk)) if (event.kind === "message") console.log(event.sequence);
 */
export class ReplyParser {
  readonly #maxBody: number;
  #buf = new Uint8Array(0);
  /** Unconsumed bytes are `#buf[#read, #write)`; the current message starts at `#read`. */
  #read = 0;
  #write = 0;
  #state: State;
  #greeted: boolean;
  /** How many bytes of the current head or line were already scanned (relative to #read). */
  #scanned = 0;
  // The framed head of the message whose body is awaited.
  #status: ReplyStatus = "OK";
  #sequence = "";
  #head: FramedHead | undefined;
  #bodyStart = 0;
  #size = 0;
  #memo: Map<string, FramedHead> | undefined;
  /** Lookups that found their head since the memo was last emptied. */
  #memoHits = 0;
  /** The bytes of #buf as a Buffer, which parseHead reads as Latin-1 first (its fast way). */
  #text: Buffer<ArrayBuffer> = Buffer.alloc(0);

  constructor(options: ReplyParserOptions = {}) {
    const maxBody = options.maxBody ?? DEFAULT_MAX_REPLY_BODY;
    if (!Number.isSafeInteger(maxBody) || maxBody < 0) throw new RangeError(`invalid maxBody ${maxBody}: expected a non-negative integer`);
    this.#maxBody = maxBody;
    this.#greeted = options.expectGreeting === false;
    this.#memo = options.reuseHeads === true ? new Map() : undefined;
    this.#state = this.#greeted ? State.Start : State.Greeting;
  }

  /** True once a refusal, a connection-level error or a fault ended the stream. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** True when part of a message has arrived but not all of it (a drop now truncates it). */
  get midMessage(): boolean {
    return this.#state !== State.Done && this.#write > this.#read;
  }

  /**
   * Feeds one chunk and returns the events it completes, in order. Never throws on bad input:
   * a fault is the last event. Bytes after a refusal, an `ERR:` line or a fault are ignored.
   */
  push(chunk: Uint8Array): ReplyEvent[] {
    const events: ReplyEvent[] = [];
    if (this.#state === State.Done || chunk.length === 0) return events;
    this.#append(chunk);
    this.#parse(events);
    if (this.#read === this.#write) {
      this.#read = this.#write = 0;
      // Do not keep a large buffer alive after one large body has gone through.
      if (this.#buf.length > SHRINK_ABOVE) this.#use(new Uint8Array(0));
    }
    return events;
  }

  #use(buf: Uint8Array<ArrayBuffer>): void {
    this.#buf = buf;
    this.#text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  #append(chunk: Uint8Array): void {
    const unread = this.#write - this.#read;
    const needed = unread + chunk.length;
    if (this.#write + chunk.length > this.#buf.length) {
      if (needed <= this.#buf.length >>> 1) {
        // Compact: at least half the buffer was consumed since the last move, so the copy is
        // paid for by bytes already parsed (amortized linear).
        this.#buf.copyWithin(0, this.#read, this.#write);
      } else {
        let capacity = Math.max(INITIAL_CAPACITY, this.#buf.length * 2);
        while (capacity < needed) capacity *= 2;
        const grown = new Uint8Array(capacity);
        grown.set(this.#buf.subarray(this.#read, this.#write));
        this.#use(grown);
      }
      this.#bodyStart -= this.#read;
      this.#read = 0;
      this.#write = unread;
    }
    this.#buf.set(chunk, this.#write);
    this.#write += chunk.length;
  }

  #parse(events: ReplyEvent[]): void {
    const buf = this.#buf;
    for (;;) {
      const available = this.#write - this.#read;
      switch (this.#state) {
        case State.Greeting: {
          // "OK" CRLF admits, "ERR:" starts a refusal; they differ at the first byte, so the
          // first byte that fits neither is found the same way however the input was cut.
          const bad = greetingMismatch(buf, this.#read, this.#write);
          if (bad >= 0) {
            const b = buf[this.#read + bad]!;
            return this.#fail(events, `not a gnp greeting: byte ${bad} is 0x${b.toString(16).padStart(2, "0")}, expected "OK" CRLF or "ERR: <reason>" CRLF`);
          }
          if (available < 4) return;
          if (buf[this.#read] === E) {
            this.#state = State.Line;
            this.#scanned = 4;
            continue;
          }
          this.#read += 4;
          this.#greeted = true;
          this.#state = State.Start;
          events.push({ kind: "greeting" });
          continue;
        }
        case State.Start: {
          if (available < 4) return;
          if (isErrorLine(buf, this.#read)) {
            this.#state = State.Line;
            this.#scanned = 4;
          } else {
            this.#state = State.Head;
            this.#scanned = 0;
          }
          continue;
        }
        case State.Line: {
          // An `ERR: <reason>` line: find its LF from where the last scan stopped.
          const from = this.#read + this.#scanned;
          const limit = Math.min(this.#write, this.#read + MAX_HEAD_BYTES);
          const lf = buf.subarray(0, limit).indexOf(LF, from);
          if (lf < 0) {
            if (limit - this.#read >= MAX_HEAD_BYTES) return this.#fail(events, `error line exceeds ${MAX_HEAD_BYTES} bytes`);
            this.#scanned = limit - this.#read;
            return;
          }
          if (buf[lf - 1] !== CR) return this.#fail(events, "bare LF in an error line: lines end with CRLF");
          const reason = lossy.decode(buf.subarray(this.#read + 4, lf - 1)).trim();
          // One Line state serves both: before the greeting the line is a refusal.
          events.push(this.#greeted ? { kind: "connection-error", reason } : { kind: "refused", reason });
          this.#finish();
          return;
        }
        case State.Head: {
          const scan = scanHead(buf, this.#read, this.#write, this.#read + this.#scanned, MAX_HEAD_BYTES);
          if (scan.kind === "need-more") {
            this.#scanned = scan.scanFrom - this.#read;
            return;
          }
          if (scan.kind === "fault") return this.#fail(events, scan.message);
          const parsed = this.#parseHead(this.#read, scan.headEnd);
          if (isHeadFault(parsed)) return this.#fail(events, parsed.message);
          const head = parsed.head;
          const status = head.command;
          if (head.args.length !== 0 || !STATUSES.has(status)) {
            return this.#fail(events, `invalid status line ${JSON.stringify([status, ...head.args].join(" "))}: expected OK, ERR or PUSH`);
          }
          if (head.sequence === undefined) return this.#fail(events, `${status} message without a Sequence header`);
          if (head.size < 0) return this.#fail(events, `${status} message without a Size header`);
          this.#status = status as ReplyStatus;
          this.#sequence = head.sequence;
          this.#head = parsed;
          this.#size = head.size;
          this.#bodyStart = scan.headEnd;
          this.#state = State.Body;
          continue;
        }
        case State.Body: {
          const bodyEnd = this.#bodyStart + this.#size;
          if (bodyEnd > this.#write) return;
          events.push(new FramedMessage(this.#status, this.#sequence, this.#head!, buf.slice(this.#bodyStart, bodyEnd)));
          this.#read = bodyEnd;
          this.#state = State.Start;
          this.#head = undefined;
          continue;
        }
        case State.Done:
          return;
      }
    }
  }

  #parseHead(start: number, end: number): FramedHead | HeadFault {
    const buf = this.#text;
    const memo = this.#memo;
    if (memo === undefined || end - start > MEMO_MAX_HEAD) return framed(parseHead(buf, start, end, this.#maxBody));
    // One char per byte, one to one: equal keys are equal bytes, so a hit is exactly what
    // parseHead would return for these bytes.
    const key = buf.toString("latin1", start, end);
    const known = memo.get(key);
    if (known !== undefined) {
      this.#memoHits++;
      return known;
    }
    const parsed = framed(parseHead(buf, start, end, this.#maxBody));
    if (!isHeadFault(parsed)) {
      if (memo.size >= MEMO_ENTRIES) {
        // A memo's worth of distinct heads with fewer hits than that: they do not repeat.
        if (this.#memoHits < MEMO_ENTRIES) this.#memo = undefined;
        memo.clear();
        this.#memoHits = 0;
      }
      this.#memo?.set(key, parsed);
    }
    return parsed;
  }

  #fail(events: ReplyEvent[], message: string): void {
    events.push({ kind: "fault", code: "BAD_REPLY", message });
    this.#finish();
  }

  #finish(): void {
    this.#state = State.Done;
    this.#use(new Uint8Array(0));
    this.#read = this.#write = 0;
  }
}

function framed(head: Head | HeadFault): FramedHead | HeadFault {
  return isHeadFault(head) ? head : { head, headers: undefined };
}

function isErrorLine(buf: Uint8Array, at: number): boolean {
  return buf[at] === E && buf[at + 1] === R && buf[at + 2] === R && buf[at + 3] === COLON;
}

/** The offset of the first of up to 4 bytes that fits neither "OK" CRLF nor "ERR:", or -1. */
function greetingMismatch(buf: Uint8Array, start: number, end: number): number {
  const expected = buf[start] === E ? "ERR:" : "OK\r\n";
  const n = Math.min(end - start, 4);
  for (let i = 0; i < n; i++) if (buf[start + i] !== expected.charCodeAt(i)) return i;
  return -1;
}
