// Revocation end to end with the real programs: a first-run `gnp serve` (its CA in DATA/pki),
// a client made with `gnp certs client`, connected; `gnp certs revoke` writes DATA/pki/ca.crl
// and the server picks it up by itself (its file poll: no restart, no signal). The connected
// client is cut at its next command with the revoked line, a new connection of it is refused
// with the same line, and everyone else carries on.

import { afterEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RawClient, connectAdmitted } from "../support/harness.ts";
import { GREETING, okReply, request } from "../support/wire.ts";
import { CLI } from "../config/fixture.ts";
import { CliProcess, cleanEnv, cleanupCli, freshDir, runCli } from "./cli-process.ts";

afterEach(cleanupCli);

const gnp = (...args: string[]) => [process.execPath, CLI, ...args];

function pemOf(pki: string, name: string): { cert: string; key: string; ca: string } {
  return { cert: readFileSync(join(pki, `${name}.crt`), "utf8"), key: readFileSync(join(pki, `${name}.key`), "utf8"), ca: readFileSync(join(pki, "ca.crt"), "utf8") };
}

test("gnp certs revoke: the running first-run server cuts the client at its next command and refuses it after, by itself", async () => {
  const cwd = freshDir("gnp-revoke-");
  const data = join(cwd, "data");
  const pki = join(data, "pki");
  const server = new CliProcess(gnp("serve", "--data", data, "--port", "0", "--store", "memory:", "--log-format", "text", "--poll-interval", "0.2"), { cwd, env: cleanEnv() });
  const port = await server.listeningPort();

  const made = await runCli(gnp("certs", "client", "bob", "--dir", pki), { cwd });
  expect(made.exitCode).toBe(0);
  await using admin = await connectAdmitted(port, { pem: pemOf(pki, "client") });
  await using bob = await connectAdmitted(port, { pem: pemOf(pki, "bob") });
  bob.write(request("PING", "1"));
  await bob.waitFor(okReply("1", "PONG"));

  const revoked = await runCli(gnp("certs", "revoke", join(pki, "bob.crt"), "--dir", pki), { cwd });
  expect([revoked.exitCode, revoked.stderr]).toEqual([0, ""]);
  expect(revoked.stdout).toMatch(new RegExp(`^revoked 1 certificate in ${join(pki, "ca.crl").replaceAll("/", "\\/")} \\(CRL number 1 of CN=gnp CA .*, 1 revoked, next update \\S+Z\\)\\n$`));
  await server.waitForStdout(/INFO\s+reloaded cause="file changed: [^"]*ca\.crl" generation=1 changed=CRLs/);

  const line = /^ERR: certificate CN=bob \(serial 0x[0-9A-F]+\) was revoked at \S+Z\r\n$/;
  bob.write(request("PING", "2"));
  const cut = await bob.untilClosed();
  expect(cut.startsWith(GREETING + okReply("1", "PONG"))).toBe(true);
  expect(cut.slice((GREETING + okReply("1", "PONG")).length)).toMatch(line);

  await using again = await RawClient.connect({ port, pem: pemOf(pki, "bob") });
  expect(await again.untilClosed()).toMatch(line);
  await server.waitForStdout(/WARN\s+refused code=CERT_REVOKED/);

  admin.write(request("PING", "1"));
  await admin.waitFor(okReply("1", "PONG"));
});
