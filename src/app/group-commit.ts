// Group commit for a store's writes: writes queue into rounds, one round is committed at a
// time, and every write that arrives while a round is in flight joins the next one, from any
// connection, so the commit rate is bounded by the disk, not by the number of writers. It
// also orders reads after writes: a read of a key waits for the round holding that key's
// latest queued write, so a client that pipelines PUT k then GET k reads its own write, and
// that round takes no later write, so PUT k, GET k, PUT k never lets the GET see the second.
// A committed round's writes are settled a slice per turn of the event loop, in commit order,
// so that replying to a round of thousands of writes never holds up every other client for the
// whole burst; what arrives meanwhile joins the next round, which starts once they are settled.

/** What a round needs to know about each write. */
export type QueuedWrite = { readonly key: string; readonly bytes: number };

/** Settles the round's write at `index` (resolves or rejects it, announces its change). */
export type SettleWrite = (index: number) => void;

/**
 * Commits one round and resolves, once it is durable (or has failed), with the function that
 * settles each of its writes; it must not reject. GroupCommit calls that function once per
 * write, in order, and only after the readers that waited for the round have read.
 */
export type CommitRound<W extends QueuedWrite> = (writes: W[]) => Promise<SettleWrite>;

/** A round holds at most this many writes; the rest wait for the next one. */
export const DEFAULT_MAX_ROUND_WRITES = 4096;
/** ...and at most this many value bytes, so one round never holds the memory of thousands of large values twice. */
export const DEFAULT_MAX_ROUND_BYTES = 16 * 1024 * 1024;
/**
 * Writes settled in one turn of the event loop. Each settle builds a reply (several µs under
 * load), so a slice is well under a millisecond; between slices the loop reads its sockets.
 */
export const SETTLE_SLICE = 64;

type Round<W> = { writes: W[]; bytes: number; sealed: boolean; readers: (() => void)[] };
type Settling = { readonly count: number; readonly settle: SettleWrite; next: number };

export class GroupCommit<W extends QueuedWrite> {
  readonly #commit: CommitRound<W>;
  readonly #maxWrites: number;
  readonly #maxBytes: number;
  /** Rounds not committed yet, oldest first; while #running and nothing is #settling, the first is in flight. */
  readonly #rounds: Round<W>[] = [];
  /** The round holding each key's latest queued write. */
  readonly #latest = new Map<string, Round<W>>();
  /** The committed round whose writes are being settled; the next round starts once they all are. */
  #settling: Settling | undefined;
  /** A round is in flight or being settled. */
  #running = false;
  #scheduled = false;
  #idle: (() => void)[] = [];

  constructor(commit: CommitRound<W>, options: { maxWrites?: number; maxBytes?: number } = {}) {
    this.#commit = commit;
    this.#maxWrites = options.maxWrites ?? DEFAULT_MAX_ROUND_WRITES;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_ROUND_BYTES;
  }

  /** Queues a write into the open round; its settle comes from the CommitRound's SettleWrite. */
  add(write: W): void {
    let round = this.#rounds.at(-1);
    if (round === undefined || round.sealed || round.writes.length >= this.#maxWrites || (round.bytes > 0 && round.bytes + write.bytes > this.#maxBytes)) {
      round = { writes: [], bytes: 0, sealed: false, readers: [] };
      this.#rounds.push(round);
    }
    round.writes.push(write);
    round.bytes += write.bytes;
    this.#latest.set(write.key, round);
    // Idle: start after the current burst (the rest of this data callback) has queued too.
    if (!this.#running && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#next();
      });
    }
  }

  /** Runs `read` at once when `key` has no queued write, else once the round holding its latest one has committed. */
  readKey<T>(key: string, read: () => T): T | Promise<T> {
    const round = this.#latest.get(key);
    return round === undefined ? read() : this.#after(round, read);
  }

  /** Runs `read` once every write queued so far has committed (at once when none is). */
  readAll<T>(read: () => T): T | Promise<T> {
    const round = this.#rounds.at(-1);
    return round === undefined ? read() : this.#after(round, read);
  }

  /** Resolves once nothing is queued, in flight or waiting to be settled. */
  idle(): Promise<void> {
    if (this.#rounds.length === 0 && !this.#running) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#idle.push(resolve);
    return promise;
  }

  #after<T>(round: Round<W>, read: () => T): Promise<T> {
    // The read sees the store as this round leaves it: later writes go to the next round.
    round.sealed = true;
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    round.readers.push(() => {
      try {
        resolve(read());
      } catch (error) {
        reject(error);
      }
    });
    return promise;
  }

  #next(): void {
    const round = this.#rounds[0];
    if (this.#running || round === undefined) return;
    this.#running = true;
    round.sealed = true;
    this.#commit(round.writes).then(
      (settle) => this.#committed(round, settle),
      (error: unknown) => {
        // A CommitRound must settle its writes itself; one that throws is a bug, not a store fault.
        console.error("gnp: a commit round threw:", error);
        this.#committed(round, () => {});
      },
    );
  }

  #committed(round: Round<W>, settle: SettleWrite): void {
    this.#rounds.shift();
    for (const write of round.writes) if (this.#latest.get(write.key) === round) this.#latest.delete(write.key);
    // Readers first, then the next round: a read issued before a later write must not see it,
    // and a store whose reads take time (a network round trip) holds the next round back itself.
    for (const reader of round.readers) reader();
    this.#settling = { count: round.writes.length, settle, next: 0 };
    this.#settleSlice();
  }

  /**
   * Settles up to SETTLE_SLICE writes of the committed round, the rest at the next turns of the
   * loop; then starts the next round. Starting it sooner was measured to cost more than it
   * gains: it commits the few writes that came in during the first slice as a round of their
   * own, and the writes answered by the later slices wait for a third.
   */
  #settleSlice(): void {
    const settling = this.#settling!;
    const end = Math.min(settling.count, settling.next + SETTLE_SLICE);
    // Bounded by the slice: each turn settles one write.
    while (settling.next < end) {
      try {
        settling.settle(settling.next++);
      } catch (error) {
        // A SettleWrite must not throw; one that does is a bug, and must not strand the writes after it.
        console.error("gnp: settling a write threw:", error);
      }
    }
    if (settling.next < settling.count) {
      setImmediate(() => this.#settleSlice());
      return;
    }
    this.#settling = undefined;
    this.#running = false;
    if (this.#rounds.length > 0) this.#next();
    else for (const resolve of this.#idle.splice(0)) resolve();
  }
}
