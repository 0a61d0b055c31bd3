// Reloading a running `gnp serve` (the real program) with SIGHUP or `gnp reload`: a client
// added is admitted at once, a client removed is cut off at its next command with `ERR: ...`,
// everyone else stays connected; a broken configuration is refused whole and the server goes
// on as before; a new server certificate is served to new connections while old ones carry on.

import { afterEach, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { issueClientCertificate, issueServerCertificate } from "../../src/certs/generate.ts";
import { makeTestPki } from "../support/pki.ts";
import { RawClient, connectAdmitted } from "../support/harness.ts";
import { GREETING, errReply, errorLine, okReply, reply, request } from "../support/wire.ts";
import { CliProcess, cleanupCli, freshDir, isOneLine, runCli } from "./cli-process.ts";
import { baseToml, client, reloadCommand, serveCommand, writeServerFiles, writeServerPair, writeToml } from "../config/fixture.ts";

afterEach(cleanupCli);

const pki = await makeTestPki();
const renewed = await issueServerCertificate(pki.ca, { names: ["localhost", "127.0.0.1"] });
const alice = client("alice", { subject: "CN=alice" }, "*");
const carol = client("carol", { thumbprint: pki.selfSignedAllowed.sha256 }, ["PING"]);
const eve = client("eve", { thumbprint: pki.unknown.sha1 }, ["PING"]);
const carolByCa = await issueClientCertificate(pki.ca, { commonName: "carol" });

/** A server from gnp.toml in a fresh directory; resolves with it, its directory and port. */
async function serve(toml: string): Promise<{ server: CliProcess; cwd: string; port: number }> {
  const cwd = freshDir("gnp-reload-");
  await writeServerFiles(cwd);
  writeToml(cwd, toml);
  const server = new CliProcess(serveCommand(), { cwd });
  return { server, cwd, port: await server.listeningPort() };
}

async function ping(peer: RawClient, sequence: string): Promise<void> {
  peer.write(request("PING", sequence));
  await peer.waitFor(okReply(sequence, "PONG"));
}

function servedSha256(peer: RawClient): string {
  return String((peer.socket.getPeerCertificate() as { fingerprint256?: string }).fingerprint256).replaceAll(":", "");
}

test("SIGHUP: an added client is admitted at once, a removed one is cut off at its next command, others stay", async () => {
  const { server, cwd, port } = await serve(baseToml(alice, carol));
  await using a = await connectAdmitted(port, { certificate: pki.good });
  await using c = await connectAdmitted(port, { certificate: pki.selfSignedAllowed });
  await ping(c, "1");
  await using refused = await RawClient.connect({ port, certificate: pki.unknown });
  expect(await refused.untilClosed()).toBe(errorLine(`unknown certificate CN=eve, SHA-1 ${pki.unknown.sha1}`));

  writeToml(cwd, baseToml(alice, eve));
  server.kill("SIGHUP");
  await server.waitForStdout(/INFO\s+reloaded cause=SIGHUP generation=1 changed="allow-list, clients"/);

  await using e = await connectAdmitted(port, { certificate: pki.unknown });
  await ping(e, "1");
  c.write(request("PING", "2"));
  expect(await c.untilClosed()).toBe(GREETING + okReply("1", "PONG") + errorLine(`unknown certificate CN=carol, SHA-1 ${pki.selfSignedAllowed.sha1}`));
  await ping(a, "1");
  expect(a.isClosed).toBe(false);
});

test("SIGHUP: an open WATCH of a client whose entry is removed ends with a last PUSH before the next value", async () => {
  const reader = client("carol", { subject: "CN=carol" }, ["WATCH", "GET", "PING"]);
  const { server, cwd, port } = await serve(baseToml(alice, reader));
  await using a = await connectAdmitted(port, { certificate: pki.good });
  await using c = await connectAdmitted(port, { certificate: carolByCa });
  c.write(request("WATCH secret/", "w"));
  await c.waitFor(okReply("w"));
  a.write(request("PUT secret/1", "1", "before"));
  const first = reply("PUSH", "w", "before", [["Key", "secret/1"], ["Op", "PUT"], ["Version", "1"]]);
  await c.waitFor(first);

  writeToml(cwd, baseToml(alice));
  server.kill("SIGHUP");
  await server.waitForStdout(/INFO\s+reloaded cause=SIGHUP generation=1 changed=clients/);
  a.write(request("PUT secret/2", "2", "after"));
  await a.waitFor(okReply("2", "", [["Version", "1"]]));
  const end = reply("PUSH", "w", "watch ended: command 'WATCH' is not allowed for CN=carol", [["Op", "END"]]);
  await c.waitFor(end);
  c.write(request("WATCH secret/", "w2"));
  await c.waitFor("Sequence: w2\r\n");
  expect(c.received).toBe(GREETING + okReply("w") + first + end + errReply("w2", "command 'WATCH' is not allowed for CN=carol"));
});

test("gnp reload: a broken configuration is refused whole, logged, and the old one stays", async () => {
  const { server, cwd, port } = await serve(baseToml(alice, carol));
  await using a = await connectAdmitted(port, { certificate: pki.good });
  // A valid client added next to an unknown key: nothing of it may apply.
  writeToml(cwd, baseToml("max-conections = 5", alice, carol, eve));
  const refused = await runCli(reloadCommand(), { cwd });
  expect(refused.exitCode).toBe(1);
  expect(refused.stderr).toBe('gnp: reload refused, the old configuration stays: gnp.toml: unknown key "max-conections" (did you mean "max-connections"?)\n');
  await server.waitForStdout(/ERROR\s+reload refused cause=SIGHUP reason=.*unknown key/);

  await ping(a, "1");
  await using c = await connectAdmitted(port, { certificate: pki.selfSignedAllowed });
  await ping(c, "1");
  await using stillRefused = await RawClient.connect({ port, certificate: pki.unknown });
  expect(await stillRefused.untilClosed()).toStartWith("ERR: unknown certificate CN=eve");

  writeToml(cwd, baseToml(alice, carol, eve));
  const fixed = await runCli(reloadCommand(), { cwd });
  expect(fixed.stdout).toBe(`reloaded (pid ${server.pid}, generation 1): changed: allow-list, clients\n`);
  expect(fixed.exitCode).toBe(0);
  await using e = await connectAdmitted(port, { certificate: pki.unknown });
  await ping(e, "1");
});

test("gnp reload: a new server certificate goes to new connections while an old one carries on", async () => {
  const { cwd, port } = await serve(baseToml(alice));
  await using before = await connectAdmitted(port, { certificate: pki.good });
  expect(servedSha256(before)).toBe(pki.server.sha256);
  writeServerPair(cwd, renewed);
  const run = await runCli(reloadCommand(), { cwd });
  expect(run.stdout).toEndWith("changed: server certificate\n");
  expect(run.exitCode).toBe(0);
  await using after = await connectAdmitted(port, { certificate: pki.good });
  expect(servedSha256(after)).toBe(renewed.sha256);
  await ping(after, "1");
  await ping(before, "1");
});

test("gnp reload: a key that does not match the new certificate is refused and the old pair stays", async () => {
  const { cwd, port } = await serve(baseToml(alice));
  writeServerPair(cwd, { ...renewed, privateKeyPem: pki.server.privateKeyPem });
  const run = await runCli(reloadCommand(), { cwd });
  expect(run.exitCode).toBe(1);
  expect(run.stderr).toStartWith("gnp: reload refused, the old configuration stays: server private key does not match the certificate");
  await using peer = await connectAdmitted(port, { certificate: pki.good });
  expect(servedSha256(peer)).toBe(pki.server.sha256);
});

test("gnp reload: narrowed permissions apply to an established connection at its next command", async () => {
  const { cwd, port } = await serve(baseToml(alice));
  await using a = await connectAdmitted(port, { certificate: pki.good });
  const version: [string, string][] = [["Version", "1"]];
  a.write(request("PUT k", "1", "v"));
  await a.waitFor(okReply("1", "", version));
  writeToml(cwd, baseToml(client("alice", { subject: "CN=alice" }, ["GET"])));
  expect((await runCli(reloadCommand(), { cwd })).exitCode).toBe(0);
  a.write(request("PUT k", "2", "w") + request("GET k", "3"));
  await a.waitFor(okReply("3", "v", version));
  expect(a.received).toBe(GREETING + okReply("1", "", version) + errReply("2", "command 'PUT' is not allowed for CN=alice") + okReply("3", "v", version));
});

test("a setting only a restart can change is kept, and the reload says so: in the log and from gnp reload", async () => {
  const { server, cwd } = await serve(baseToml(alice));
  writeToml(cwd, baseToml(alice).replace("store = \"memory:\"", "store = \"memory:\"\nmax-body = 10"));
  const run = await runCli(reloadCommand(), { cwd });
  expect([run.exitCode, run.stdout, run.stderr]).toEqual([
    0,
    `reloaded (pid ${server.pid}, generation 1): changed: nothing\n`,
    "gnp: warning: max-body changed; it takes effect at the next restart\n",
  ]);
  await server.waitForStdout(/WARN\s+config warning message="max-body changed; it takes effect at the next restart"/);
});

test("gnp reload with no server running is one line and exit 2; the pid file goes at shutdown", async () => {
  const { server, cwd } = await serve(baseToml(alice));
  expect(existsSync(join(cwd, ".gnp", "gnp.pid"))).toBe(true);
  // Logged once the signal handlers are in place.
  await server.waitForStdout(/INFO\s+listening /);
  server.kill("SIGTERM");
  expect((await server.done).exitCode).toBe(0);
  expect(existsSync(join(cwd, ".gnp", "gnp.pid"))).toBe(false);
  const run = await runCli(reloadCommand(), { cwd });
  expect(run.exitCode).toBe(2);
  expect(isOneLine(run.stderr)).toBe(true);
  expect(run.stderr).toStartWith("gnp: no running server found: .gnp/gnp.pid does not exist");
});

test("gnp reload: a uri rule that is not a URI, or a pin of the wrong length, is refused and the old rules stay", async () => {
  const { server, cwd, port } = await serve(baseToml(alice));
  await using a = await connectAdmitted(port, { certificate: pki.good });
  writeToml(cwd, baseToml(alice, '[[clients]]\nname = "mesh"\nuri = "not a uri"\nallow = "*"\n'));
  const badUri = await runCli(reloadCommand(), { cwd });
  expect([badUri.exitCode, badUri.stderr]).toEqual([1, 'gnp: reload refused, the old configuration stays: gnp.toml: clients[2] ("mesh"): uri "not a uri" is not a URI: expected a URI such as "spiffe://example.org/ns/prod/sa/api", with * at the end for a prefix ("spiffe://example.org/ns/prod/*")\n']);
  writeToml(cwd, baseToml(alice, '[[clients]]\nname = "pinned"\nspki = "ABCD"\nallow = "*"\n'));
  const badPin = await runCli(reloadCommand(), { cwd });
  expect(badPin.exitCode).toBe(1);
  expect(badPin.stderr).toStartWith('gnp: reload refused, the old configuration stays: gnp.toml: clients[2] ("pinned"): malformed spki pin "ABCD"');
  await server.waitForStdout(/ERROR\s+reload refused cause=SIGHUP reason=.*malformed spki pin/);
  await ping(a, "1");
});

test("gnp reload: narrowed read prefixes reach an open WATCH before its next push", async () => {
  const scoped = (read: string) => `[[clients]]\nname = "alice"\nsubject = "CN=alice"\nallow = "*"\nread = [${read}]\nwrite = "*"\n`;
  const { cwd, port } = await serve(baseToml(scoped('"a/"')));
  await using a = await connectAdmitted(port, { certificate: pki.good });
  a.write(request("WATCH a/", "w"));
  await a.waitFor(okReply("w"));
  writeToml(cwd, baseToml(scoped('"a/x"')));
  expect((await runCli(reloadCommand(), { cwd })).stdout).toEndWith("changed: clients\n");
  a.write(request("PUT a/y", "1", "hidden") + request("PUT a/x", "2", "shown"));
  await a.waitFor("Key: a/x");
  expect(a.received).not.toContain("Key: a/y");
  a.write(request("GET a/y", "3"));
  await a.waitFor(errReply("3", "command 'GET' on key 'a/y' is not allowed for CN=alice"));
});
