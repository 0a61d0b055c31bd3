// A latency histogram for `gnp bench`: log-linear buckets in the manner of HdrHistogram.
// Values are whole microseconds; below 128 µs every value has its own bucket, above it each
// power of two is cut into 64 buckets, so any reported percentile is within 1/64 (1.6 %) of
// the true value. Recording is a few integer operations and one array write: no allocation.

const SUB_BITS = 6;
const SUB = 1 << SUB_BITS; // 64 buckets per power of two
/** Largest recordable value, µs (about 71 minutes); larger values are clamped to it. */
const MAX_VALUE = 2 ** 32 - 1;
const BUCKETS = (32 - SUB_BITS) * SUB + SUB;

export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  get count(): number {
    return this.#count;
  }

  /** Records one value in microseconds (fractions are rounded). */
  record(micros: number): void {
    const v = micros <= 0 ? 0 : micros >= MAX_VALUE ? MAX_VALUE : Math.round(micros);
    this.#counts[bucketOf(v)]!++;
    this.#count++;
    this.#sum += v;
    if (v < this.#min) this.#min = v;
    if (v > this.#max) this.#max = v;
  }

  /** The value (µs) at or below which `p` (0..1) of the recorded values lie; 0 when empty. */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`invalid percentile ${p}: expected 0 to 1`);
    if (this.#count === 0) return 0;
    if (p === 1) return this.#max;
    const rank = Math.max(1, Math.ceil(p * this.#count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.#counts[b]!;
      if (seen >= rank) return Math.min(Math.max(middleOf(b), this.#min), this.#max);
    }
    return this.#max;
  }

  get max(): number {
    return this.#count === 0 ? 0 : this.#max;
  }

  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /** Adds every value recorded in `other`. */
  merge(other: Histogram): void {
    for (let b = 0; b < BUCKETS; b++) this.#counts[b]! += other.#counts[b]!;
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#min = Math.min(this.#min, other.#min);
    this.#max = Math.max(this.#max, other.#max);
  }
}

/** Values below 2 * SUB map to themselves; above, the top SUB_BITS + 1 bits pick the bucket. */
function bucketOf(v: number): number {
  if (v < 2 * SUB) return v;
  const shift = 31 - Math.clz32(v) - SUB_BITS;
  return shift * SUB + (v >>> shift);
}

/** The middle of the values that share bucket `b`. */
function middleOf(b: number): number {
  if (b < 2 * SUB) return b;
  const shift = Math.floor(b / SUB) - 1;
  const mantissa = b - shift * SUB;
  const low = mantissa * 2 ** shift;
  return low + (2 ** shift - 1) / 2;
}
