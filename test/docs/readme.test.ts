// The README's command blocks marked `sh runnable`, run as a reader would paste them: each in
// a fresh directory, with `gnp` on PATH (the real program), beside a fresh zero-config
// `gnp serve` whose port is in GNP_PORT, under bash -e -o pipefail. A block that fails shows
// its text and what it printed. The banner's connect hint is checked to name a command that
// works from a checkout, where npm put no `gnp` on PATH.

import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliProcess, cleanEnv, cleanupCli, freshDir, runCli } from "../cli/cli-process.ts";

const ROOT = resolve(import.meta.dir, "../..");
const CLI = join(ROOT, "src", "cli.ts");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const BLOCKS = [...README.matchAll(/^```sh runnable\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);

afterEach(cleanupCli);
afterAll(cleanupCli);

/** A directory holding `gnp`, a wrapper that runs this checkout's program with this Bun. */
function binDir(): string {
  const dir = freshDir("gnp-readme-bin-");
  const wrapper = join(dir, "gnp");
  writeFileSync(wrapper, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return dir;
}

describe("the README's runnable blocks", () => {
  test("there are runnable blocks to run: gnp call, gnp certs, gnp completion", () => {
    expect(BLOCKS.length).toBeGreaterThanOrEqual(3);
    expect(BLOCKS.map((block) => /^gnp (\w+)/m.exec(block)?.[1] ?? /gnp (\w+)/.exec(block)?.[1])).toEqual(expect.arrayContaining(["call", "certs", "completion"]));
  });

  test.each(BLOCKS.map((block) => [block.split("\n")[0]!.slice(0, 60), block]))("%s ...", async (_first, block) => {
    const cwd = freshDir("gnp-readme-");
    const server = new CliProcess([process.execPath, CLI, "serve", "--port", "0", "--store", "memory:", "--log-format", "text"], { cwd, env: cleanEnv({ HOME: cwd }) });
    const port = await server.listeningPort();
    const env = cleanEnv({ HOME: cwd, GNP_PORT: String(port), PATH: `${binDir()}:${process.env.PATH}` });
    const run = await runCli(["bash", "-e", "-o", "pipefail", "-c", block], { cwd, env });
    if (run.exitCode !== 0) console.error(`block:\n${block}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    expect(run.exitCode).toBe(0);
    expect(run.stderr).not.toMatch(/command not found|No such file/);
  });
});

describe("the banner's connect hint", () => {
  test("from a checkout it says npx gnp, and that command works there", async () => {
    const data = freshDir("gnp-readme-data-");
    // The checkout's own npm scripts start the server there, as `npm start` does.
    const server = new CliProcess([process.execPath, CLI, "serve", "--port", "0", "--data", data, "--store", "memory:", "--log-format", "text"], { cwd: ROOT, env: cleanEnv() });
    const port = await server.listeningPort();
    const hint = (await server.waitForStdout(/^ {2}(.*) call PING(.*)$/m)).slice(1);
    expect(hint[0]).toBe("npx gnp");
    const words = `${hint[0]} call PING${hint[1]}`.replace("PORT", String(port)).split(" ");
    const run = await runCli(words, { cwd: ROOT, env: cleanEnv() });
    expect([run.exitCode, run.stdout, run.stderr]).toEqual([0, "PONG", ""]);
  });

  test("outside the checkout it names the checkout's own Bun and cli.ts, which work from anywhere", async () => {
    const cwd = freshDir("gnp-readme-elsewhere-");
    mkdirSync(join(cwd, "empty"));
    const server = new CliProcess([process.execPath, CLI, "serve", "--port", "0", "--store", "memory:", "--log-format", "text"], { cwd, env: cleanEnv() });
    await server.listeningPort();
    const line = (await server.waitForStdout(/^ {2}(.*call PING.*)$/m))[1]!;
    expect(line).toMatch(new RegExp(`^\\S*bun ${CLI.replaceAll("/", "\\/")} call PING --port \\d+$`));
    const run = await runCli(line.split(" "), { cwd, env: cleanEnv() });
    expect([run.exitCode, run.stdout]).toEqual([0, "PONG"]);
  });
});
