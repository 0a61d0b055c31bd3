// Server options: the DEFAULT_* constants, the one range of every number a server or `gnp
// serve` takes (LIMITS: resolveOptions and the flags check against the same table, so they
// cannot disagree), and resolveOptions, which checks everything a caller passes once, at the
// boundary, and returns a frozen config. Nothing deeper checks again. TLS material is checked
// here too (the key must match the certificate), so a mistake is one clear error up front.

import { X509Certificate, createPrivateKey } from "node:crypto";
import { GnpError } from "./errors.ts";
import { normalizeAllowEntry } from "./certs/thumbprint.ts";
import {
  DEFAULT_MAX_CHAIN_DEPTH,
  DEFAULT_MAX_PRESENTED_CERTIFICATES,
  MAX_CHAIN_DEPTH,
  MAX_PRESENTED_CERTIFICATES,
  type TrustPolicy,
} from "./certs/trust-policy.ts";
import type { CrlInput } from "./certs/revocation-lists.ts";
import { MAX_SLAB_CAPACITY } from "./slab/slab.ts";

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 7443;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Slots that connections still in their TLS handshake may hold at once (never more than the slots). */
export const DEFAULT_MAX_HANDSHAKES = 2048;
/** Connections in their handshake one remote address may have; `gnp bench --conns 1000` fits. */
export const DEFAULT_MAX_HANDSHAKES_PER_ADDRESS = 1024;
/** The slab is one ArrayBuffer of 8 KiB a slot: 500,000 slots is 3.8 GiB, about what one buffer may be. */
export const MAX_CONNECTIONS = Math.min(500_000, MAX_SLAB_CAPACITY);
export const DEFAULT_MAX_BODY = 1024 * 1024;
export const DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024;
export const DEFAULT_IDLE_TIMEOUT_S = 300;
export const DEFAULT_HANDSHAKE_TIMEOUT_S = 10;
/** How long a request (head and body) may take to arrive, from its first byte. */
export const DEFAULT_REQUEST_TIMEOUT_S = 30;
/** How long a condemned connection may take to read its error line before it is cut. */
export const DEFAULT_ABORT_TIMEOUT_S = 2;
export const DEFAULT_SHUTDOWN_TIMEOUT_S = 10;
export const DEFAULT_WORKERS = 1;
/** The longest time limit, in whole seconds: 2^31 ms, as far as a timer reaches (24.8 days). */
export const MAX_TIMEOUT_S = 2_147_483;

/** A number's range: whole or not, in seconds or not; `positive` excludes `min` (0) itself. */
export type Limit = Readonly<{ min: number; max: number; whole: boolean; seconds: boolean; positive: boolean }>;

const whole = (min: number, max: number): Limit => ({ min, max, whole: true, seconds: false, positive: false });
const seconds = (min: number, max: number): Limit => ({ min, max, whole: false, seconds: true, positive: false });
const positiveSeconds = (max: number): Limit => ({ min: 0, max, whole: false, seconds: true, positive: true });

/** Every range, by option name; the flag of each (`maxBody`, `--max-body`) is checked against it. */
export const LIMITS = {
  port: whole(0, 65535),
  maxConnections: whole(1, MAX_CONNECTIONS),
  /** At most maxConnections in effect: resolveOptions takes the smaller. */
  maxHandshakes: whole(1, MAX_CONNECTIONS),
  maxHandshakesPerAddress: whole(1, MAX_CONNECTIONS),
  maxBody: whole(0, 2 ** 31 - 1),
  maxOutput: whole(1024, 2 ** 40),
  /** 0 = never. */
  idleTimeout: seconds(0, MAX_TIMEOUT_S),
  handshakeTimeout: positiveSeconds(MAX_TIMEOUT_S),
  /** 0 = no limit. */
  requestTimeout: seconds(0, MAX_TIMEOUT_S),
  abortTimeout: positiveSeconds(MAX_TIMEOUT_S),
  shutdownTimeout: seconds(0, 86_400),
  /** Intermediate CAs between a client certificate and a trusted CA. */
  maxChainDepth: whole(0, MAX_CHAIN_DEPTH),
  /** Certificates a client may send, its own included. */
  maxPresentedCertificates: whole(1, MAX_PRESENTED_CERTIFICATES),
  /** Seconds between checks of `gnp serve`'s certificate, CA and CRL files for changes; 0 = never. */
  pollInterval: seconds(0, 86_400),
  /** Server processes of `gnp serve --workers`: more is a typo, not a deployment (each holds its own slab). */
  workers: whole(1, 256),
} as const satisfies Record<string, Limit>;

/**
 * What a limit expects, said for a message: `a whole number from 1 to 500000`, `a number of
 * seconds from 0 to 86400`, `a number of seconds above 0, at most 2147483`.
 */
export function expectedBy(limit: Limit): string {
  if (limit.whole) return `a whole number from ${limit.min} to ${limit.max}`;
  const what = limit.seconds ? "a number of seconds" : "a number";
  return limit.positive ? `${what} above ${limit.min}, at most ${limit.max}` : `${what} from ${limit.min} to ${limit.max}`;
}

/** True when `value` is a number within `limit`. */
export function withinLimit(limit: Limit, value: unknown): value is number {
  if (typeof value !== "number" || !Number.isFinite(value) || (limit.whole && !Number.isInteger(value))) return false;
  return (limit.positive ? value > limit.min : value >= limit.min) && value <= limit.max;
}

export type ServerOptions = {
  /** Address to listen on. Default 127.0.0.1; use 0.0.0.0 or :: to accept remote clients. */
  host?: string;
  /** TCP port; 0 picks a free one (read it back from `server.port`). Default 7443. */
  port?: number;
  /** The server's certificate chain and private key, PEM. */
  tls: { cert: string; key: string };
  /** Client certificate thumbprints (SHA-1 or SHA-256 hex; case and ':' ignored), or SPKI pins (`sha256/BASE64`: any certificate of that key). */
  allow?: readonly string[];
  /** PEM certificates of CAs whose client certificates are admitted. */
  trustedCas?: readonly string[];
  /** Revocation lists of trusted CAs, PEM text or DER bytes; each must be signed by one of trustedCas. */
  crls?: readonly CrlInput[];
  /** Intermediate CAs allowed between a client certificate and a trusted CA. Default 8. */
  maxChainDepth?: number;
  /** Certificates a client may send, its own included. Default 10. */
  maxPresentedCertificates?: number;
  /** Serve on when a CA's CRL is past its nextUpdate (the admission carries a warning) instead of refusing its clients. Default false. */
  allowStaleCrls?: boolean;
  maxConnections?: number;
  /**
   * Slots connections still in their TLS handshake may hold at once; when they are all taken,
   * the oldest handshake without a ClientHello makes room. Default 2048 (at most maxConnections).
   */
  maxHandshakes?: number;
  /** Connections in their handshake one remote address may have; more are cut at once. Default 1024. */
  maxHandshakesPerAddress?: number;
  /** Largest request body in bytes. Default 1 MiB. */
  maxBody?: number;
  /**
   * Output per connection in bytes, queued or set aside for the replies of commands still
   * running: input is paused before it would pass this; a push past it cuts the client off.
   */
  maxOutput?: number;
  /** Seconds without traffic before a connection is closed; 0 = never. Default 300. */
  idleTimeout?: number;
  /** Seconds for the TLS handshake to finish. Default 10. */
  handshakeTimeout?: number;
  /** Seconds a request's head and body may take to arrive, from its first byte; 0 = no limit. Default 30. */
  requestTimeout?: number;
  /** Seconds a condemned connection gets to read its error line. Default 2. */
  abortTimeout?: number;
  /** Seconds close() waits for in-flight commands before cutting connections. Default 10. */
  shutdownTimeout?: number;
  /** Share the port with other processes that also set it (SO_REUSEPORT, Linux): `gnp serve --workers`. Default false. */
  reusePort?: boolean;
};

export type ResolvedOptions = Readonly<{
  host: string;
  port: number;
  tls: Readonly<{ cert: string; key: string }>;
  /** `allow` (normalized), `trustedCas`, the CRLs and the chain limits, as one value (src/certs/trust-policy.ts). */
  trust: TrustPolicy;
  maxConnections: number;
  maxHandshakes: number;
  maxHandshakesPerAddress: number;
  maxBody: number;
  maxOutput: number;
  idleTimeoutMs: number;
  handshakeTimeoutMs: number;
  requestTimeoutMs: number;
  abortTimeoutMs: number;
  shutdownTimeoutMs: number;
  reusePort: boolean;
}>;

/** Checks `input` and fills in defaults. Throws GnpError CONFIG_INVALID or TLS_CONFIG_INVALID. */
export function resolveOptions(input: ServerOptions): ResolvedOptions {
  if (input === null || typeof input !== "object") throw new TypeError("server options must be an object");
  const tls = input.tls;
  if (!tls || typeof tls.cert !== "string" || typeof tls.key !== "string") {
    throw new GnpError("CONFIG_INVALID", "tls.cert and tls.key must be PEM strings");
  }
  checkKeyPair(tls.cert, tls.key);
  const allow = (input.allow ?? []).map((thumbprint) => {
    try {
      return normalizeAllowEntry(thumbprint);
    } catch (error) {
      throw new GnpError("CONFIG_INVALID", (error as Error).message, { cause: error });
    }
  });
  const trustedCas = [...(input.trustedCas ?? [])];
  for (const pem of trustedCas) {
    if (typeof pem !== "string" || !pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new GnpError("CONFIG_INVALID", "trusted CA is not a PEM certificate");
    }
  }
  const crls = [...(input.crls ?? [])];
  for (const crl of crls) {
    if (typeof crl !== "string" && !(crl instanceof Uint8Array)) {
      throw new GnpError("CONFIG_INVALID", "a CRL must be PEM text or DER bytes");
    }
  }
  if (crls.length > 0 && trustedCas.length === 0) {
    throw new GnpError("CONFIG_INVALID", "CRLs were given without a trusted CA to check them against");
  }
  if (allow.length === 0 && trustedCas.length === 0) {
    throw new GnpError("CONFIG_INVALID", "no client could ever be admitted: give an allow-list thumbprint or a trusted CA");
  }
  const maxConnections = checked("maxConnections", input.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
  return Object.freeze({
    host: input.host ?? DEFAULT_HOST,
    port: checked("port", input.port ?? DEFAULT_PORT),
    tls: Object.freeze({ cert: tls.cert, key: tls.key }),
    trust: Object.freeze({
      allow: Object.freeze(allow),
      trustedCas: Object.freeze(trustedCas),
      maxChainDepth: checked("maxChainDepth", input.maxChainDepth ?? DEFAULT_MAX_CHAIN_DEPTH),
      maxPresentedCertificates: checked("maxPresentedCertificates", input.maxPresentedCertificates ?? DEFAULT_MAX_PRESENTED_CERTIFICATES),
      crls: Object.freeze(crls),
      allowStaleCrls: input.allowStaleCrls === true,
    }),
    maxConnections,
    maxHandshakes: Math.min(checked("maxHandshakes", input.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES), maxConnections),
    maxHandshakesPerAddress: checked("maxHandshakesPerAddress", input.maxHandshakesPerAddress ?? DEFAULT_MAX_HANDSHAKES_PER_ADDRESS),
    maxBody: checked("maxBody", input.maxBody ?? DEFAULT_MAX_BODY),
    maxOutput: checked("maxOutput", input.maxOutput ?? DEFAULT_MAX_OUTPUT),
    idleTimeoutMs: milliseconds("idleTimeout", input.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_S),
    handshakeTimeoutMs: milliseconds("handshakeTimeout", input.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_S),
    requestTimeoutMs: milliseconds("requestTimeout", input.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_S),
    abortTimeoutMs: milliseconds("abortTimeout", input.abortTimeout ?? DEFAULT_ABORT_TIMEOUT_S),
    shutdownTimeoutMs: milliseconds("shutdownTimeout", input.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_S),
    reusePort: input.reusePort === true,
  });
}

function checked(name: keyof typeof LIMITS, value: number): number {
  const limit = LIMITS[name];
  if (!withinLimit(limit, value)) throw new GnpError("CONFIG_INVALID", `invalid ${name} ${JSON.stringify(value)}: expected ${expectedBy(limit)}`);
  return value;
}

function milliseconds(name: keyof typeof LIMITS, value: number): number {
  return Math.round(checked(name, value) * 1000);
}

/** Parses the server's certificate and key and checks that they belong together; throws TLS_CONFIG_INVALID. */
export function checkKeyPair(certPem: string, keyPem: string): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (error) {
    throw new GnpError("TLS_CONFIG_INVALID", `server certificate could not be parsed: ${(error as Error).message}`, { cause: error });
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new GnpError("TLS_CONFIG_INVALID", `server private key could not be parsed: ${(error as Error).message}`, { cause: error });
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new GnpError("TLS_CONFIG_INVALID", `server private key does not match the certificate ${certificate.subject.replace(/\n/g, ", ")}`);
  }
}
