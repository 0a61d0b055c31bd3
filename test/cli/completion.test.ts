// `gnp completion bash|zsh|fish` from the real CLI: each script parses in its shell (bash -n,
// zsh -n, fish -n, wherever the shell is installed), names every command, certs subcommand and
// flag of every flag table, and completes for real in bash (the function run on COMP_WORDS) and
// fish (complete -C). A shell that is missing is said; under CI the three are expected.

import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "../config/fixture.ts";
import { cleanEnv, runCli } from "./cli-process.ts";

const dir = mkdtempSync(join(tmpdir(), "gnp-completion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The scripts, made once by the real program. */
const scripts: Record<string, string> = {};
for (const shell of ["bash", "zsh", "fish"]) {
  const run = await runCli([process.execPath, CLI, "completion", shell], { cwd: dir, env: cleanEnv() });
  if (run.exitCode !== 0) throw new Error(`gnp completion ${shell} exited ${run.exitCode}: ${run.stderr}`);
  scripts[shell] = run.stdout;
  writeFileSync(join(dir, `gnp.${shell}`), run.stdout);
}

/** Every command the entry point lists, loaded as `gnp completion` loads them. */
async function everyCommand(): Promise<[string, string[]][]> {
  // The entry point keeps its table to itself; its usage lists the same names.
  const usage = await runCli([process.execPath, CLI, "--help"], { cwd: dir, env: cleanEnv() });
  const names = [...usage.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((match) => match[1]!);
  const modules: Record<string, () => Promise<{ flags: Record<string, unknown>; subcommands?: Record<string, Record<string, unknown>> }>> = {
    serve: async () => (await import("../../src/cli/serve.ts")).SERVE_COMMAND,
    check: async () => (await import("../../src/cli/serve.ts")).CHECK_COMMAND,
    call: async () => (await import("../../src/cli/call.ts")).CALL_COMMAND,
    bench: async () => (await import("../../src/cli/bench.ts")).BENCH_COMMAND,
    certs: async () => (await import("../../src/cli/certs.ts")).CERTS_COMMAND,
    reload: async () => (await import("../../src/cli/reload.ts")).RELOAD_COMMAND,
    health: async () => (await import("../../src/cli/health.ts")).HEALTH_COMMAND,
    completion: async () => (await import("../../src/cli/completion.ts")).COMPLETION_COMMAND,
    version: async () => ({ flags: {} }),
  };
  expect(names.sort()).toEqual(Object.keys(modules).sort());
  const out: [string, string[]][] = [];
  for (const name of names) {
    const module = await modules[name]!();
    out.push([name, Object.keys(module.flags)]);
    for (const [sub, table] of Object.entries(module.subcommands ?? {})) out.push([`${name} ${sub}`, Object.keys(table)]);
  }
  return out;
}

const SHELLS = { bash: ["-n"], zsh: ["-n"], fish: ["--no-execute"] } as const;

describe("gnp completion", () => {
  test.each(Object.keys(SHELLS) as (keyof typeof SHELLS)[])("the %s script parses in its shell", async (shell) => {
    const path = Bun.which(shell);
    if (path === null) {
      if (process.env.CI === "true") throw new Error(`${shell} is not installed; .ci/run installs it`);
      console.warn(`${shell} not installed: its script is only checked for names`);
      return;
    }
    const run = Bun.spawnSync([path, ...SHELLS[shell], join(dir, `gnp.${shell}`)], { stderr: "pipe" });
    expect([run.exitCode, run.stderr.toString()]).toEqual([0, ""]);
  });

  test.each(["bash", "zsh", "fish"])("the %s script names every command, certs subcommand and flag", async (shell) => {
    const script = scripts[shell]!;
    const missing: string[] = [];
    for (const [command, flags] of await everyCommand()) {
      for (const word of command.split(" ")) if (!new RegExp(`\\b${word}\\b`).test(script)) missing.push(word);
      for (const flag of flags) {
        const named = shell === "fish" ? new RegExp(`-l ${flag}\\b`) : new RegExp(`--${flag}\\b`);
        if (!named.test(script)) missing.push(`${command} --${flag}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test.skipIf(Bun.which("bash") === null)("bash completes commands, flags, subcommands, a flag's values and shells", () => {
    const complete = (words: string[]) => {
      const script = `source ${join(dir, "gnp.bash")}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _gnp; echo "\${COMPREPLY[*]}"`;
      return Bun.spawnSync(["bash", "-c", script]).stdout.toString().trim();
    };
    expect([
      complete(["gnp", "ch"]),
      complete(["gnp", "serve", "--max-co"]),
      complete(["gnp", "certs", "in"]),
      complete(["gnp", "certs", "init", "--r"]),
      complete(["gnp", "serve", "--log-level", ""]),
      complete(["gnp", "completion", ""]),
      complete(["gnp", "call", "--port", ""]),
    ]).toEqual(["check", "--max-connections", "init intermediate inspect", "--rsa", "debug info warn error", "bash zsh fish", ""]);
  });

  test.skipIf(Bun.which("fish") === null)("fish completes a flag with its help, and a flag's values", () => {
    const run = Bun.spawnSync(["fish", "-c", `source ${join(dir, "gnp.fish")}; complete -C "gnp serve --log-f"; complete -C "gnp bench --mode "`]);
    const lines = run.stdout.toString().trimEnd().split("\n");
    expect(lines[0]).toBe("--log-format\tlog line format (default: text when stdout is a terminal, else json)");
    expect(lines.slice(1).map((line) => line.split("\t")[0])).toEqual(["handshake", "rr"]);
  });

  test.skipIf(Bun.which("zsh") === null)("zsh registers _gnp for gnp when the script is sourced after compinit", () => {
    const run = Bun.spawnSync(["zsh", "-f", "-c", `autoload -U compinit && compinit -u -D && source ${join(dir, "gnp.zsh")} && print -r -- $_comps[gnp]`]);
    expect(run.stdout.toString()).toBe("_gnp\n");
  });

  test("an unknown shell is one line and exit 2, with a did-you-mean", async () => {
    const run = await runCli([process.execPath, CLI, "completion", "bsh"], { cwd: dir, env: cleanEnv() });
    expect([run.exitCode, run.stdout, run.stderr]).toEqual([2, "", 'gnp: completion: unknown shell "bsh" (did you mean "bash"?): expected bash, zsh or fish\n']);
  });
});
