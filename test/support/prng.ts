// The seeded randomness of the fuzz tests: mulberry32 (small, seedable, good enough to pick
// cuts and bytes) and the seed of a run, from GNP_FUZZ_SEED when set so that a failure
// printed with its seed can be replayed.

/** A generator of numbers in [0, 1) that repeats for the same seed. */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** This run's seed: GNP_FUZZ_SEED, else one drawn from the clock. */
export function fuzzSeed(): number {
  return Number(process.env.GNP_FUZZ_SEED ?? Date.now() % 1_000_000);
}
