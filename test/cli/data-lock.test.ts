// Two `gnp serve` on one data directory, as happens when a second one is started by mistake:
// the second refuses in one line naming the first one's pid, and the first keeps its pid file,
// so `gnp reload` still reaches it. A server killed with SIGKILL leaves no lock behind: the
// kernel drops the flock with the process. A supervisor of --workers holds it for its workers.

import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CLI, reloadCommand, serveCommand } from "../config/fixture.ts";
import { CliProcess, cleanEnv, cleanupCli, freshDir, isOneLine, runCli } from "./cli-process.ts";

afterEach(cleanupCli);

const start = (cwd: string, ...extra: string[]) => new CliProcess(serveCommand("--port", "0", "--data", "d", "--store", "memory:", "--log-format", "text", ...extra), { cwd, env: cleanEnv() });

function refusal(cwd: string, pid: number): string {
  return `gnp: data directory d is in use by gnp serve pid ${pid} (${join("d", "gnp.lock")}): stop it first, or give this server its own --data\n`;
}

describe("one gnp serve per data directory", () => {
  test("the second server refuses in one line; the first keeps its pid file and still reloads", async () => {
    const cwd = freshDir();
    const first = start(cwd);
    await first.listeningPort();
    const second = await runCli(serveCommand("--port", "0", "--data", "d", "--store", "memory:"), { cwd, env: cleanEnv() });
    expect([second.exitCode, second.stdout, second.stderr]).toEqual([1, "", refusal(cwd, first.pid)]);
    expect(isOneLine(second.stderr)).toBe(true);
    expect((await Bun.file(join(cwd, "d", "gnp.pid")).text()).trim()).toBe(String(first.pid));
    const reload = await runCli(reloadCommand("--data", "d"), { cwd, env: cleanEnv() });
    expect([reload.exitCode, reload.stdout]).toEqual([0, `reloaded (pid ${first.pid}, generation 1): changed: nothing\n`]);
  });

  test("a server killed with SIGKILL leaves nothing blocking: the next one starts on the same directory", async () => {
    const cwd = freshDir();
    const killed = start(cwd);
    await killed.listeningPort();
    killed.kill("SIGKILL");
    expect((await killed.done).signalCode).toBe("SIGKILL");
    const next = start(cwd);
    await next.listeningPort();
    next.kill("SIGTERM");
    expect((await next.done).exitCode).toBe(0);
  });

  test("the supervisor of --workers 2 holds it: a lone server on the same directory is refused", async () => {
    const cwd = freshDir();
    const supervisor = start(cwd, "--workers", "2");
    await supervisor.listeningPort();
    const lone = await runCli([process.execPath, CLI, "serve", "--port", "0", "--data", "d", "--store", "memory:"], { cwd, env: cleanEnv() });
    expect([lone.exitCode, lone.stderr]).toEqual([1, refusal(cwd, supervisor.pid)]);
    supervisor.kill("SIGTERM");
    expect((await supervisor.done).exitCode).toBe(0);
  });
});
