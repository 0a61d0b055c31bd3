// One `gnp serve` per data directory: the process a user signals (a lone server or the
// supervisor of --workers) holds an exclusive flock(2) on DATA/gnp.lock for its whole life, so
// a second server on the same directory refuses to start in one line instead of taking over
// DATA/gnp.pid. The kernel drops the lock when its holder dies, so a killed server never
// leaves it blocking. Where flock cannot be reached (no libc to load), a live pid in the file
// stands in for it.

import { closeSync, mkdirSync, openSync, readFileSync, writeSync, ftruncateSync } from "node:fs";
import { join } from "node:path";
import { GnpError } from "../errors.ts";

export const LOCK_FILE = "gnp.lock";

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
/** EWOULDBLOCK on Linux and on macOS. */
const WOULD_BLOCK = [11, 35];

type Flock = { flock: (fd: number, operation: number) => number; errno: () => number };
let flockCall: Flock | null | undefined;

/** libc's flock and errno through bun:ffi, loaded once; null where there is no such libc. */
async function loadFlock(): Promise<Flock | null> {
  if (flockCall !== undefined) return flockCall;
  flockCall = null;
  if (process.platform !== "linux" && process.platform !== "darwin") return flockCall;
  try {
    const { dlopen, FFIType, read } = await import("bun:ffi");
    const errnoName = process.platform === "darwin" ? "__error" : "__errno_location";
    const names = process.platform === "darwin" ? ["libc.dylib"] : ["libc.so.6", "libc.so"];
    for (const name of names) {
      try {
        const lib = dlopen(name, { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 }, [errnoName]: { args: [], returns: FFIType.ptr } });
        const errnoPointer = lib.symbols[errnoName]!;
        flockCall = {
          flock: (fd, operation) => lib.symbols.flock(fd, operation) as number,
          errno: () => read.i32(errnoPointer() as never, 0),
        };
        break;
      } catch {
        // Another name for the C library, or none here (a musl build finds libc.so).
      }
    }
  } catch {
    // No bun:ffi: the pid check below.
  }
  return flockCall;
}

/** Who holds a data directory now, as far as its lock file tells. */
export type LockHolder = { pid: number | undefined };

/**
 * The lock of one data directory, held until release() or the process's end.
 *
 * @example const lock = await DataDirLock.acquire(settings.dataDir); // throws DATA_DIR_IN_USE
 */
export class DataDirLock {
  readonly path: string;
  #fd: number | undefined;
  readonly #flock: Flock | null;

  private constructor(path: string, fd: number, flock: Flock | null) {
    this.path = path;
    this.#fd = fd;
    this.#flock = flock;
  }

  /**
   * Takes the lock of `dataDir` (created if missing) for this process. Throws GnpError
   * DATA_DIR_IN_USE naming the holder's pid when another server has it; other failures
   * (a read-only directory) are thrown as they are.
   */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    const path = join(dataDir, LOCK_FILE);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const flock = await loadFlock();
    const fd = openSync(path, "a+", 0o644);
    const taken = flock !== null ? flockOrHolder(flock, { fd, path }) : pidCheck(path);
    if (taken !== true) {
      closeSync(fd);
      const who = taken.pid === undefined ? "another gnp serve" : `gnp serve pid ${taken.pid}`;
      throw new GnpError("DATA_DIR_IN_USE", `data directory ${dataDir} is in use by ${who} (${path}): stop it first, or give this server its own --data`);
    }
    // The pid is for people and for the check below; the lock itself is the flock.
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`);
    return new DataDirLock(path, fd, flock);
  }

  /**
   * Who holds the lock of `dataDir` now, without taking it; undefined when nobody does (or
   * there is no lock file yet). For `gnp check`, which may run beside the server it checks.
   */
  static async holder(dataDir: string): Promise<LockHolder | undefined> {
    const path = join(dataDir, LOCK_FILE);
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      return undefined;
    }
    try {
      const flock = await loadFlock();
      if (flock === null) {
        const found = pidCheck(path);
        return found === true ? undefined : found;
      }
      const found = flockOrHolder(flock, { fd, path });
      if (found === true) flock.flock(fd, LOCK_UN);
      return found === true ? undefined : found;
    } finally {
      closeSync(fd);
    }
  }

  /** Gives the lock up (closing the file releases the flock); the file stays for the next server. */
  release(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      // Without flock the pid is the lock: emptied, it no longer names a live holder.
      if (this.#flock === null) ftruncateSync(fd, 0);
      closeSync(fd);
    } catch {
      // At exit the kernel releases it anyway.
    }
  }
}

/** true when the flock was taken; else who holds it. */
function flockOrHolder(flock: Flock, lock: { fd: number; path: string }): true | LockHolder {
  if (flock.flock(lock.fd, LOCK_EX | LOCK_NB) === 0) return true;
  // Anything but "held by another" (a file system without locks): do not stand in the way.
  if (!WOULD_BLOCK.includes(flock.errno())) return true;
  return { pid: pidIn(readText(lock.path)) };
}

/** Without flock: the pid in the file, if that process lives, holds it. */
function pidCheck(path: string): true | LockHolder {
  const pid = pidIn(readText(path));
  if (pid === undefined || pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return { pid };
  } catch (error) {
    // EPERM: it lives, under another user.
    return (error as { code?: string }).code === "EPERM" ? { pid } : true;
  }
}

function pidIn(text: string | undefined): number | undefined {
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
