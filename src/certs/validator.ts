// The server's own client-certificate check (PROTOCOL.md section 1): presented,
// within its validity, and admitted by the thumbprint allow-list or a chain to a
// trusted CA. Parsing and chain building are cached by SHA-256 digest; the
// clock is compared at every call, cached or not, so expiry is never cached.
import { X509Certificate as NodeX509 } from "node:crypto";
import { normalizeThumbprint, thumbprints } from "./thumbprint.ts";
import { TrustAnchors, type TrustWindow } from "./trust-anchors.ts";
import type { TrustPolicy } from "./trust-policy.ts";
import type { RefusalCode } from "../errors.ts";
import { x509 } from "./x509.ts";
import type * as X509 from "@peculiar/x509";

/** The shape of Bun's `socket.getPeerCertificate()`; `{}` when none was presented. */
export type PeerCertificate = { raw?: Uint8Array; fingerprint?: string; fingerprint256?: string };

/** The validator's refusals: the catalog's codes with `refusal: "certificate"` (src/errors.ts). */
export type AdmissionCode = RefusalCode<"certificate">;

export type Admission =
  | {
      ok: true;
      /** Subject CN, else first SAN value, else SHA-256 thumbprint. */
      identity: string;
      subject: string;
      commonName: string | undefined;
      sans: string[];
      sha1: string;
      sha256: string;
      notBefore: Date;
      notAfter: Date;
      /** True when admitted by a trusted CA, false when by the allow-list. */
      viaCa: boolean;
    }
  | { ok: false; code: AdmissionCode; reason: string };

export type CertificateValidatorOptions = {
  /** Certificates whose parse result is kept; 0 turns caching off. */
  cacheSize?: number;
};

export const DEFAULT_CACHE_SIZE = 10_000;

// What is known about one certificate whatever the clock says.
type Entry =
  | { parsed: false; reason: string }
  | {
      parsed: true;
      name: string; // how reasons name it: CN=<cn>, else the identity
      identity: string;
      subject: string;
      commonName: string | undefined;
      sans: readonly string[];
      sha1: string;
      sha256: string;
      notBefore: number;
      notAfter: number;
      allowed: boolean;
      /** False when an extended key usage is present without clientAuth (a server certificate, say). */
      forClients: boolean;
      windows: readonly TrustWindow[];
    };

const MISSING: Admission = Object.freeze({
  ok: false,
  code: "CERT_MISSING",
  reason: "no client certificate was presented",
});

/**
 * Decides whether a client certificate is admitted, and who it is.
 *
 * @example
 * const validator = new CertificateValidator({ allow: [], trustedCas: [caPem] }, { cacheSize: 1000 })
 * const admission = validator.validate(socket.getPeerCertificate())
 * if (!admission.ok) socket.end(`ERR: ${admission.reason}\r\n`)
 */
export class CertificateValidator {
  readonly #allow: ReadonlySet<string>;
  readonly #anchors: TrustAnchors;
  readonly #cacheSize: number;
  readonly #cache = new Map<string, Entry>();
  #hits = 0;
  #misses = 0;

  constructor(policy: TrustPolicy, options: CertificateValidatorOptions = {}) {
    const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new RangeError(`invalid cacheSize ${JSON.stringify(cacheSize)}: expected a whole number >= 0`);
    }
    this.#cacheSize = cacheSize;
    this.#allow = new Set(policy.allow.map(normalizeThumbprint));
    this.#anchors = new TrustAnchors(policy.trustedCas);
  }

  get cacheStats(): { hits: number; misses: number; size: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#cache.size };
  }

  /** `now` is in milliseconds since the epoch; it defaults to the clock. */
  validate(peer: PeerCertificate | null | undefined, now: number = Date.now()): Admission {
    const raw = peer?.raw;
    if (!raw || raw.length === 0) return MISSING;
    const entry = this.#lookup(raw, peer.fingerprint256);
    if (!entry.parsed) return refuse("CERT_INVALID", entry.reason);
    if (now > entry.notAfter) {
      return refuse("CERT_EXPIRED", `certificate ${entry.name} expired at ${formatInstant(entry.notAfter)}`);
    }
    if (now < entry.notBefore) {
      return refuse("CERT_NOT_YET_VALID", `certificate ${entry.name} is not valid before ${formatInstant(entry.notBefore)}`);
    }
    if (entry.allowed) return admit(entry, false);
    if (entry.windows.some((w) => w.from <= now && now <= w.to)) {
      // A CA issues server certificates too; one of those is not a client login. An allow-listed
      // thumbprint names one certificate on purpose, so it is exempt.
      if (!entry.forClients) {
        return refuse("CERT_WRONG_USAGE", `certificate ${entry.name} is not for client authentication: its extended key usage lacks clientAuth`);
      }
      return admit(entry, true);
    }
    // Reason format: `unknown certificate CN=eve, SHA-1 <40 upper-case hex digits>`,
    // the thumbprint an operator can paste into the allow-list as it is.
    let reason = `unknown certificate ${entry.name}, SHA-1 ${entry.sha1}`;
    const window = entry.windows[0];
    if (window) {
      reason += now > window.to
        ? `: issuer ${window.toCa} expired at ${formatInstant(window.to)}`
        : `: issuer ${window.fromCa} is not valid before ${formatInstant(window.from)}`;
    }
    return refuse("CERT_UNKNOWN", reason);
  }

  #lookup(raw: Uint8Array, fingerprint256: string | undefined): Entry {
    // Bun computes fingerprint256 from these very bytes, so it can key the
    // cache without hashing; anything unexpected falls back to hashing raw.
    const key = fingerprint256?.replaceAll(":", "").toUpperCase();
    if (key && key.length === 64) {
      const cached = this.#cache.get(key);
      if (cached) {
        this.#hits++;
        return cached;
      }
    }
    const digests = thumbprints(raw);
    if (key !== digests.sha256) {
      const cached = this.#cache.get(digests.sha256);
      if (cached) {
        this.#hits++;
        return cached;
      }
    }
    this.#misses++;
    const entry = this.#parse(raw, digests);
    if (this.#cacheSize > 0) {
      // Map iteration order is insertion order: the first key is the oldest.
      if (this.#cache.size >= this.#cacheSize) {
        const oldest = this.#cache.keys().next();
        if (!oldest.done) this.#cache.delete(oldest.value);
      }
      this.#cache.set(digests.sha256, entry);
    }
    return entry;
  }

  #parse(raw: Uint8Array, digests: { sha1: string; sha256: string }): Entry {
    // @peculiar/x509 reads bytes that do not start with a DER SEQUENCE as
    // PEM/hex/base64 text; refuse them so the parsed certificate is the hashed one.
    if (raw[0] !== 0x30) return { parsed: false, reason: "certificate could not be parsed: not a DER SEQUENCE" };
    try {
      const der = new Uint8Array(raw);
      const cert = new x509.X509Certificate(der);
      const node = new NodeX509(der);
      const { identity, commonName, sans } = certificateIdentity(cert, digests.sha256);
      const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
      return {
        parsed: true,
        name: printable(commonName === undefined ? identity : `CN=${commonName}`),
        identity,
        subject: cert.subject,
        commonName,
        sans: Object.freeze(sans),
        ...digests,
        notBefore: cert.notBefore.getTime(),
        notAfter: cert.notAfter.getTime(),
        allowed: this.#allow.has(digests.sha1) || this.#allow.has(digests.sha256),
        forClients: allowsClientAuth(cert),
        windows: Object.freeze(this.#anchors.windowsFor(node, cert.issuer, aki)),
      };
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      return { parsed: false, reason: `certificate could not be parsed: ${printable(detail)}` };
    }
  }
}

/**
 * Who a certificate names (PROTOCOL.md section 1): its subject CN, else its
 * first DNS/IP/e-mail/URI subjectAltName, else its SHA-256 thumbprint.
 *
 * @example certificateIdentity(cert, sha256).identity // "alice"
 */
export function certificateIdentity(
  cert: X509.X509Certificate,
  sha256: string,
): { identity: string; commonName: string | undefined; sans: string[] } {
  const commonName = cert.subjectName.getField("CN")[0] || undefined;
  const sans = subjectAltNames(cert);
  return { identity: commonName ?? sans[0] ?? sha256, commonName, sans };
}

/** An instant as ISO 8601 in UTC without milliseconds: `2026-01-31T00:00:00Z`. */
export function formatInstant(time: number | Date): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function admit(entry: Extract<Entry, { parsed: true }>, viaCa: boolean): Admission {
  return {
    ok: true,
    identity: entry.identity,
    subject: entry.subject,
    commonName: entry.commonName,
    sans: [...entry.sans],
    sha1: entry.sha1,
    sha256: entry.sha256,
    notBefore: new Date(entry.notBefore),
    notAfter: new Date(entry.notAfter),
    viaCa,
  };
}

function refuse(code: AdmissionCode, reason: string): Admission {
  return { ok: false, code, reason };
}

// DNS, IP, e-mail and URI values in order; other kinds name no one.
function subjectAltNames(cert: X509.X509Certificate): string[] {
  const extension = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!extension) return [];
  try {
    return extension.names.items.filter((n) => SAN_KINDS.has(n.type)).map((n) => n.value);
  } catch {
    // @peculiar/x509 throws on SAN kinds it cannot render (X.400, EDI, unknown
    // otherName); such a certificate is still valid, it just names no one there.
    return [];
  }
}

const SAN_KINDS: ReadonlySet<string> = new Set(["dns", "ip", "email", "url"]);

// Reasons travel as one wire line (`ERR: <reason>` CRLF): a name taken from a
// certificate must not carry a line break or run on without end.
function printable(text: string): string {
  const clean = text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0";

/** True without an extended key usage extension, or with one that allows clientAuth. */
function allowsClientAuth(cert: X509.X509Certificate): boolean {
  const usage = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (!usage) return true;
  return usage.usages.some((oid) => oid === CLIENT_AUTH || oid === ANY_EXTENDED_KEY_USAGE);
}
