// Why a file could not be read or created, in words an operator can act on: "no such file",
// "is a directory", and for a refused access the uid that was refused and the file or
// directory that refused it, with its mode and owner. The usual case is a container whose uid
// meets a mount made for another one (`gnp certs init` makes its directory mode 0700).

import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { systemReason } from "../wording.ts";

/**
 * The reason after the colon of a "cannot read ..." line.
 *
 * @example describeFileError(error, "/pki/ca.crt") // "permission denied for uid 10001 (/pki is mode 0700, owner uid 0 gid 0)"
 */
export function describeFileError(error: unknown, path: string): string {
  const code = (error as { code?: string }).code;
  if (code === "EACCES" || code === "EPERM") {
    const uid = process.getuid?.();
    const who = uid === undefined ? "permission denied" : `permission denied for uid ${uid}`;
    const where = refuser(path);
    return where === undefined ? who : `${who} (${where})`;
  }
  return systemReason(error);
}

/**
 * The first directory on the way to `path` this process may not enter, else `path` itself
 * when it exists, else its directory: that is where the mode or owner must change.
 */
function refuser(path: string): string | undefined {
  const target = resolve(path);
  const ancestors: string[] = [];
  for (let dir = dirname(target); ; dir = dirname(dir)) {
    ancestors.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  for (const dir of ancestors) {
    try {
      accessSync(dir, constants.X_OK);
    } catch {
      return modeOf(dir);
    }
  }
  return modeOf(target) ?? modeOf(dirname(target));
}

function modeOf(path: string): string | undefined {
  try {
    const stat = statSync(path);
    return `${path} is mode ${(stat.mode & 0o7777).toString(8).padStart(4, "0")}, owner uid ${stat.uid} gid ${stat.gid}`;
  } catch {
    return undefined;
  }
}
