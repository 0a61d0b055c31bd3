// Why a file could not be read or created, in words an operator can act on: "no such file",
// "is a directory", and for a refused access the uid that was refused and the file or
// directory that refused it, with its mode and owner. The usual case is a container whose uid
// meets a mount made for another one (`gnp certs init` makes its directory mode 0700).

import { accessSync, constants, existsSync, statSync } from "node:fs";
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
 * when it exists, else the nearest directory above it that does: that is where the mode or
 * owner must change.
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
  return modeOf(target) ?? modeOf(nearestExisting(target));
}

/**
 * Why this process could not create `path` (a directory or file that does not exist yet), or
 * undefined when it could: the nearest existing directory above it must let it write there.
 * For a check that must create nothing, worded as reading or creating it would fail.
 *
 * @example whyCannotCreate("/data/pki") // "permission denied for uid 10001 (/data is mode 0755, owner uid 0 gid 0)"
 */
export function whyCannotCreate(path: string): string | undefined {
  const target = resolve(path);
  const parent = nearestExisting(target);
  try {
    accessSync(parent, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    return describeFileError(error, target);
  }
}

/** `path` itself when it exists, else the nearest existing directory above it. */
function nearestExisting(path: string): string {
  let dir = path;
  while (!existsSync(dir) && dir !== dirname(dir)) dir = dirname(dir);
  return dir;
}

function modeOf(path: string): string | undefined {
  try {
    const stat = statSync(path);
    return `${path} is mode ${(stat.mode & 0o7777).toString(8).padStart(4, "0")}, owner uid ${stat.uid} gid ${stat.gid}`;
  } catch {
    return undefined;
  }
}
