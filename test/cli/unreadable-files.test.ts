// `gnp serve` meeting files its uid may not read, as in a container whose uid 10001 is given a
// pki directory made by `gnp certs init` (mode 0700) for root: one line that names the file,
// the setting it came from as the user wrote it (GNP_CA, --ca, or the settings file's key),
// the uid refused, and the directory or file that refused it with its mode and owner. As root
// the server runs as uid 10001 (setpriv); as another user, with the directory's mode 0000.

import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeTestPki } from "../support/pki.ts";
import { cleanEnv, cleanupCli, freshDir, isOneLine, runCli } from "./cli-process.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
afterEach(() => {
  // Given back to this process's uid, or cleanupCli could not remove what it made.
  for (const dir of locked.splice(0)) chmodSync(dir, 0o700);
  return cleanupCli();
});

const SERVER_UID = 10001;
const isRoot = process.getuid?.() === 0;
const SETPRIV = Bun.which("setpriv");
const skipReason = process.platform !== "linux" ? "not Linux" : isRoot && SETPRIV === null ? "running as root without setpriv to drop to uid 10001" : undefined;
if (skipReason !== undefined) console.warn(`test/cli/unreadable-files.test.ts skipped: ${skipReason}`);
const uid = isRoot ? SERVER_UID : process.getuid!();
const locked: string[] = [];

/** A working directory the server's uid may use, holding a pki directory it may not enter. */
async function setup(): Promise<{ cwd: string; pki: string; refusal: string }> {
  const cwd = freshDir();
  const pki = join(cwd, "pki");
  mkdirSync(pki, { mode: 0o700 });
  const made = await makeTestPki();
  writeFileSync(join(pki, "ca.crt"), made.ca.certificatePem);
  writeFileSync(join(pki, "server.crt"), made.server.certificatePem);
  writeFileSync(join(pki, "server.key"), made.server.privateKeyPem, { mode: 0o600 });
  if (isRoot) {
    chownSync(cwd, SERVER_UID, SERVER_UID);
  } else {
    chmodSync(pki, 0o000);
    locked.push(pki);
  }
  const stat = statSync(pki);
  const refusal = `permission denied for uid ${uid} (${pki} is mode ${isRoot ? "0700" : "0000"}, owner uid ${stat.uid} gid ${stat.gid})`;
  return { cwd, pki, refusal };
}

function serveAs(cwd: string, args: string[], env: Record<string, string> = {}) {
  const drop = isRoot ? [SETPRIV!, `--reuid=${SERVER_UID}`, `--regid=${SERVER_UID}`, "--clear-groups"] : [];
  return runCli([...drop, process.execPath, CLI, "serve", "--port", "0", "--store", "memory:", "--data", join(cwd, "d"), ...args], {
    cwd,
    env: cleanEnv({ HOME: cwd, ...env }),
  });
}

describe.skipIf(skipReason !== undefined)("gnp serve with a pki directory its uid cannot read", () => {
  test("paths from GNP_CA, GNP_CERT and GNP_KEY: the line names GNP_CA, the file, the uid and the directory's mode and owner", async () => {
    const { cwd, pki, refusal } = await setup();
    const run = await serveAs(cwd, [], { GNP_CA: join(pki, "ca.crt"), GNP_CERT: join(pki, "server.crt"), GNP_KEY: join(pki, "server.key") });
    expect([run.exitCode, run.stdout, run.stderr]).toEqual([1, "", `gnp: cannot read GNP_CA ${join(pki, "ca.crt")}: ${refusal}\n`]);
    expect(isOneLine(run.stderr)).toBe(true);
  });

  test("paths from flags name the flag", async () => {
    const { cwd, pki, refusal } = await setup();
    const run = await serveAs(cwd, ["--ca", join(pki, "ca.crt"), "--cert", join(pki, "server.crt"), "--key", join(pki, "server.key")]);
    expect([run.exitCode, run.stderr]).toEqual([1, `gnp: cannot read --ca ${join(pki, "ca.crt")}: ${refusal}\n`]);
  });

  test("paths from the settings file name its key and the file", async () => {
    const { cwd, pki, refusal } = await setup();
    const config = join(cwd, "gnp.toml");
    writeFileSync(config, `ca = "pki/ca.crt"\ncert = "pki/server.crt"\nkey = "pki/server.key"\n`);
    const run = await serveAs(cwd, ["--config", config]);
    expect([run.exitCode, run.stderr]).toEqual([1, `gnp: cannot read ca (from ${config}) ${join(pki, "ca.crt")}: ${refusal}\n`]);
  });

  test("a data directory from GNP_DATA that the uid cannot write: the line names the directory, the uid and its owner", async () => {
    const { cwd } = await setup();
    const data = join(cwd, "data");
    mkdirSync(data, { mode: 0o755 });
    if (isRoot) chownSync(data, 0, 0);
    else {
      chmodSync(data, 0o555);
      locked.push(data);
    }
    const stat = statSync(data);
    const run = await runCli(
      [...(isRoot ? [SETPRIV!, `--reuid=${SERVER_UID}`, `--regid=${SERVER_UID}`, "--clear-groups"] : []), process.execPath, CLI, "serve", "--port", "0", "--store", "memory:"],
      { cwd, env: cleanEnv({ HOME: cwd, GNP_DATA: data }) },
    );
    const mode = isRoot ? "0755" : "0555";
    expect([run.exitCode, run.stderr]).toEqual([
      1,
      `gnp: cannot prepare certificates in ${join(data, "pki")}: permission denied for uid ${uid} (${data} is mode ${mode}, owner uid ${stat.uid} gid ${stat.gid})\n`,
    ]);
  });
});
