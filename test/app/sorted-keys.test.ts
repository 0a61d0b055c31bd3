// The memory store's key index against a plain reference (every key, sorted by its UTF-8
// bytes with Buffer.compare): a seeded run of adds and deletes across many chunk splits, with
// prefix scans of every kind of key, BMP above the surrogates and astral included.

import { expect, test } from "bun:test";
import { SortedKeys, compareKeys } from "../../src/app/sorted-keys.ts";
import { fuzzSeed, mulberry32 } from "../support/prng.ts";

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

const ALPHABET = ["a", "b", "z", "/", "0", "é", "\u{FFFF}", "\u{E000}", "\u{10000}", "\u{10FFFF}", "\u{D7FF}"];

test("compareKeys orders by UTF-8 bytes, where JavaScript's < does not", () => {
  const keys = ["\u{FFFF}", "\u{10000}", "\u{E000}", "\u{D7FF}", "a", "", "ab", "\u{10FFFF}", "\u{10FFFF}z", "é"];
  expect([...keys].sort(compareKeys)).toEqual([...keys].sort(byBytes));
  expect("\u{FFFF}" < "\u{10000}").toBe(false);
  expect(compareKeys("\u{FFFF}", "\u{10000}")).toBeLessThan(0);
});

test("adds, deletes and prefix scans match a sorted reference across chunk splits", () => {
  const seed = fuzzSeed();
  const next = mulberry32(seed);
  const index = new SortedKeys();
  const present = new Set<string>();
  const word = () => Array.from({ length: 1 + Math.floor(next() * 4) }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join("");
  // Bounded: 12,000 operations, enough to split chunks of 1024 several times over.
  for (let i = 0; i < 12_000; i++) {
    const key = word();
    if (present.has(key) && next() < 0.3) {
      index.delete(key);
      present.delete(key);
    } else if (!present.has(key)) {
      index.add(key);
      present.add(key);
    }
    if (i % 500 === 0 || i === 11_999) {
      const prefix = word().slice(0, 1 + Math.floor(next() * 2));
      const expected = [...present].filter((k) => k.startsWith(prefix)).sort(byBytes).slice(0, 50);
      expect({ seed, i, prefix, keys: index.scan(prefix, 50, (k) => k.startsWith(prefix)) }).toEqual({ seed, i, prefix, keys: expected });
    }
  }
  expect(index.scan("", present.size + 1, () => true)).toEqual([...present].sort(byBytes));
});
