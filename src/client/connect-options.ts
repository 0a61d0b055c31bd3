// The options of connect() and call(), their defaults, and the one check at the boundary:
// a wrong type is a TypeError, a value out of range a RangeError, thrown before any socket
// is opened. What comes out is frozen and trusted by the rest of the client.

import type { HeaderList } from "../protocol/encoder.ts";
import { DEFAULT_MAX_REPLY_BODY } from "../protocol/reply-parser.ts";
import type { PushListener } from "./pending-calls.ts";

export const DEFAULT_CLIENT_HOST = "127.0.0.1";
/** Milliseconds for connect + TLS handshake + greeting, and the default for each call. */
export const DEFAULT_CLIENT_TIMEOUT_MS = 10_000;

type Pem = string | Uint8Array;

export type ConnectOptions = {
  /** Server address. Default 127.0.0.1. */
  host?: string;
  port: number;
  /** The client certificate (chain) and its private key, PEM. */
  cert: Pem;
  key: Pem;
  /** CA certificate(s) that verify the server's certificate. Default: the system's roots. */
  ca?: Pem | readonly Pem[];
  /** Skip verifying the server's certificate. For development only; excludes `ca`. */
  insecure?: boolean;
  /** Milliseconds for connecting (through the greeting) and the default per call; 0 = none. Default 10,000. */
  timeout?: number;
  /** Name sent as SNI and checked against the server's certificate. Default: `host`. */
  servername?: string;
  /** Largest reply body accepted, in bytes. Default 64 MiB. */
  maxBody?: number;
  /** Receives pushes whose Sequence has no listener of its own. */
  onPush?: PushListener;
};

export type ResolvedConnectOptions = Readonly<{
  host: string;
  port: number;
  cert: Pem;
  key: Pem;
  ca: Pem | Pem[] | undefined;
  insecure: boolean;
  timeoutMs: number;
  servername: string | undefined;
  maxBody: number;
  onPush: PushListener | undefined;
}>;

export type CallOptions = {
  /** Extra request headers, in order. Sequence and Size are set by the client. */
  headers?: HeaderList | Readonly<Record<string, string>>;
  /** The request body; strings are sent as UTF-8. */
  body?: string | Uint8Array;
  /** Milliseconds to wait for the reply; 0 = forever. Default: the connection's timeout. */
  timeout?: number;
  /** A Sequence of your own (1-64 visible ASCII) instead of the client's counter. */
  sequence?: string;
  /** Receives the pushes sent for this call's Sequence until `unsubscribe(sequence)`. */
  onPush?: PushListener;
};

export function resolveConnectOptions(options: ConnectOptions): ResolvedConnectOptions {
  if (options === null || typeof options !== "object") throw new TypeError("connect options must be an object");
  const host = options.host ?? DEFAULT_CLIENT_HOST;
  if (typeof host !== "string" || host.length === 0) throw new TypeError(`invalid host ${JSON.stringify(host)}`);
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw new RangeError(`invalid port ${JSON.stringify(options.port)}: expected a whole number from 1 to 65535`);
  }
  if (!isPem(options.cert)) throw new TypeError("cert must be a PEM string or bytes");
  if (!isPem(options.key)) throw new TypeError("key must be a PEM string or bytes");
  const ca = options.ca;
  if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.every(isPem))) {
    throw new TypeError("ca must be a PEM string or bytes, or an array of them");
  }
  const insecure = options.insecure ?? false;
  if (typeof insecure !== "boolean") throw new TypeError("insecure must be a boolean");
  if (insecure && ca !== undefined) throw new TypeError("ca and insecure exclude each other: ca verifies the server, insecure skips it");
  if (options.servername !== undefined && typeof options.servername !== "string") throw new TypeError("servername must be a string");
  if (options.onPush !== undefined && typeof options.onPush !== "function") throw new TypeError("onPush must be a function");
  const maxBody = options.maxBody ?? DEFAULT_MAX_REPLY_BODY;
  if (!Number.isSafeInteger(maxBody) || maxBody < 0) throw new RangeError(`invalid maxBody ${JSON.stringify(maxBody)}`);
  return Object.freeze({
    host,
    port: options.port,
    cert: options.cert,
    key: options.key,
    ca: Array.isArray(ca) ? [...ca] : (ca as Pem | undefined),
    insecure,
    timeoutMs: checkTimeout(options.timeout ?? DEFAULT_CLIENT_TIMEOUT_MS),
    servername: options.servername,
    maxBody,
    onPush: options.onPush,
  });
}

/** Milliseconds: a finite number from 0 (none) up to what setTimeout can hold. */
export function checkTimeout(value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 2 ** 31 - 1) {
    throw new RangeError(`invalid timeout ${JSON.stringify(value)}: expected milliseconds from 0 (none) to 2147483647`);
  }
  return value;
}

/** Call headers as a list, whichever form they were given in. */
export function headerList(headers: CallOptions["headers"]): HeaderList | undefined {
  if (headers === undefined) return undefined;
  if (Array.isArray(headers)) return headers as HeaderList;
  if (typeof headers !== "object" || headers === null) throw new TypeError("headers must be a list of [name, value] or an object");
  return Object.entries(headers);
}

function isPem(value: unknown): value is Pem {
  return (typeof value === "string" && value.length > 0) || value instanceof Uint8Array;
}
