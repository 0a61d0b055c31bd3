// How gnp words, in its one-line messages, things it did not make: a thrown value of any kind,
// an operating-system error code, an address, and the name a person probably meant. One place,
// so that "no such file", "[::1]:7443" or "(did you mean ...?)" reads the same from the server,
// the client, the admin listener and the CLI. It imports nothing and may be imported from anywhere.

/** The message of anything thrown, for a one-line report. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return "an unprintable value";
  }
}

/** What people read for the system error codes gnp meets (files and listening sockets). */
const SYSTEM_REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "is a directory",
  EROFS: "read-only file system",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available on this machine",
};

/**
 * Why a file could not be read or an address could not be bound, in words: the reason for a
 * known `code` (ENOENT, EADDRINUSE, ...), else the error's own message.
 *
 * @example `cannot read --cert ${path}: ${systemReason(error)}` // "... : no such file"
 */
export function systemReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === "string" ? SYSTEM_REASONS[code] : undefined) ?? describe(error);
}

/**
 * An address as messages and logs show it: `127.0.0.1:7443`, `[::1]:7443` for IPv6.
 *
 * @example formatHostPort("::1", 7443) // "[::1]:7443"
 */
export function formatHostPort(host: string, port: number | string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The candidate within edit distance 2 of `name` (the nearest; the first of equals), for a
 * "did you mean" after an unknown key, flag, variable or command; undefined when none is near.
 *
 * @example closestName("max-conections", ["max-connections", "max-body"]) // "max-connections"
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * ` (did you mean "x"?)` for the candidate near `name`, or "" when none is near.
 *
 * @example `unknown command "sever"${didYouMean("sever", ["serve", "call"])}` // 'unknown command "sever" (did you mean "serve"?)'
 */
export function didYouMean(name: string, candidates: readonly string[], show: (candidate: string) => string = (c) => JSON.stringify(c)): string {
  const near = closestName(name, candidates);
  return near === undefined ? "" : ` (did you mean ${show(near)}?)`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
