// What the Dockerfile's runtime stage relies on, proven without a Docker engine: dist/gnp runs
// in a root filesystem that holds nothing but itself, the libraries `ldd` names and the
// dynamic loader, plus what every container runtime provides and Bun needs (/proc, and
// /dev/null for a child's ignored stdin), entered with chroot and configured only by GNP_*
// variables. Skipped, saying why, when chroot or mounting proc is not permitted (needs root).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { VERSION } from "../../src/version.ts";
import { GREETING, okReply, request } from "../support/wire.ts";
import { CliProcess, cleanupCli, runCli } from "../cli/cli-process.ts";
import { PipelineClient } from "./pipeline-client.ts";
import { BINARY, ensureBinary } from "../support/binary.ts";

const CHROOT = Bun.which("chroot", { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" });
const GNP_IN_ROOT = "/usr/local/bin/gnp";

/** Why this machine cannot run the test, or undefined when it can. */
function unsupported(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (CHROOT === null) return "no chroot binary";
  const probe = Bun.spawnSync([CHROOT, "/", "/bin/true"], { stderr: "pipe" });
  if (probe.exitCode !== 0) return `chroot is not permitted here: ${probe.stderr.toString().trim()}`;
  const dir = mkdtempSync(join(tmpdir(), "gnp-proc-probe-"));
  const mount = Bun.spawnSync(["mount", "-t", "proc", "proc", dir], { stderr: "pipe" });
  if (mount.exitCode === 0) Bun.spawnSync(["umount", dir]);
  rmSync(dir, { recursive: true, force: true });
  return mount.exitCode === 0 ? undefined : `mounting proc is not permitted here: ${mount.stderr.toString().trim()}`;
}

const skipReason = unsupported();
if (skipReason !== undefined) console.warn(`test/ops/rootfs.test.ts skipped: ${skipReason}`);

/** Absolute paths of the shared libraries and the loader `ldd` reports for `file`. */
function lddPaths(file: string): string[] {
  const run = Bun.spawnSync(["ldd", file]);
  if (run.exitCode !== 0) throw new Error(`ldd ${file} failed: ${run.stderr.toString()}`);
  const paths = new Set<string>();
  for (const line of run.stdout.toString().split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    if (match) paths.add(match[1]!);
  }
  return [...paths];
}

/** Hard-links (same file system) or copies the file behind `from` to `to`, creating parents. */
function place(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  // The loader's path is usually a symlink; link() would copy the link, which points nowhere in the root.
  const file = realpathSync(from);
  try {
    linkSync(file, to);
  } catch {
    copyFileSync(file, to);
  }
}

/** Every file under `dir` except the mounted /proc, as absolute paths inside the root. */
function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (prefix === "" && name === "proc") return [];
    return lstatSync(path).isDirectory() ? listFiles(path, `${prefix}/${name}`) : [`${prefix}/${name}`];
  });
}


let rootfs = "";
let procMounted = false;
let libraries: string[] = [];

beforeAll(async () => {
  if (skipReason !== undefined) return;
  await ensureBinary();
  rootfs = mkdtempSync(join(tmpdir(), "gnp-rootfs-"));
  place(BINARY, join(rootfs, GNP_IN_ROOT));
  libraries = lddPaths(BINARY);
  for (const library of libraries) place(library, join(rootfs, library));
  mkdirSync(join(rootfs, "data"));
  mkdirSync(join(rootfs, "proc"));
  mkdirSync(join(rootfs, "dev"));
  const mknod = Bun.spawnSync(["mknod", "-m", "666", join(rootfs, "dev", "null"), "c", "1", "3"], { stderr: "pipe" });
  if (mknod.exitCode !== 0) throw new Error(`mknod /dev/null failed: ${mknod.stderr.toString()}`);
  const mount = Bun.spawnSync(["mount", "-t", "proc", "proc", join(rootfs, "proc")], { stderr: "pipe" });
  if (mount.exitCode !== 0) throw new Error(`mount proc failed: ${mount.stderr.toString()}`);
  procMounted = true;
}, 180_000);

afterAll(async () => {
  await cleanupCli();
  // Unmount before removing, so that rm never walks into the live /proc.
  if (procMounted && Bun.spawnSync(["umount", join(rootfs, "proc")]).exitCode !== 0) {
    console.warn(`could not unmount ${join(rootfs, "proc")}; leaving ${rootfs} in place`);
    return;
  }
  if (rootfs !== "") rmSync(rootfs, { recursive: true, force: true });
});

/** Runs gnp inside the root with exactly `env` (no PATH, no HOME: nothing from this machine). */
function inRoot(args: string[]): string[] {
  return [CHROOT!, rootfs, GNP_IN_ROOT, ...args];
}

describe.skipIf(skipReason !== undefined)("dist/gnp in a root file system of its own (chroot)", () => {
  test("the root holds only gnp, the libraries ldd names, the loader and /dev/null", () => {
    const expected = [GNP_IN_ROOT, ...libraries, "/dev/null"].sort();
    expect(listFiles(rootfs).sort()).toEqual(expected);
    expect(libraries.some((path) => path.includes("ld-linux"))).toBe(true);
  });

  test("gnp version runs there", async () => {
    const run = await runCli(inRoot(["version"]), { cwd: "/", env: {} });
    expect(run).toMatchObject({ exitCode: 0, stderr: "" });
    expect(run.stdout).toBe(`gnp ${VERSION} (bun ${Bun.version}, linux-${process.arch})\n`);
  });

  test.each([
    ["one process", {}],
    ["two workers", { GNP_WORKERS: "2" }],
  ])("serve configured only by GNP_* variables (%s): greeting, PING, /readyz, SIGTERM and exit 0", async (_name, extra) => {
    rmSync(join(rootfs, "data"), { recursive: true, force: true });
    mkdirSync(join(rootfs, "data"));
    const env = { GNP_HOST: "127.0.0.1", GNP_PORT: "0", GNP_DATA: "/data", GNP_ADMIN: "127.0.0.1:0", GNP_LOG_FORMAT: "json", ...extra };
    const server = new CliProcess(inRoot(["serve"]), { cwd: "/", env });
    const port = await server.listeningPort();
    const admin = await server.adminUrl();
    const read = (name: string) => readFileSync(join(rootfs, "data", "pki", name), "utf8");
    await using client = await PipelineClient.connect(port, { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") });
    client.write(request("PING", "1"));
    await client.waitFor(okReply("1", "PONG"));
    expect(client.received).toBe(GREETING + okReply("1", "PONG"));
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    server.kill("SIGTERM");
    const run = await server.done;
    expect([run.exitCode, run.stderr]).toEqual([0, ""]);
    expect(existsSync(join(rootfs, "data", "gnp.db"))).toBe(true);
  });
});
