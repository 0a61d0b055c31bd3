// GNP_* variables that no gnp command reads, as a typo in a container's environment makes
// them: the real CLI warns with a "did you mean" (serve in its log, as a config warning, the
// other commands on stderr) and goes on; a variable one command reads is no typo for another.

import { afterEach, describe, expect, test } from "bun:test";
import { CLI, serveCommand } from "../config/fixture.ts";
import { CliProcess, cleanEnv, cleanupCli, freshDir, runCli } from "./cli-process.ts";

afterEach(cleanupCli);

const typo = "unknown environment variable GNP_MAX_CONECTIONS (did you mean GNP_MAX_CONNECTIONS?): it sets nothing";

describe("GNP_* variables that no command reads", () => {
  test("gnp serve logs it as a config warning, JSON when the log is JSON, and starts", async () => {
    const server = new CliProcess(serveCommand("--port", "0", "--data", "d", "--store", "memory:", "--log-format", "json"), { cwd: freshDir(), env: cleanEnv({ GNP_MAX_CONECTIONS: "5" }) });
    const line = await server.waitForStdout(/^\{[^\n]*"event":"config warning"[^\n]*$/m);
    expect(JSON.parse(line[0])).toMatchObject({ level: "warn", event: "config warning", message: typo });
    await server.listeningPort();
    expect(server.stderr).toBe("");
  });

  test("--print-config says it on stderr and still prints", async () => {
    const run = await runCli(serveCommand("--print-config"), { cwd: freshDir(), env: cleanEnv({ GNP_MAX_CONECTIONS: "5" }) });
    expect(run.stderr).toStartWith(`gnp: warning: ${typo}\n`);
    expect(run.stdout).toContain("max-connections = 10000");
  });

  test("a variable another command reads is no typo: GNP_INSECURE and GNP_HISTORY (gnp call) beside gnp serve", async () => {
    const run = await runCli(serveCommand("--print-config"), { cwd: freshDir(), env: cleanEnv({ GNP_INSECURE: "1", GNP_HISTORY: "/tmp/h" }) });
    expect(run.stderr).not.toContain("warning");
  });

  test("every command warns: gnp call with GNP_PROT, then does its work", async () => {
    const run = await runCli([process.execPath, CLI, "call", "PING", "--port", "1"], { cwd: freshDir(), env: cleanEnv({ GNP_PROT: "7443" }) });
    expect(run.stderr).toStartWith("gnp: warning: unknown environment variable GNP_PROT (did you mean GNP_PORT?): it sets nothing\n");
    expect(run.stderr.split("\n")[1]).toStartWith("gnp: no client certificate");
  });
});
