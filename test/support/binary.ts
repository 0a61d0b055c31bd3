// The compiled executable for tests about the binary: dist/gnp, rebuilt with build.ts when it
// is older than any input of the build, so a test never runs a stale binary.

import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { runCli } from "../cli/cli-process.ts";

const ROOT = resolve(import.meta.dir, "../..");
export const BINARY = join(ROOT, "dist", "gnp");

/** Newest modification time among the build's inputs. */
function newestSource(): number {
  let newest = 0;
  const visit = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const path of ["src", "build.ts", "package.json", "package-lock.json"]) if (existsSync(join(ROOT, path))) visit(join(ROOT, path));
  return newest;
}

/** Builds dist/gnp unless it is fresh; returns its path. For a beforeAll with a long timeout. */
export async function ensureBinary(): Promise<string> {
  if (!existsSync(BINARY) || statSync(BINARY).mtimeMs < newestSource()) {
    const build = await runCli([process.execPath, join(ROOT, "build.ts")], { cwd: ROOT });
    if (build.exitCode !== 0) throw new Error(`bun build.ts failed (${build.exitCode}):\n${build.stdout}${build.stderr}`);
  }
  return BINARY;
}
