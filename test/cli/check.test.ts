// `gnp check` and `gnp serve --check` as an operator uses them before a start or a reload: the
// real CLI, and beside it the real `gnp serve` with the same settings. Whatever serve stops
// with, check stops with the same line (exit 1); what serve would accept, check accepts (exit
// 0) without listening or creating anything. --print-config prints and then agrees too.

import { afterEach, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTestPki } from "../support/pki.ts";
import { client, CLI, serveCommand, writeServerFiles } from "../config/fixture.ts";
import { CliProcess, cleanEnv, cleanupCli, freshDir, isOneLine, runCli } from "./cli-process.ts";

afterEach(cleanupCli);

const pki = await makeTestPki();
const check = (cwd: string, args: string[], env: Record<string, string> = {}) => runCli([process.execPath, CLI, "check", ...args], { cwd, env: cleanEnv(env) });
const serve = (cwd: string, args: string[]) => runCli(serveCommand("--port", "0", ...args), { cwd, env: cleanEnv() });

describe("gnp check", () => {
  test("a fresh directory: exit 0, says what a first start would create, and creates nothing", async () => {
    const cwd = freshDir();
    const run = await check(cwd, ["--port", "7000"]);
    expect([run.exitCode, run.stderr]).toEqual([0, ""]);
    expect(run.stdout).toStartWith("configuration ok: gnp serve would listen on 127.0.0.1:7000 (mutual TLS)\n");
    expect(run.stdout).toContain("first run: a CA, a server and an admin client certificate would be created in .gnp/pki");
    expect(run.stdout).toContain("sqlite://.gnp/gnp.db (created at the first start)");
    expect(readdirSync(cwd)).toEqual([]);
  });

  test("explicit certificates, a handlers module and [[clients]]: exit 0 naming each", async () => {
    const cwd = freshDir();
    await writeServerFiles(cwd);
    writeFileSync(join(cwd, "hello.ts"), `export default { HELLO: () => "hello" };\n`);
    writeFileSync(join(cwd, "gnp.toml"), `cert = "server.pem"\nkey = "server-key.pem"\nca = "ca.pem"\nhandlers = "hello.ts"\nstore = "memory:"\n${client("ops", { subject: "CN=ops" }, ["HELLO", "GET"])}`);
    const run = await check(cwd, []);
    expect([run.exitCode, run.stderr]).toEqual([0, ""]);
    expect(run.stdout).toContain("certificate  CN=localhost, valid until ");
    expect(run.stdout).toContain("trust        1 trusted CA, 0 allowed thumbprints, 1 [[clients]] entry\n");
    expect(run.stdout).toContain(`handlers     1 command from ${join(cwd, "hello.ts")}: HELLO\n`);
    expect(run.stdout).toContain("settings     gnp.toml, else defaults\n");
  });

  const mistakes: [string, (cwd: string) => Promise<string[]>][] = [
    ["--cert without --key", async (cwd) => (await writeServerFiles(cwd), ["--cert", "server.pem", "--ca", "ca.pem"])],
    [
      "a key that does not match the certificate",
      async (cwd) => {
        await writeServerFiles(cwd);
        writeFileSync(join(cwd, "other-key.pem"), pki.good.privateKeyPem);
        return ["--cert", "server.pem", "--key", "other-key.pem", "--ca", "ca.pem"];
      },
    ],
    [
      "a CA file that is not PEM",
      async (cwd) => {
        await writeServerFiles(cwd);
        writeFileSync(join(cwd, "junk.pem"), "not a certificate\n");
        return ["--cert", "server.pem", "--key", "server-key.pem", "--ca", "junk.pem"];
      },
    ],
    [
      "a [[clients]] entry allowing a command the server does not have",
      async (cwd) => {
        writeFileSync(join(cwd, "gnp.toml"), client("ops", { thumbprint: pki.good.sha1 }, ["GTE"]));
        return ["--store", "memory:"];
      },
    ],
    [
      "a handlers module that throws while loading",
      async (cwd) => {
        writeFileSync(join(cwd, "bad.ts"), `throw new Error("no database here");\n`);
        return ["--handlers", "bad.ts", "--store", "memory:"];
      },
    ],
    [
      "a store file that is not a database",
      async (cwd) => {
        writeFileSync(join(cwd, "gnp.db"), "x".repeat(4096));
        return ["--store", `sqlite://${join(cwd, "gnp.db")}`];
      },
    ],
  ];

  test.each(mistakes)("%s: exit 1 with the line gnp serve stops with", async (_name, setup) => {
    const cwd = freshDir();
    const args = await setup(cwd);
    const served = await serve(cwd, args);
    const checked = await check(cwd, args);
    expect(served.exitCode).toBe(1);
    expect(isOneLine(served.stderr)).toBe(true);
    expect([checked.exitCode, checked.stdout, checked.stderr]).toEqual([1, "", served.stderr]);
  });

  test("a bad value is the same line as serve's, with exit 1", async () => {
    const cwd = freshDir();
    const served = await serve(cwd, ["--max-body", "lots"]);
    const checked = await check(cwd, ["--max-body", "lots"]);
    expect([served.exitCode, checked.exitCode, checked.stderr]).toEqual([2, 1, served.stderr]);
  });

  test("gnp serve --check is the same check", async () => {
    const cwd = freshDir();
    const run = await runCli(serveCommand("--check", "--port", "7001"), { cwd, env: cleanEnv() });
    expect([run.exitCode, run.stdout.split("\n")[0]]).toEqual([0, "configuration ok: gnp serve would listen on 127.0.0.1:7001 (mutual TLS)"]);
    expect(readdirSync(cwd)).toEqual([]);
  });

  test("beside the running server it checks: exit 0, and says who holds the data directory", async () => {
    const cwd = freshDir();
    const server = new CliProcess(serveCommand("--port", "0", "--data", "d", "--store", "memory:"), { cwd, env: cleanEnv() });
    const port = await server.listeningPort();
    const run = await check(cwd, ["--port", String(port), "--data", "d", "--store", "memory:"]);
    expect([run.exitCode, run.stderr]).toEqual([0, ""]);
    expect(run.stdout).toContain("certificate  CN=localhost, valid until ");
    expect(run.stdout).toContain(`first-run certificates in d/pki`);
    expect(run.stdout).toContain(`data         d (in use now by gnp serve pid ${server.pid})\n`);
  });
});

describe("gnp serve --print-config agrees with gnp serve", () => {
  test("settings serve would stop on are printed, then the same line, exit 1", async () => {
    const cwd = freshDir();
    await writeServerFiles(cwd);
    const args = ["--cert", "server.pem", "--ca", "ca.pem"];
    const served = await serve(cwd, args);
    const printed = await runCli(serveCommand("--print-config", ...args), { cwd, env: cleanEnv() });
    expect(printed.stdout).toContain(`cert = "server.pem"`);
    expect([printed.exitCode, printed.stderr]).toEqual([1, served.stderr]);
    expect(served.stderr).toBe("gnp: --cert was given without --key\n");
  });
});

describe("gnp check and GNP_* variables that no command reads", () => {
  test("it warns on stderr with a did-you-mean and still exits 0", async () => {
    const run = await check(freshDir(), [], { GNP_MAX_CONECTIONS: "5" });
    expect([run.exitCode, run.stderr]).toEqual([0, "gnp: warning: unknown environment variable GNP_MAX_CONECTIONS (did you mean GNP_MAX_CONNECTIONS?): it sets nothing\n"]);
  });
});
