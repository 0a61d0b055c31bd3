// A container engine for tests that build and run gnp's image: podman from Debian, run as
// root with runc when it is installed (crun cannot run on hosts with hybrid cgroups) and with
// explicit rlimits (podman's defaults are refused with EPERM on such hosts). Without a working
// engine, tests are skipped with the reason, except under CI, where they run and fail:
// .ci/run installs podman, so its absence there is a fault.

import { cleanEnv, runCli, type CliRun } from "../cli/cli-process.ts";

export type ContainerEngine = {
  /** The engine's command and global flags, e.g. ["podman", "--runtime", "runc"]. */
  readonly command: readonly string[];
  /** Flags every `run` needs on this host. */
  readonly runFlags: readonly string[];
  /** Runs one engine command to its end. */
  run(args: readonly string[]): Promise<CliRun>;
  /** Like run, but throws with the engine's own words when it exits non-zero; resolves with stdout. */
  ok(args: readonly string[]): Promise<string>;
};

/** The engine to use, or why there is none. */
export function findContainerEngine(): { engine: ContainerEngine; reason?: undefined } | { engine?: undefined; reason: string } {
  const podman = Bun.which("podman");
  if (podman === null) {
    return { reason: `no podman on PATH (apt-get install podman runc)${Bun.which("docker") ? "; docker alone is not used by these tests" : ""}` };
  }
  const runc = Bun.which("runc", { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });
  const command = [podman, ...(runc === null ? [] : ["--runtime", runc])];
  const info = Bun.spawnSync([...command, "info", "--format", "{{.Host.OCIRuntime.Name}}"], { stderr: "pipe" });
  if (info.exitCode !== 0) return { reason: `podman info failed: ${info.stderr.toString().trim().split("\n").pop()}` };
  const run = (args: readonly string[]) => runCli([...command, ...args], { cwd: "/", env: cleanEnv() });
  return {
    engine: {
      command,
      runFlags: ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"],
      run,
      async ok(args) {
        const result = await run(args);
        if (result.exitCode !== 0) throw new Error(`podman ${args.join(" ")} exited ${result.exitCode}: ${result.stderr.trim()}`);
        return result.stdout;
      },
    },
  };
}

/**
 * The engine, or undefined when the tests should be skipped (printing why). Under CI a missing
 * engine is not a skip: the caller's test fails with the reason.
 *
 * @example const found = containerEngineOrSkip(); describe.skipIf(found.skip)("the image", ...)
 */
export function containerEngineOrSkip(): { skip: boolean; engine: ContainerEngine | undefined; reason: string | undefined } {
  const found = findContainerEngine();
  if (found.engine !== undefined) return { skip: false, engine: found.engine, reason: undefined };
  if (process.env.CI) return { skip: false, engine: undefined, reason: found.reason };
  console.warn(`skipping container tests: ${found.reason}`);
  return { skip: true, engine: undefined, reason: found.reason };
}
