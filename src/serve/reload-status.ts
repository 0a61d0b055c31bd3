// How `gnp reload` finds a running server and learns what its reload did: the server writes
// DATA/gnp.pid at start (removed at stop), and DATA/reload.json after start and after every
// reload attempt (pid, attempt, generation applied, ok, message, warnings). `gnp reload` sends SIGHUP to
// the pid and waits for the attempt count to move. Files are replaced by rename, so a reader never sees half of one.

import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export const PID_FILE = "gnp.pid";
export const STATUS_FILE = "reload.json";

/**
 * `attempt` counts reloads asked for, `generation` those applied (a refusal leaves it);
 * `warnings` are what the attempt logged as config warnings (a setting that waits for a restart).
 */
export type ReloadStatus = { pid: number; attempt: number; generation: number; ok: boolean; message: string; warnings: string[]; at: string };

/** Writes DATA/gnp.pid with this process's pid. */
export function writePidFile(dataDir: string, pid: number = process.pid): void {
  writeAtomically(join(dataDir, PID_FILE), `${pid}\n`);
}

/** Removes DATA/gnp.pid if it still names this process (a newer server may have replaced it). */
export function removePidFile(dataDir: string, pid: number = process.pid): void {
  if (readPid(dataDir) === pid) rmSync(join(dataDir, PID_FILE), { force: true });
}

/** The pid in DATA/gnp.pid, or undefined when there is none or it is not a pid. */
export function readPid(dataDir: string): number | undefined {
  const text = readText(join(dataDir, PID_FILE));
  const pid = text === undefined ? NaN : Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function writeReloadStatus(dataDir: string, status: Omit<ReloadStatus, "at" | "pid" | "warnings"> & { warnings?: readonly string[] }, pid: number = process.pid): void {
  const full: ReloadStatus = { pid, ...status, warnings: [...(status.warnings ?? [])], at: new Date().toISOString() };
  writeAtomically(join(dataDir, STATUS_FILE), `${JSON.stringify(full)}\n`);
}

export function readReloadStatus(dataDir: string): ReloadStatus | undefined {
  const text = readText(join(dataDir, STATUS_FILE));
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<ReloadStatus>;
    if (typeof value.pid !== "number" || typeof value.attempt !== "number" || typeof value.generation !== "number" || typeof value.ok !== "boolean") return undefined;
    const warnings = Array.isArray(value.warnings) ? value.warnings.map(String) : [];
    return { pid: value.pid, attempt: value.attempt, generation: value.generation, ok: value.ok, message: String(value.message ?? ""), warnings, at: String(value.at ?? "") };
  } catch {
    return undefined;
  }
}

function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}`);
  writeFileSync(temporary, text, { mode: 0o644 });
  renameSync(temporary, path);
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
