// Where each setting comes from: a flag beats its GNP_* variable, which beats the settings
// file, which beats the default. `--print-config` shows the winner and its source, having created
// nothing, and exits as a start would (0, or 1 with its line); a server started from the file
// listens where the file says.

import { afterEach, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { makeTestPki } from "../support/pki.ts";
import { RawClient } from "../support/harness.ts";
import { GREETING, okReply, request } from "../support/wire.ts";
import { CliProcess, cleanEnv, cleanupCli, freshDir, runCli } from "../cli/cli-process.ts";
import { baseToml, client, serveCommand, writeServerFiles, writeToml } from "./fixture.ts";

afterEach(cleanupCli);

/** `name = value  # source` lines of --print-config, as [value, source]. */
function printed(stdout: string): Record<string, [string, string]> {
  const rows: Record<string, [string, string]> = {};
  for (const line of stdout.split("\n")) {
    const match = /^([a-z-]+) = (.*?)\s+# (.+)$/.exec(line);
    if (match) rows[match[1]!] = [match[2]!, match[3]!];
  }
  return rows;
}

test("flag > environment > file > default, each value printed with its source", async () => {
  const cwd = freshDir("gnp-config-");
  writeToml(cwd, "port = 1111\nmax-body = 2222\nidle-timeout = 33\nhost = \"127.0.0.1\"\n");
  const env = cleanEnv({ GNP_PORT: "4444", GNP_MAX_BODY: "5555" });
  const run = await runCli(serveCommand("--print-config", "--port", "6666"), { cwd, env });
  expect(run.exitCode).toBe(0);
  expect(run.stderr).toBe("");
  const rows = printed(run.stdout);
  expect(rows.port).toEqual(["6666", "flag --port"]);
  expect(rows["max-body"]).toEqual(["5555", "env GNP_MAX_BODY"]);
  expect(rows["idle-timeout"]).toEqual(["33", "file gnp.toml"]);
  expect(rows.host).toEqual(['"127.0.0.1"', "file gnp.toml"]);
  expect(rows["max-connections"]).toEqual(["10000", "default"]);
  expect(run.stdout).toStartWith("# gnp serve: the settings in effect; precedence: flag > environment (GNP_*) > gnp.toml > default\n");
  // Printing creates nothing: no first-run certificates, no data directory.
  expect(readdirSync(cwd)).toEqual(["gnp.toml"]);
});

test("--config names another file; relative paths in it are taken from its directory", async () => {
  const cwd = freshDir("gnp-config-");
  writeToml(cwd, 'cert = "certs/server.pem"\nmax_connections = 12\nca = "ca.pem"\n', "other.toml");
  const run = await runCli(serveCommand("--print-config", "--config", "other.toml"), { cwd, env: cleanEnv() });
  // Printed first; then the check a start makes fails, as the start would.
  expect([run.exitCode, run.stderr]).toEqual([1, `gnp: cannot read ca (from other.toml) ${cwd}/ca.pem: no such file\n`]);
  const rows = printed(run.stdout);
  expect(rows.cert).toEqual([JSON.stringify(`${cwd}/certs/server.pem`), "file other.toml"]);
  expect(rows.ca).toEqual([JSON.stringify([`${cwd}/ca.pem`]).replace(",", ", "), "file other.toml"]);
  expect(rows["max-connections"]).toEqual(["12", "file other.toml"]);
});

test("GNP_CONFIG names the file too, and a list from the environment beats the file's", async () => {
  const cwd = freshDir("gnp-config-");
  const pki = await makeTestPki();
  writeToml(cwd, `allow = ["${pki.good.sha1}"]\n`, "env.toml");
  const run = await runCli(serveCommand("--print-config"), { cwd, env: cleanEnv({ GNP_CONFIG: "env.toml", GNP_ALLOW: pki.unknown.sha256 }) });
  expect(run.exitCode).toBe(0);
  expect(printed(run.stdout).allow).toEqual([`["${pki.unknown.sha256}"]`, "env GNP_ALLOW"]);
});

test("--print-config lists [[clients]] as TOML", async () => {
  const cwd = freshDir("gnp-config-");
  const pki = await makeTestPki();
  writeToml(cwd, client("reporting", { thumbprint: pki.good.sha1.toLowerCase() }, ["get", "PING"]) + client("ops", { subject: "CN=ops, O=Acme" }, "*"));
  const run = await runCli(serveCommand("--print-config"), { cwd, env: cleanEnv() });
  expect(run.exitCode).toBe(0);
  expect(run.stdout).toContain(
    `[[clients]]\nname = "reporting"\nthumbprint = "${pki.good.sha1}"\nallow = ["GET", "PING"]\n\n[[clients]]\nname = "ops"\nsubject = "CN=ops, O=Acme"\nallow = "*"\n`,
  );
});

test("a server started from gnp.toml in the working directory listens where it says and admits whom it says", async () => {
  const cwd = freshDir("gnp-config-");
  const pki = await makeTestPki();
  await writeServerFiles(cwd);
  writeToml(cwd, baseToml().replace('ca = "ca.pem"\n', "") + client("carol", { thumbprint: pki.selfSignedAllowed.sha256 }, ["PING"]));
  const server = new CliProcess(serveCommand(), { cwd, env: cleanEnv() });
  const port = await server.listeningPort();
  await using carol = await RawClient.connect({ port, certificate: pki.selfSignedAllowed });
  carol.write(request("PING", "1"));
  await carol.waitFor(okReply("1", "PONG"));
  expect(carol.received).toBe(GREETING + okReply("1", "PONG"));
  // Not listed and no CA configured: refused at the door.
  await using alice = await RawClient.connect({ port, certificate: pki.good });
  expect(await alice.untilClosed()).toStartWith("ERR: unknown certificate CN=alice");
});
