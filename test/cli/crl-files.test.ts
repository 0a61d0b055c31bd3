// `--crl FILE` on the real `gnp serve`: a revoked client is refused from the start; a CRL that
// changes on disk reaches established connections at their next command, found by the file
// poll (a rewrite in place, a Kubernetes Secret's `..data` symlink swap) or by SIGHUP, and is
// logged as a CRL change; a stale CRL refuses unless `allow-stale-crl`, which logs a warning;
// a malformed CRL or one no trusted CA signed is one line and exit 1 at start, and a reload
// refused (the old CRL kept) while running.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { revokeCertificates } from "../../src/certs/revocation.ts";
import { RawClient, connectAdmitted } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { GREETING, errorLine, okReply, request } from "../support/wire.ts";
import { baseToml, serveCommand, writeServerFiles, writeToml } from "../config/fixture.ts";
import { CliProcess, cleanupCli, freshDir, isOneLine, runCli } from "./cli-process.ts";

afterEach(cleanupCli);

const pki = await makeTestPki();
const DAY_MS = 86_400_000;
const nothingRevoked = await revokeCertificates(pki.ca, []);
const aliceRevoked = await revokeCertificates(pki.ca, [pki.good.certificatePem], { now: new Date(Date.now() - 60_000) });
const stale = await revokeCertificates(pki.ca, [], { now: new Date(Date.now() - 10 * DAY_MS), days: 1 });
const foreignCrl = await revokeCertificates(pki.otherCa, []);
const revokedLine = (at: Date) => errorLine(`certificate CN=alice (serial 0x${pki.good.certificate.serialNumber.toUpperCase().replace(/^0+/, "")}) was revoked at ${at.toISOString().replace(/\.\d{3}Z$/, "Z")}`);

/** carol, self-signed, is admitted by her thumbprint: the bystander no CRL concerns. */
const carol = `allow = ["${pki.selfSignedAllowed.sha256}"]`;

async function serve(toml: string, files: Record<string, string | Uint8Array>, ...flags: string[]) {
  const cwd = freshDir("gnp-crl-");
  await writeServerFiles(cwd);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(cwd, name), content);
  writeToml(cwd, toml);
  const server = new CliProcess(serveCommand(...flags), { cwd });
  return { server, cwd, port: await server.listeningPort() };
}

async function ping(peer: RawClient, sequence: string): Promise<void> {
  peer.write(request("PING", sequence));
  await peer.waitFor(okReply(sequence, "PONG"));
}

describe("--crl on a running server", () => {
  test("a revoked client is refused from the start; the others are admitted", async () => {
    const { port } = await serve(baseToml('crl = ["ca.crl"]', carol), { "ca.crl": aliceRevoked.der });
    await using alice = await RawClient.connect({ port, certificate: pki.good });
    expect(await alice.untilClosed()).toBe(revokedLine(aliceRevoked.thisUpdate));
    await using other = await connectAdmitted(port, { certificate: pki.selfSignedAllowed });
    await ping(other, "1");
  });

  test("a CRL rewritten in place reaches an established connection at its next command, with no signal", async () => {
    const { server, cwd, port } = await serve(baseToml('crl = "ca.crl"'), { "ca.crl": nothingRevoked.pem }, "--poll-interval", "0.2");
    await using alice = await connectAdmitted(port, { certificate: pki.good });
    await ping(alice, "1");
    writeFileSync(join(cwd, "ca.crl"), aliceRevoked.pem);
    await server.waitForStdout(/INFO\s+reloaded cause="file changed: [^"]*ca\.crl" generation=1 changed=CRLs/);
    alice.write(request("PING", "2"));
    expect(await alice.untilClosed()).toBe(GREETING + okReply("1", "PONG") + revokedLine(aliceRevoked.thisUpdate));
  });

  test("an open WATCH of a client the new CRL revokes ends without the client sending anything", async () => {
    const { server, cwd, port } = await serve(baseToml('crl = "ca.crl"'), { "ca.crl": nothingRevoked.pem }, "--poll-interval", "0.2");
    await using alice = await connectAdmitted(port, { certificate: pki.good });
    alice.write(request("WATCH secret/", "w"));
    await alice.waitFor(okReply("w"));
    writeFileSync(join(cwd, "ca.crl"), aliceRevoked.pem);
    await server.waitForStdout(/changed=CRLs/);
    expect(await alice.untilClosed()).toBe(GREETING + okReply("w") + revokedLine(aliceRevoked.thisUpdate));
  });

  test("a Kubernetes Secret updated by its ..data symlink swap is seen by the poll", async () => {
    const cwd = freshDir("gnp-secret-");
    await writeServerFiles(cwd);
    // What kubelet's atomic writer makes: a timestamped directory, ..data pointing at it, and
    // each key a symlink through ..data.
    const secret = join(cwd, "secret");
    mkdirSync(join(secret, "..2026_01_01_00_00_00.1"), { recursive: true });
    writeFileSync(join(secret, "..2026_01_01_00_00_00.1", "ca.crl"), nothingRevoked.pem);
    symlinkSync("..2026_01_01_00_00_00.1", join(secret, "..data"));
    symlinkSync("..data/ca.crl", join(secret, "ca.crl"));
    writeToml(cwd, baseToml('crl = ["secret/ca.crl"]'));
    const server = new CliProcess(serveCommand("--poll-interval", "0.2"), { cwd });
    const port = await server.listeningPort();
    await using alice = await connectAdmitted(port, { certificate: pki.good });
    await ping(alice, "1");

    mkdirSync(join(secret, "..2026_01_02_00_00_00.2"));
    writeFileSync(join(secret, "..2026_01_02_00_00_00.2", "ca.crl"), aliceRevoked.pem);
    symlinkSync("..2026_01_02_00_00_00.2", join(secret, "..data_tmp"));
    renameSync(join(secret, "..data_tmp"), join(secret, "..data"));
    await server.waitForStdout(/INFO\s+reloaded cause="file changed: [^"]*secret\/ca\.crl" generation=1 changed=CRLs/);
    alice.write(request("PING", "2"));
    expect(await alice.untilClosed()).toEndWith(revokedLine(aliceRevoked.thisUpdate));
  });

  test("a CRL-only change goes through SIGHUP too, to every established connection", async () => {
    const { server, cwd, port } = await serve(baseToml('crl = "ca.crl"', carol), { "ca.crl": nothingRevoked.pem });
    await using alice = await connectAdmitted(port, { certificate: pki.good });
    await using other = await connectAdmitted(port, { certificate: pki.selfSignedAllowed });
    await ping(alice, "1");
    writeFileSync(join(cwd, "ca.crl"), aliceRevoked.der);
    server.kill("SIGHUP");
    await server.waitForStdout(/INFO\s+reloaded cause=SIGHUP generation=1 changed=CRLs/);
    alice.write(request("PING", "2"));
    expect(await alice.untilClosed()).toEndWith(revokedLine(aliceRevoked.thisUpdate));
    await ping(other, "1");
  });

  test("a stale CRL refuses its CA's clients; allow-stale-crl admits them and logs a warning", async () => {
    const strict = await serve(baseToml('crl = "ca.crl"'), { "ca.crl": stale.pem });
    await strict.server.waitForStdout(/WARN\s+config warning message="the CRL of CN=gnp test CA is stale \(its nextUpdate was \S+Z\): its clients are refused until a current one is loaded"/);
    await using refused = await RawClient.connect({ port: strict.port, certificate: pki.good });
    expect(await refused.untilClosed()).toMatch(/^ERR: certificate CN=alice cannot be checked for revocation: the CRL of CN=gnp test CA is stale \(its nextUpdate was \S+Z\)\r\n$/);

    const lenient = await serve(baseToml('crl = "ca.crl"', "allow-stale-crl = true"), { "ca.crl": stale.pem });
    await using admitted = await connectAdmitted(lenient.port, { certificate: pki.good });
    await ping(admitted, "1");
    await lenient.server.waitForStdout(/WARN\s+admitted with a warning identity=alice warning="certificate CN=alice cannot be checked for revocation: the CRL of CN=gnp test CA is stale/);
  });
});

describe("bad CRLs", () => {
  test("a malformed CRL, or one no trusted CA signed, is one line and exit 1 at start", async () => {
    const run = async (crl: string | Uint8Array) => {
      const cwd = freshDir("gnp-crl-bad-");
      await writeServerFiles(cwd);
      writeFileSync(join(cwd, "ca.crl"), crl);
      writeToml(cwd, baseToml('crl = "ca.crl"'));
      return { cwd, run: await runCli(serveCommand(), { cwd }) };
    };
    const garbage = await run("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
    expect(garbage.run.exitCode).toBe(1);
    expect(isOneLine(garbage.run.stderr)).toBe(true);
    expect(garbage.run.stderr).toStartWith(`gnp: --crl ${join(garbage.cwd, "ca.crl")}: invalid CRL: it could not be parsed`);
    const foreign = await run(foreignCrl.der);
    expect([foreign.run.exitCode, foreign.run.stderr]).toEqual([1, `gnp: --crl ${join(foreign.cwd, "ca.crl")}: invalid CRL from CN=gnp other CA: it is not signed by a trusted CA of that name\n`]);
  });

  test("a CRL that turns bad while running is a refused reload: logged, and the old CRL stays", async () => {
    const { server, cwd, port } = await serve(baseToml('crl = "ca.crl"', carol), { "ca.crl": aliceRevoked.pem }, "--poll-interval", "0.2");
    await using other = await connectAdmitted(port, { certificate: pki.selfSignedAllowed });
    writeFileSync(join(cwd, "ca.crl"), "not a CRL at all");
    await server.waitForStdout(/ERROR\s+reload refused cause="file changed: [^"]*ca\.crl" reason="--crl [^"]*ca\.crl: invalid CRL: no \\"-----BEGIN X509 CRL-----\\" block found and not DER" kept="generation 0"/);
    await ping(other, "1");
    await using alice = await RawClient.connect({ port, certificate: pki.good });
    expect(await alice.untilClosed()).toBe(revokedLine(aliceRevoked.thisUpdate));
  });
});
