// normalizeThumbprint, thumbprints and formatThumbprint: the forms an operator
// types into the allow-list and the digests the validator compares them with.
import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { formatThumbprint, normalizeThumbprint, thumbprints } from "../../src/certs/thumbprint.ts";
import { makeTestPki } from "../support/pki.ts";

const SHA1 = "E1BB0C5A1D6F3C2B4A5968778695A4B3C2D19F03";
const SHA256 = "3F0A".repeat(16);

describe("normalizeThumbprint", () => {
  test("returns upper-case hex without separators for a colon-separated lower-case SHA-1", () => {
    const colons = SHA1.toLowerCase().match(/../g)!.join(":");
    expect(normalizeThumbprint(colons)).toBe(SHA1);
  });

  test("accepts a 64-digit SHA-256 in mixed case and trims surrounding whitespace", () => {
    expect(normalizeThumbprint(`  ${SHA256.slice(0, 10).toLowerCase()}${SHA256.slice(10)}\n`)).toBe(SHA256);
  });

  test("throws RangeError quoting the input when it is not 40 or 64 hex digits", () => {
    expect(() => normalizeThumbprint("zz")).toThrow(
      new RangeError('invalid thumbprint "zz": expected 40 (SHA-1) or 64 (SHA-256) hex digits'),
    );
    expect(() => normalizeThumbprint(SHA1.slice(1))).toThrow(RangeError);
    expect(() => normalizeThumbprint(`${SHA1.slice(1)}G`)).toThrow(RangeError);
    expect(() => normalizeThumbprint(`${SHA256}00`)).toThrow(RangeError);
    expect(() => normalizeThumbprint("")).toThrow(RangeError);
  });
});

describe("thumbprints", () => {
  test("returns the SHA-1 and SHA-256 of the DER that node:crypto reports as fingerprints", async () => {
    const { good } = await makeTestPki();
    const node = new X509Certificate(good.der);
    expect(thumbprints(good.der)).toEqual({
      sha1: node.fingerprint.replaceAll(":", ""),
      sha256: node.fingerprint256.replaceAll(":", ""),
    });
    expect(good.sha1).toBe(node.fingerprint.replaceAll(":", ""));
  });
});

describe("formatThumbprint", () => {
  test("joins upper-case digit pairs with colons, as Bun's fingerprint does", () => {
    expect(formatThumbprint(SHA1.toLowerCase())).toBe(SHA1.match(/../g)!.join(":"));
    expect(normalizeThumbprint(formatThumbprint(SHA256))).toBe(SHA256);
  });
});
