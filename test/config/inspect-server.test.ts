// `gnp certs inspect FILE --server`: would the server configured here admit this certificate,
// and what may it run? Read from gnp.toml and the GNP_* variables the way `gnp serve` reads them.

import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTestPki } from "../support/pki.ts";
import { cleanEnv, cleanupCli, freshDir, isOneLine, runCli } from "../cli/cli-process.ts";
import { CLI, client, writeToml } from "./fixture.ts";

afterEach(cleanupCli);

const inspect = (...args: string[]) => [process.execPath, CLI, "certs", "inspect", ...args];

test("a CA-issued certificate is admitted and shows the permissions of its [[clients]] entry", async () => {
  const cwd = freshDir("gnp-inspect-");
  const pki = await makeTestPki();
  writeFileSync(join(cwd, "ca.pem"), pki.ca.certificatePem);
  writeFileSync(join(cwd, "alice.crt"), pki.good.certificatePem);
  writeToml(cwd, 'ca = "ca.pem"\n' + client("alice", { subject: "CN=alice" }, ["GET", "PING"]));
  const run = await runCli(inspect("alice.crt", "--server"), { cwd, env: cleanEnv() });
  expect(run.exitCode).toBe(0);
  expect(run.stdout).toContain("Admission   admitted by a trusted CA\nChecked     against gnp.toml\nPermissions GET, PING\n");
});

test("a certificate the server would refuse says why, with exit 1", async () => {
  const cwd = freshDir("gnp-inspect-");
  const pki = await makeTestPki();
  writeFileSync(join(cwd, "eve.crt"), pki.unknown.certificatePem);
  const run = await runCli(inspect("eve.crt", "--server"), { cwd, env: cleanEnv({ GNP_ALLOW: pki.good.sha1 }) });
  expect(run.exitCode).toBe(1);
  expect(run.stdout).toContain(`Admission   refused (CERT_UNKNOWN): unknown certificate CN=eve, SHA-1 ${pki.unknown.sha1}\nChecked     against GNP_* variables\n`);
});

test("with nothing configured here, --server is one line and exit 1", async () => {
  const cwd = freshDir("gnp-inspect-");
  const pki = await makeTestPki();
  writeFileSync(join(cwd, "eve.crt"), pki.unknown.certificatePem);
  const run = await runCli(inspect("eve.crt", "--server"), { cwd, env: cleanEnv() });
  expect(run.exitCode).toBe(1);
  expect(isOneLine(run.stderr)).toBe(true);
  expect(run.stderr).toContain("no server settings here to check against");
});
