// The poll that reloads a running server when a file its trust was read from changes: a CRL a
// cron job or sidecar rewrites, a certificate renewed in place, a Kubernetes Secret whose
// mounted directory kubelet swaps (the `..data` symlink is renamed to a new directory, so the
// files' inode changes while their path does not). Each file's identity (device, inode, size,
// modification time, or "absent") is read by following symlinks; any difference reloads.

import { statSync } from "node:fs";

export type FilePolling = {
  /** Stops the timer; for shutdown. */
  close: () => void;
  /** Checks once now (the timer calls this); resolves after any reload it started. */
  check: () => Promise<void>;
};

/**
 * Polls `files()` every `intervalMs` and calls `reload` with the changed paths. The list is
 * asked for again after every reload, since a reload may name other files. A reload is never
 * started while one started here is running.
 *
 * @example const polling = pollFiles(() => controller.current.files, { intervalMs: 5000, reload: (paths) => reloading.reload(`file changed: ${paths[0]}`) });
 */
export function pollFiles(files: () => readonly string[], how: { intervalMs: number; reload: (changed: string[]) => Promise<unknown> }): FilePolling {
  let seen = identities(files());
  let running: Promise<void> | undefined;
  const check = (): Promise<void> => {
    if (running !== undefined) return running;
    const now = identities(files());
    const changed = [...now].filter(([path, identity]) => seen.get(path) !== identity).map(([path]) => path);
    // Recorded before the reload reads anything: a file still being written when it is read
    // changes again, and the next check sees that.
    seen = now;
    if (changed.length === 0) return Promise.resolve();
    running = how.reload(changed).then(
      () => {
        running = undefined;
        // A reload may name other files; they are taken as they are now, not as changes.
        const after = identities(files());
        for (const [path, identity] of after) if (!seen.has(path)) seen.set(path, identity);
        for (const path of [...seen.keys()]) if (!after.has(path)) seen.delete(path);
      },
      () => {
        running = undefined;
      },
    );
    return running;
  };
  if (how.intervalMs <= 0) return { close: () => {}, check };
  const timer = setInterval(() => void check(), how.intervalMs);
  timer.unref?.();
  return { close: () => clearInterval(timer), check };
}

function identities(paths: readonly string[]): Map<string, string> {
  return new Map([...new Set(paths)].map((path) => [path, identityOf(path)]));
}

/** What tells one version of a file from the next; "absent" (or the error) when it cannot be read. */
function identityOf(path: string): string {
  try {
    const stat = statSync(path, { bigint: true });
    return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
  } catch (error) {
    return `absent:${(error as NodeJS.ErrnoException).code ?? "?"}`;
  }
}
