// Mistakes a user makes around the commands, each answered with one clear line: a stale pid
// file that names another program, a key that belongs to another certificate, a handlers
// setup that registers nothing; and --print-config that prints only, without a password.

import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliProcess, cleanupCli, freshDir, runCli } from "./cli-process.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
afterEach(cleanupCli);

test("gnp reload refuses to signal a pid that is not a gnp serve (a stale pid file)", async () => {
  const dir = freshDir();
  const bystander = Bun.spawn(["sleep", "30"]);
  try {
    const data = join(dir, ".gnp");
    await Bun.$`mkdir -p ${data}`;
    writeFileSync(join(data, "gnp.pid"), `${bystander.pid}\n`);
    const run = await runCli([process.execPath, CLI, "reload", "--timeout", "1"], { cwd: dir });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe(`gnp: no running server found: pid ${bystander.pid} in .gnp/gnp.pid is not a gnp serve process (stale pid file)\n`);
    expect(bystander.exitCode).toBeNull();
  } finally {
    bystander.kill();
    await bystander.exited;
  }
});

test("gnp call names the mismatch when --key does not belong to --cert", async () => {
  const dir = freshDir();
  expect((await runCli([process.execPath, CLI, "certs", "init", "c"], { cwd: dir })).exitCode).toBe(0);
  expect((await runCli([process.execPath, CLI, "certs", "client", "other", "--dir", "c"], { cwd: dir })).exitCode).toBe(0);
  const run = await runCli([process.execPath, CLI, "call", "PING", "--cert", "c/client.crt", "--key", "c/other.key", "--ca", "c/ca.crt"], { cwd: dir });
  expect(run.exitCode).toBe(2);
  expect(run.stderr).toBe("gnp: --cert c/client.crt and --key c/other.key: private key does not match the certificate CN=admin\n");
});

test("gnp certs client after a first gnp serve signs with the CA that serve created, without --dir", async () => {
  const dir = freshDir();
  // No CA anywhere yet: the line says how to make one.
  const none = await runCli([process.execPath, CLI, "certs", "client", "alice"], { cwd: dir });
  expect(none.exitCode).toBe(1);
  expect(none.stderr).toMatch(/^gnp certs client: cannot read .*certs\/ca\.crt: no such file \(run "gnp certs init/);
  await using server = new CliProcess([process.execPath, CLI, "serve", "--port", "0", "--store", "memory:"], { cwd: dir });
  const port = await server.listeningPort();
  const signed = await runCli([process.execPath, CLI, "certs", "client", "alice"], { cwd: dir });
  expect([signed.exitCode, signed.stderr]).toEqual([0, ""]);
  expect(signed.stdout).toStartWith(`wrote ${join(dir, ".gnp/pki/alice.crt")} and ${join(dir, ".gnp/pki/alice.key")} (CN=alice,`);
  // The server trusts its first-run CA, so alice is admitted at once.
  const call = await runCli([process.execPath, CLI, "call", "PING", "--port", String(port), "--cert", ".gnp/pki/alice.crt", "--key", ".gnp/pki/alice.key", "--ca", ".gnp/pki/ca.crt"], { cwd: dir });
  expect([call.exitCode, call.stdout.trim()]).toEqual([0, "PONG"]);
});

test("a --handlers setup function that registers nothing stops the start with one line", async () => {
  const dir = freshDir();
  writeFileSync(join(dir, "empty.ts"), "export default function setup(server) {}\n");
  const run = await runCli([process.execPath, CLI, "serve", "--port", "0", "--data", "d", "--handlers", "empty.ts"], { cwd: dir });
  expect(run.exitCode).toBe(1);
  expect(run.stderr).toBe("gnp: --handlers empty.ts: its setup function registered no command\n");
});

test("--print-config with --workers 2 prints, creates nothing, and hides a store password, also in the line why the store would not open", async () => {
  const dir = freshDir();
  // Port 1 of loopback refuses at once: the check behind --print-config fails as a start would.
  const run = await runCli([process.execPath, CLI, "serve", "--print-config", "--workers", "2", "--store", "postgres://gnp:hunter2@127.0.0.1:1/gnp"], { cwd: dir });
  expect(run.exitCode).toBe(1);
  expect(run.stderr).toStartWith("gnp: cannot open store postgres://gnp@127.0.0.1:1/gnp: ");
  expect(run.stdout).toContain('store = "postgres://gnp:***@127.0.0.1:1/gnp"');
  expect(run.stdout + run.stderr).not.toContain("hunter2");
  expect((await Bun.$`ls -A ${dir}`.text()).trim()).toBe("");
});

test("a relative sqlite:// store in a settings file is taken from the file's directory, like data", async () => {
  const dir = freshDir();
  await Bun.$`mkdir -p ${join(dir, "conf")}`;
  writeFileSync(join(dir, "conf", "gnp.toml"), 'store = "sqlite://db/x.db?sync=normal"\ndata = "dd"\n');
  const run = await runCli([process.execPath, CLI, "serve", "--config", "conf/gnp.toml", "--print-config"], { cwd: dir });
  expect(run.exitCode).toBe(0);
  expect(run.stdout).toMatch(new RegExp(`^store = "sqlite://${join(dir, "conf", "db", "x.db")}\\?sync=normal"`, "m"));
  expect(run.stdout).toMatch(new RegExp(`^data = "${join(dir, "conf", "dd")}"`, "m"));
});

test("a negative value is named with its flag, not called 'ambiguous'", async () => {
  const dir = freshDir();
  const run = await runCli([process.execPath, CLI, "serve", "--max-body", "-1"], { cwd: dir });
  expect(run.exitCode).toBe(2);
  expect(run.stderr).toBe('gnp: serve: invalid --max-body "-1": a value may not start with "-"\n');
});
test("a mistyped command or flag is one line with a did-you-mean, exit 2", async () => {
  const dir = freshDir();
  const command = await runCli([process.execPath, CLI, "sever", "--port", "0"], { cwd: dir });
  expect([command.exitCode, command.stderr.split("\n")[0]]).toEqual([2, 'gnp: unknown command "sever" (did you mean "serve"?)']);
  const flag = await runCli([process.execPath, CLI, "serve", "--max-conections", "5"], { cwd: dir });
  expect([flag.exitCode, flag.stderr]).toEqual([2, "gnp: serve: Unknown option '--max-conections' (did you mean --max-connections?)\n"]);
  const call = await runCli([process.execPath, CLI, "call", "PING", "--insecur"], { cwd: dir });
  expect([call.exitCode, call.stderr]).toEqual([2, "gnp: call: Unknown option '--insecur' (did you mean --insecure?)\n"]);
});

test("a mistyped certs subcommand gets a did-you-mean too", async () => {
  const run = await runCli([process.execPath, CLI, "certs", "inspct", "x.crt"], { cwd: freshDir() });
  expect([run.exitCode, run.stderr]).toEqual([2, 'gnp certs inspct: unknown command "inspct" (did you mean "inspect"?): expected init, client, intermediate, sign, server, revoke, crl, thumbprint or inspect\n']);
});
