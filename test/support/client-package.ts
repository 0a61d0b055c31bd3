// The client library as a Node.js project gets it: dist/client rebuilt with build-client.ts
// when it is older than any input of that build (as binary.ts does for the executable), then
// the package as `npm pack` makes it, unpacked into a fresh project's node_modules/gnp. No
// registry is asked: the client has no dependencies to install.

import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CLIENT_DIST, CLIENT_INPUTS } from "../../build-client.ts";
import { runCli } from "../cli/cli-process.ts";

const ROOT = resolve(import.meta.dir, "../..");
export const CLIENT_BUNDLE = join(CLIENT_DIST, "index.js");

function newestInput(): number {
  let newest = 0;
  const visit = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const path of CLIENT_INPUTS) if (existsSync(join(ROOT, path))) visit(join(ROOT, path));
  return newest;
}

/** Builds dist/client unless it is fresh. For a beforeAll with a long timeout. */
export async function ensureClientBuild(): Promise<void> {
  if (existsSync(CLIENT_BUNDLE) && statSync(CLIENT_BUNDLE).mtimeMs >= newestInput()) return;
  const build = await runCli([process.execPath, join(ROOT, "build-client.ts")], { cwd: ROOT });
  if (build.exitCode !== 0) throw new Error(`bun build-client.ts failed (${build.exitCode}):\n${build.stdout}${build.stderr}`);
}

export type PackedProject = {
  /** An ESM project ("type": "module") with the packed package in node_modules/gnp. */
  dir: string;
  /** The paths inside the tarball, as `npm pack` listed them. */
  files: string[];
};

/** Packs this checkout (scripts off: the build is ensured first) and unpacks it into `dir`. */
export async function packInto(dir: string): Promise<PackedProject> {
  await ensureClientBuild();
  const pack = await runCli(["npm", "pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: ROOT });
  if (pack.exitCode !== 0) throw new Error(`npm pack failed (${pack.exitCode}): ${pack.stderr}`);
  const [packed] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
  const target = join(dir, "node_modules", "gnp");
  mkdirSync(target, { recursive: true });
  const untar = await runCli(["tar", "-xzf", join(dir, packed.filename), "-C", target, "--strip-components=1"], { cwd: dir });
  if (untar.exitCode !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "uses-gnp", private: true, type: "module" }));
  return { dir, files: packed.files.map((file) => file.path) };
}
