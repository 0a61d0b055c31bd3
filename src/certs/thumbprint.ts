// Certificate thumbprints: the hex of the SHA-1 (40 digits) or SHA-256
// (64 digits) digest of the DER certificate (PROTOCOL.md section 1). The
// canonical form everywhere in gnp is upper-case hex without separators;
// input may use either case and `:` separators.
import { createHash } from "node:crypto";

const HEX = /^[0-9A-F]+$/;

/**
 * Returns the canonical form of a thumbprint: upper-case hex, no separators.
 * Throws RangeError when it is not 40 or 64 hex digits.
 *
 * @example normalizeThumbprint("e1:bb:...:9f:03") // "E1BB...9F03"
 */
export function normalizeThumbprint(text: string): string {
  const hex = text.trim().replaceAll(":", "").toUpperCase();
  if ((hex.length !== 40 && hex.length !== 64) || !HEX.test(hex)) {
    throw new RangeError(
      `invalid thumbprint ${JSON.stringify(text)}: expected 40 (SHA-1) or 64 (SHA-256) hex digits`,
    );
  }
  return hex;
}

/**
 * SHA-1 and SHA-256 thumbprints of a DER certificate, canonical form.
 *
 * @example thumbprints(der).sha256 // "3F0A...C1D2"
 */
export function thumbprints(der: Uint8Array): { sha1: string; sha256: string } {
  return {
    sha1: createHash("sha1").update(der).digest("hex").toUpperCase(),
    sha256: createHash("sha256").update(der).digest("hex").toUpperCase(),
  };
}

/**
 * Display form, as openssl and Bun's `fingerprint` print it: pairs of
 * upper-case hex digits joined by `:`. Accepts any form normalizeThumbprint does.
 *
 * @example formatThumbprint("e1bb9f03...") // "E1:BB:9F:03:..."
 */
export function formatThumbprint(hex: string): string {
  return normalizeThumbprint(hex).match(/../g)!.join(":");
}
