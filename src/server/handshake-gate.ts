// Who may hold a connection slot before proving anything. Connections still in their TLS
// handshake get a budget of their own (--max-handshakes, below --max-connections) and a cap
// per remote address (--max-handshakes-per-address); when the budget or the slots are full,
// the oldest handshake whose client has not even sent its ClientHello makes room for the
// newcomer, so sockets that sit silent cannot lock anyone out. It knows handles, not sockets.

export type GateLimits = { maxHandshakes: number; maxPerAddress: number };

export class HandshakeGate {
  readonly #limits: GateLimits;
  /** Handshaking connections that hold a slot. */
  #slotted = 0;
  /** Handshaking connections by remote address, with a slot or without one. */
  readonly #byAddress = new Map<string, number>();
  /**
   * Handles of slotted handshakes in the order they opened, each dropped once it is no longer
   * a candidate for eviction (admitted, closed, or seen making progress), so that every handle
   * is looked at a bounded number of times however long a flood lasts.
   */
  #candidates: number[] = [];
  #head = 0;

  constructor(limits: GateLimits) {
    this.#limits = limits;
  }

  /** Slotted handshakes now. */
  get handshaking(): number {
    return this.#slotted;
  }

  /** True when the handshake budget is used up: a newcomer needs a victim. */
  get isFull(): boolean {
    return this.#slotted >= this.#limits.maxHandshakes;
  }

  /** False when `address` already holds its share of handshakes: refuse the newcomer. */
  allows(address: string): boolean {
    return (this.#byAddress.get(address) ?? 0) < this.#limits.maxPerAddress;
  }

  /** A handshake began; `handle` is undefined for one refused a slot (it still counts for its address). */
  opened(address: string, handle: number | undefined): void {
    this.#byAddress.set(address, (this.#byAddress.get(address) ?? 0) + 1);
    if (handle === undefined) return;
    this.#slotted++;
    this.#candidates.push(handle);
  }

  /** A handshake ended: admitted, refused or closed. Call once per opened(). */
  ended(address: string, slotted: boolean): void {
    const left = (this.#byAddress.get(address) ?? 1) - 1;
    if (left <= 0) this.#byAddress.delete(address);
    else this.#byAddress.set(address, left);
    if (slotted) this.#slotted--;
  }

  /**
   * The oldest slotted handshake that has made no progress, taken off the list; undefined when
   * there is none. `state` says whether a handle is still handshaking with nothing to show
   * ("pending"), no longer handshaking ("gone"), or handshaking and past its ClientHello
   * ("progressing"); the last two are never candidates again.
   */
  victim(state: (handle: number) => "pending" | "gone" | "progressing"): number | undefined {
    while (this.#head < this.#candidates.length) {
      const handle = this.#candidates[this.#head++]!;
      if (state(handle) === "pending") {
        this.#compact();
        return handle;
      }
    }
    this.#compact();
    return undefined;
  }

  /** Drops handles that are no longer candidates; from the sweeper, so the list stays short without a flood. */
  prune(state: (handle: number) => "pending" | "gone" | "progressing"): void {
    if (this.#candidates.length - this.#head <= 2 * this.#slotted + 64) return;
    this.#candidates = this.#candidates.slice(this.#head).filter((handle) => state(handle) === "pending");
    this.#head = 0;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#candidates.length) {
      this.#candidates = this.#candidates.slice(this.#head);
      this.#head = 0;
    }
  }
}
