// Every mistake in a settings file is one line on stderr and a non-zero exit before anything
// listens (the real `gnp serve`, spawned in a fresh directory); a server certificate close to
// its end starts, with a warning.

import { afterEach, expect, test } from "bun:test";
import { issueServerCertificate } from "../../src/certs/generate.ts";
import { makeTestPki } from "../support/pki.ts";
import { CliProcess, cleanupCli, freshDir, isOneLine, runCli } from "../cli/cli-process.ts";
import { baseToml, client, serveCommand, writeServerFiles, writeServerPair, writeToml } from "./fixture.ts";

afterEach(cleanupCli);

const DAY_MS = 86_400_000;
const pki = await makeTestPki();
const now = Date.now();
const [expired, notYet, expiringSoon] = await Promise.all([
  issueServerCertificate(pki.ca, { names: ["localhost"], notBefore: new Date(now - 30 * DAY_MS), notAfter: new Date(now - DAY_MS) }),
  issueServerCertificate(pki.ca, { names: ["localhost"], notBefore: new Date(now + DAY_MS), notAfter: new Date(now + 30 * DAY_MS) }),
  issueServerCertificate(pki.ca, { names: ["localhost", "127.0.0.1"], notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 5 * DAY_MS) }),
]);

/** Runs `gnp serve` in a directory holding the test pair and `toml`; expects it to fail. */
async function failing(toml: string, prepare?: (dir: string) => void) {
  const cwd = freshDir("gnp-config-");
  await writeServerFiles(cwd);
  prepare?.(cwd);
  writeToml(cwd, toml);
  const run = await runCli(serveCommand(), { cwd });
  expect(run.exitCode).not.toBe(0);
  expect(run.exitCode).not.toBeNull();
  expect(run.stdout).not.toContain("gnp listening");
  expect(isOneLine(run.stderr)).toBe(true);
  expect(run.stderr).toStartWith("gnp: ");
  return run.stderr.trimEnd();
}

test("an unknown key is named, with the key it probably meant", async () => {
  expect(await failing(baseToml("max-conections = 10"))).toBe('gnp: gnp.toml: unknown key "max-conections" (did you mean "max-connections"?)');
});

test("an unknown key inside [[clients]] names the entry", async () => {
  const toml = baseToml('[[clients]]\nname = "ops"\nsubject = "CN=ops"\nalow = "*"');
  expect(await failing(toml)).toBe('gnp: gnp.toml: clients[1] ("ops"): unknown key "alow" (expected name, one of thumbprint, spki, subject, uri, dns, email, allow, and optionally read and write)');
});

test("a malformed thumbprint in allow is named with the file", async () => {
  expect(await failing(baseToml('allow = ["E1:BB:9F"]'))).toBe('gnp: gnp.toml: malformed thumbprint "E1:BB:9F": expected 40 (SHA-1) or 64 (SHA-256) hex digits, or an SPKI pin sha256/BASE64');
});

test("a malformed thumbprint in [[clients]] names the entry", async () => {
  const toml = baseToml(client("carol", { thumbprint: "XYZ" }, ["PING"]));
  expect(await failing(toml)).toBe('gnp: gnp.toml: clients[1] ("carol"): malformed thumbprint "XYZ": expected 40 (SHA-1) or 64 (SHA-256) hex digits');
});

test("a key that does not match its certificate is refused", async () => {
  const message = await failing(baseToml(), (dir) => writeServerPair(dir, { ...pki.server, privateKeyPem: pki.good.privateKeyPem }));
  expect(message).toStartWith("gnp: server private key does not match the certificate");
});

test("an expired server certificate is refused with the instant it expired", async () => {
  const message = await failing(baseToml(), (dir) => writeServerPair(dir, expired));
  expect(message).toMatch(/^gnp: server certificate CN=localhost expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test("a server certificate that is not valid yet is refused", async () => {
  const message = await failing(baseToml(), (dir) => writeServerPair(dir, notYet));
  expect(message).toMatch(/^gnp: server certificate CN=localhost is not valid before /);
});

test("a TOML syntax error gives the file and line", async () => {
  expect(await failing(baseToml("max-body = \nport = 1"))).toBe("gnp: gnp.toml:8: Missing value after '='; values must be on the same line");
});

test("a value out of range in the file is named with the file", async () => {
  expect(await failing(baseToml().replace("port = 0", "port = 70000"))).toBe('gnp: gnp.toml: invalid --port "70000": expected a whole number from 0 to 65535');
});

test("a subject rule with no trusted CA to vouch for it is refused", async () => {
  const toml = baseToml(client("ops", { subject: "CN=ops" }, "*")).replace('ca = "ca.pem"\n', `allow = ["${pki.good.sha1}"]\n`);
  expect(await failing(toml)).toBe('gnp: gnp.toml: client "ops" matches by subject, but no trusted CA is configured (ca): only a CA vouches for a subject');
});

test("a client allowed a command the server does not have is refused (a typo would grant nothing)", async () => {
  const message = await failing(baseToml(client("ops", { subject: "CN=ops" }, ["GTE"])));
  expect(message).toStartWith('gnp: gnp.toml: client "ops" allows unknown command "GTE" (known: ');
});

test("--config naming a missing file is refused", async () => {
  const cwd = freshDir("gnp-config-");
  const run = await runCli(serveCommand("--config", "missing.toml"), { cwd });
  expect(run.exitCode).toBe(1);
  expect(run.stderr).toBe("gnp: cannot read config missing.toml: no such file\n");
});

test("a server certificate expiring within 14 days starts, with a warning naming the date", async () => {
  const cwd = freshDir("gnp-config-");
  await writeServerFiles(cwd, expiringSoon);
  writeToml(cwd, baseToml());
  const server = new CliProcess(serveCommand(), { cwd });
  await server.listeningPort();
  const warning = await server.waitForStdout(/WARN\s+config warning message="(server certificate CN=localhost expires at [^"]+)"/);
  expect(warning[1]).toMatch(/expires at \S+Z, in [45] days: renew it, then reload \(SIGHUP or gnp reload\)$/);
});

test("a uri rule that is not a URI, and an SPKI pin of the wrong length, are named with their entry", async () => {
  expect(await failing(baseToml('[[clients]]\nname = "mesh"\nuri = "spiffe//acme.example/api"\nallow = "*"'))).toBe(
    'gnp: gnp.toml: clients[1] ("mesh"): uri "spiffe//acme.example/api" is not a URI: expected a URI such as "spiffe://example.org/ns/prod/sa/api", with * at the end for a prefix ("spiffe://example.org/ns/prod/*")',
  );
  expect(await failing(baseToml('[[clients]]\nname = "pinned"\nspki = "sha256/3q2+7w=="\nallow = "*"'))).toBe(
    'gnp: gnp.toml: clients[1] ("pinned"): malformed spki pin "sha256/3q2+7w==": expected sha256/ and the base64 of a 32-byte SHA-256 digest (44 characters), got 4 bytes',
  );
  expect(await failing(baseToml('allow = ["sha256/3q2+7w=="]'))).toBe(
    'gnp: gnp.toml: malformed SPKI pin "sha256/3q2+7w==": expected sha256/ and the base64 of a 32-byte SHA-256 digest (44 characters), got 4 bytes',
  );
});

test("a SAN rule with no trusted CA to vouch for it is refused", async () => {
  const toml = ['port = 0', 'cert = "server.pem"', 'key = "server-key.pem"', 'allow = ["' + pki.selfSignedAllowed.sha256 + '"]', 'store = "memory:"', '[[clients]]', 'name = "mesh"', 'uri = "spiffe://acme.example/*"', 'allow = "*"'].join("\n");
  expect(await failing(toml)).toBe('gnp: gnp.toml: client "mesh" matches by uri, but no trusted CA is configured (ca): only a CA vouches for a SAN');
});
