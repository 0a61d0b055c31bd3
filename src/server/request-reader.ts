// Reading requests out of a connection's slot: input is copied into the slot a slot-full at a
// time, heads are found by the resumable scanner (no byte scanned twice), bodies are read in the
// slot when the message fits and gathered from the reads themselves when not (body-assembly.ts),
// and complete requests go to the host in order; a paused connection keeps what it has not read,
// and the request deadline bounds a request begun. Each read is the reader's to keep: Bun hands
// every read over in a buffer of its own, never written again (the in-memory transport copies).

import type { ErrorCode } from "../errors.ts";
import { isHeadFault, parseHead, scanHead, type Head } from "../protocol/head-scanner.ts";
import { MESSAGE_BYTES, SlotFlag, type ConnectionSlab } from "../slab/slab.ts";
import { BodyAssembly } from "./body-assembly.ts";
import type { RequestBody } from "./request.ts";

const EMPTY = new Uint8Array(0);

/** What the reader needs from the engine. */
export interface ReaderHost {
  /** Runs one complete request (and applies flow control after it). */
  dispatch(slot: number, head: Head, body: RequestBody): void;
  /** Write, then abort, for a framing fault. */
  condemn(slot: number, code: ErrorCode, message: string): void;
  /** Condemned or given back: read nothing more. */
  stopped(slot: number): boolean;
}

export type ReaderLimits = { maxBody: number; /** 0: no limit. */ requestTimeoutMs: number };

export class RequestReader {
  readonly #slab: ConnectionSlab;
  readonly #maxBody: number;
  readonly #requestTimeoutMs: number;
  readonly #host: ReaderHost;
  /** Heads whose body is still arriving, and the bodies larger than a slot being gathered. */
  readonly #pendingHeads: (Head | undefined)[];
  readonly #bodies: (BodyAssembly | undefined)[];
  /** Input received while paused, not yet fed to the slot; bounded by what Bun delivers before pause() holds. */
  readonly #backlogs: (Uint8Array | undefined)[];

  constructor(slab: ConnectionSlab, host: ReaderHost, limits: ReaderLimits) {
    this.#slab = slab;
    this.#maxBody = limits.maxBody;
    this.#requestTimeoutMs = limits.requestTimeoutMs;
    this.#host = host;
    this.#pendingHeads = new Array(slab.capacity);
    this.#bodies = new Array(slab.capacity);
    this.#backlogs = new Array(slab.capacity);
  }

  /** Keeps input that arrived while the connection is paused, for resume(). */
  hold(slot: number, chunk: Uint8Array): void {
    this.#keep(slot, chunk, 0);
  }

  /**
   * After a pause: the requests already in the slot first, then what arrived meanwhile. The
   * time a request waited behind the pause was the server's, so its clock starts again.
   */
  resume(slot: number): void {
    this.#slab.requestDeadline[slot] = 0;
    // Paused in the middle of a body larger than the slot: the slot holds nothing to run.
    if (!(this.#slab.flags[slot]! & SlotFlag.BODY_OUTSIDE)) this.runBuffered(slot);
    const backlog = this.#backlogs[slot];
    this.#backlogs[slot] = undefined;
    if (backlog !== undefined) this.feed(slot, backlog);
    else this.#timeRequest(slot);
  }

  /** Drops everything half-read, and the flags that said so: the connection is condemned or gone. */
  forget(slot: number): void {
    this.#slab.flags[slot]! &= ~(SlotFlag.AWAITING_BODY | SlotFlag.BODY_OUTSIDE);
    this.#pendingHeads[slot] = undefined;
    this.#bodies[slot] = undefined;
    this.#backlogs[slot] = undefined;
    this.#slab.requestDeadline[slot] = 0;
  }

  /** Feeds one read into the slot, a slot-full at a time, and runs what is complete. */
  feed(slot: number, chunk: Uint8Array): void {
    const slab = this.#slab;
    const base = slab.messageBase(slot);
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#host.stopped(slot)) return;
      if (slab.flags[slot]! & SlotFlag.INPUT_PAUSED) {
        this.#keep(slot, chunk, offset);
        return;
      }
      if (slab.flags[slot]! & SlotFlag.BODY_OUTSIDE) {
        offset += this.#fillOutsideBody(slot, chunk, offset);
        continue;
      }
      const fill = slab.fill[slot]!;
      const take = Math.min(MESSAGE_BYTES - fill, chunk.byteLength - offset);
      slab.messagesOf(slot).set(offset === 0 && take === chunk.byteLength ? chunk : chunk.subarray(offset, offset + take), base + fill);
      slab.fill[slot] = fill + take;
      offset += take;
      this.runBuffered(slot);
    }
    this.#timeRequest(slot);
  }

  /**
   * Starts the clock of a request begun in this read (it arrived now), and stops it when no
   * request is half-read. A request completed in this read stopped the clock of its own (see
   * runBuffered), so the one begun behind it gets a clock of its own.
   */
  #timeRequest(slot: number): void {
    const slab = this.#slab;
    if (this.#requestTimeoutMs === 0 || this.#host.stopped(slot)) return;
    const begun = slab.fill[slot]! > 0 || (slab.flags[slot]! & SlotFlag.BODY_OUTSIDE) !== 0;
    if (!begun) slab.requestDeadline[slot] = 0;
    else if (slab.requestDeadline[slot] === 0) slab.requestDeadline[slot] = performance.now() + this.#requestTimeoutMs;
  }

  /**
   * Runs every complete request in the slot's buffer, then moves the unfinished rest to the
   * buffer's start. The head scan resumes where it stopped, so no byte is scanned twice.
   */
  runBuffered(slot: number): void {
    const slab = this.#slab;
    const messages = slab.messagesOf(slot);
    const base = slab.messageBase(slot);
    const end = base + slab.fill[slot]!;
    let start = base;
    for (;;) {
      if (this.#host.stopped(slot)) return;
      if (slab.flags[slot]! & SlotFlag.INPUT_PAUSED) break;
      let head = this.#pendingHeads[slot];
      let bodyStart: number;
      if (head === undefined) {
        const scan = scanHead(messages, start, end, base + slab.scanFrom[slot]!);
        if (scan.kind === "need-more") {
          slab.scanFrom[slot] = scan.scanFrom - base; // rebased by the compaction below
          break;
        }
        if (scan.kind === "fault") return this.#host.condemn(slot, scan.code, scan.message);
        const parsed = parseHead(slab.messageTextOf(slot), start, scan.headEnd, this.#maxBody);
        if (isHeadFault(parsed)) return this.#host.condemn(slot, parsed.code, parsed.message);
        if (parsed.sequence === undefined) return this.#host.condemn(slot, "MISSING_SEQUENCE", "missing Sequence header");
        head = parsed;
        bodyStart = scan.headEnd;
      } else {
        bodyStart = base + slab.headEnd[slot]!;
      }
      const size = Math.max(head.size, 0);
      if (bodyStart + size <= end) {
        // The body is here: copy it out, since the slot's bytes are overwritten by the next read.
        const body = size === 0 ? EMPTY : messages.slice(bodyStart, bodyStart + size);
        this.#pendingHeads[slot] = undefined;
        slab.flags[slot]! &= ~SlotFlag.AWAITING_BODY;
        start = bodyStart + size;
        slab.scanFrom[slot] = start - base; // relative to base until the compaction below
        slab.requestDeadline[slot] = 0;
        this.#host.dispatch(slot, head, body);
        continue;
      }
      if (bodyStart - start + size <= MESSAGE_BYTES) {
        // The whole message fits in the slot: wait for the rest of the body there.
        this.#pendingHeads[slot] = head;
        slab.flags[slot]! |= SlotFlag.AWAITING_BODY;
        slab.headEnd[slot] = bodyStart - start;
        break;
      }
      // Larger than a slot: the body is gathered from the reads that carry it, starting with
      // the bytes of it already in the slot (copied: the next read overwrites them).
      const body = new BodyAssembly(size);
      body.add(messages, bodyStart, end, false);
      this.#pendingHeads[slot] = head;
      this.#bodies[slot] = body;
      slab.bodyFilled[slot] = end - bodyStart;
      slab.flags[slot] = (slab.flags[slot]! | SlotFlag.BODY_OUTSIDE) & ~SlotFlag.AWAITING_BODY;
      start = end;
      slab.scanFrom[slot] = 0;
      break;
    }
    // Keep only the unfinished message, at the buffer's start.
    if (start > base) {
      if (start < end) messages.copyWithin(base, start, end);
      slab.fill[slot] = end - start;
      if (!(slab.flags[slot]! & SlotFlag.AWAITING_BODY)) {
        slab.scanFrom[slot] = Math.max(slab.scanFrom[slot]! - (start - base), 0);
      }
    }
  }

  /** Takes body bytes of a larger-than-slot body out of a read; dispatches once it is complete. */
  #fillOutsideBody(slot: number, chunk: Uint8Array, offset: number): number {
    const slab = this.#slab;
    const body = this.#bodies[slot]!;
    const take = Math.min(body.missing, chunk.byteLength - offset);
    body.add(chunk, offset, offset + take, true);
    slab.bodyFilled[slot]! += take;
    if (body.missing === 0) {
      const head = this.#pendingHeads[slot]!;
      this.#pendingHeads[slot] = undefined;
      this.#bodies[slot] = undefined;
      slab.flags[slot]! &= ~SlotFlag.BODY_OUTSIDE;
      slab.fill[slot] = 0;
      slab.scanFrom[slot] = 0;
      slab.requestDeadline[slot] = 0;
      this.#host.dispatch(slot, head, body.finish());
    }
    return take;
  }

  #keep(slot: number, chunk: Uint8Array, offset: number): void {
    if (offset >= chunk.byteLength) return;
    const rest = offset === 0 ? chunk : chunk.subarray(offset);
    const kept = this.#backlogs[slot];
    if (kept === undefined) {
      this.#backlogs[slot] = rest;
      return;
    }
    const joined = new Uint8Array(kept.byteLength + rest.byteLength);
    joined.set(kept);
    joined.set(rest, kept.byteLength);
    this.#backlogs[slot] = joined;
  }
}
