// Certificate thumbprints: the hex of the SHA-1 (40 digits) or SHA-256
// (64 digits) digest of the DER certificate (PROTOCOL.md section 1). The
// canonical form everywhere in gnp is upper-case hex without separators;
// input may use either case and `:` separators. Also SPKI pins, the SHA-256 of
// a certificate's public key, canonical as `sha256/BASE64`.
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

/**
 * An SPKI pin's canonical form, `sha256/BASE64` (the SHA-256 of the certificate's
 * SubjectPublicKeyInfo, as NATS, Envoy and ghostunnel write it), from that form or from 64
 * hex digits (`:` allowed). Throws RangeError naming what is wrong.
 *
 * @example normalizeSpkiPin("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
 */
export function normalizeSpkiPin(text: string): string {
  const trimmed = text.trim();
  let digest: Buffer;
  if (trimmed.toLowerCase().startsWith("sha256/")) {
    const base64 = trimmed.slice("sha256/".length);
    digest = /^[A-Za-z0-9+/_-]+={0,2}$/.test(base64) ? Buffer.from(base64, "base64") : Buffer.alloc(0);
    if (digest.length !== 32) {
      throw new RangeError(`invalid SPKI pin ${JSON.stringify(text)}: expected sha256/ and the base64 of a 32-byte SHA-256 digest (44 characters), got ${digest.length} bytes`);
    }
  } else {
    const hex = trimmed.replaceAll(":", "").toUpperCase();
    if (hex.length !== 64 || !HEX.test(hex)) {
      throw new RangeError(`invalid SPKI pin ${JSON.stringify(text)}: expected 64 hex digits (SHA-256) or sha256/BASE64`);
    }
    digest = Buffer.from(hex, "hex");
  }
  return `sha256/${digest.toString("base64")}`;
}

/** The SHA-256 hex (upper case) an SPKI pin names. */
export function spkiPinHex(pin: string): string {
  return Buffer.from(normalizeSpkiPin(pin).slice("sha256/".length), "base64").toString("hex").toUpperCase();
}

/**
 * An allow-list entry's canonical form: a certificate thumbprint (40 or 64 hex digits, case
 * and `:` ignored) or an SPKI pin (`sha256/BASE64`: any certificate of that key). Throws
 * RangeError.
 */
export function normalizeAllowEntry(text: string): string {
  return text.trim().toLowerCase().startsWith("sha256/") ? normalizeSpkiPin(text) : normalizeThumbprint(text);
}
