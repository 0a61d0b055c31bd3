// How gnp words, in its one-line messages, things it did not make: a thrown value of any kind,
// an operating-system error code, and an address. One place, so that "no such file" or
// "[::1]:7443" reads the same from the server, the client, the admin listener and the CLI.
// It imports nothing and may be imported from anywhere.

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
