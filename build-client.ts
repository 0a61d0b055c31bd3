// `npm run build:client` (and `prepare`, so `npm install`, `npm pack` and git installs run it):
// the client library for Node.js, built from the same source Bun runs. dist/client/index.js is
// one ESM file with the node:tls transport and no dependencies; dist/client/types/ holds its
// declarations, made by tsc without Bun's types, so Bun-only code in the client fails here.
// Built in a staging directory and moved into place, so no one ever loads half a build.

import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = import.meta.dir;
export const CLIENT_DIST = join(ROOT, "dist", "client");
/** What the build reads: when any of these is newer than the output, the output is stale. */
export const CLIENT_INPUTS = ["src/client", "src/protocol", "src/errors.ts", "package.json", "tsconfig.json", "tsconfig.client.json", "build-client.ts"];

export async function buildClient(): Promise<void> {
  const staging = join(ROOT, "dist", `.client-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    // target node: "#client-transport" resolves under the "node"/"default" conditions, so the
    // bundle carries node-transport.ts and never Bun's.
    const result = await Bun.build({ entrypoints: [join(ROOT, "src/client/index.ts")], target: "node", format: "esm", outdir: staging, naming: "index.js", throw: false });
    if (!result.success) {
      const lines = result.logs.filter((log) => log.level === "error").map((log) => `${log.message}${log.position ? ` (${relative(ROOT, log.position.file)}:${log.position.line})` : ""}`);
      throw new Error(lines.join("; ") || "Bun.build failed without a message");
    }
    const tsc = Bun.spawnSync([process.execPath, join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.client.json"), "--declarationDir", join(staging, "types")], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    if (tsc.exitCode !== 0) throw new Error(`tsc declarations failed:\n${tsc.stdout.toString()}${tsc.stderr.toString()}`.trim());
    rmSync(CLIENT_DIST, { recursive: true, force: true });
    mkdirSync(join(ROOT, "dist"), { recursive: true });
    renameSync(staging, CLIENT_DIST);
  } finally {
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  try {
    const started = performance.now();
    await buildClient();
    console.log(`built    ${relative(process.cwd(), join(CLIENT_DIST, "index.js"))} and types/  ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    console.error(`build-client: ${(error as Error).message}`);
    process.exit(1);
  }
}
