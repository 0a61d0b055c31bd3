// `gnp certs` through runCerts with captured output: what each subcommand
// writes and prints, the exit statuses, and that every failure is exactly one
// line on stderr.
import { describe, expect, test } from "bun:test";
import { X509Certificate as NodeX509 } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { thumbprints } from "../../src/certs/thumbprint.ts";
import { makeTempDir, makeTestPki, OPENSSL, opensslVerify } from "../support/pki.ts";
import { expectOneLineFailure, runCertsCaptured } from "./certs-run.ts";

const run = runCertsCaptured;

async function mode(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o777).toString(8);
}

async function der(path: string): Promise<Uint8Array> {
  return new Uint8Array(new NodeX509(await readFile(path)).raw);
}

describe("gnp certs usage", () => {
  test("--help prints the usage on stdout and exits 0", async () => {
    const result = await run("--help");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("gnp certs init [DIR]");
    expect((await run("client", "--help")).stdout).toBe(result.stdout);
  });

  test("a missing or unknown command, an unknown option or a bad --days exits 2 with one line", async () => {
    expectOneLineFailure(await run(), 2, /^gnp certs: missing command/);
    expectOneLineFailure(await run("frobnicate"), 2, /^gnp certs frobnicate: unknown command "frobnicate"/);
    expectOneLineFailure(await run("init", "--bogus"), 2, /^gnp certs init: unknown option '--bogus'$/m);
    expectOneLineFailure(await run("init", "--days", "ten"), 2, /invalid --days "ten": expected a whole number from 1 to 36500/);
    expectOneLineFailure(await run("thumbprint"), 2, /missing FILE/);
  });
});

describe("gnp certs init", () => {
  test("writes a CA, server and admin client that openssl verifies, with keys 0600", async () => {
    await using tmp = await makeTempDir();
    const dir = join(tmp.path, "certs");
    const result = await run("init", dir, "--name", "gnp.internal", "--name", "10.9.8.7");
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toContain(`server  ${join(dir, "server.crt")} and server.key (localhost, 127.0.0.1, ::1, gnp.internal, 10.9.8.7)`);
    const client = thumbprints(await der(join(dir, "client.crt")));
    expect(result.stdout).toEndWith(`SHA-1 ${client.sha1}\nSHA-256 ${client.sha256}\n`);
    expect(await Promise.all(["ca.key", "server.key", "client.key"].map((f) => mode(join(dir, f))))).toEqual(["600", "600", "600"]);
    expect(new NodeX509(await readFile(join(dir, "client.crt"))).subject).toBe("CN=admin");
    if (OPENSSL) {
      const ca = join(dir, "ca.crt");
      expect(opensslVerify(ca, join(dir, "client.crt")).output).toBe(`${join(dir, "client.crt")}: OK`);
      expect(opensslVerify(ca, join(dir, "server.crt")).output).toBe(`${join(dir, "server.crt")}: OK`);
    }
  });

  test("refuses to overwrite without --force, and replaces everything with it", async () => {
    await using tmp = await makeTempDir();
    expect((await run("init", tmp.path)).code).toBe(0);
    const before = await readFile(join(tmp.path, "ca.crt"), "utf8");
    expectOneLineFailure(
      await run("init", tmp.path),
      1,
      new RegExp(`refusing to overwrite ${join(tmp.path, "ca.crt")} \\(and 5 more\\): use --force`),
    );
    expect(await readFile(join(tmp.path, "ca.crt"), "utf8")).toBe(before);
    expect((await run("init", tmp.path, "--force")).code).toBe(0);
    expect(await readFile(join(tmp.path, "ca.crt"), "utf8")).not.toBe(before);
    expect(await mode(join(tmp.path, "ca.key"))).toBe("600");
  });

  test("--rsa makes RSA keys and --days sets the leaf lifetime", async () => {
    await using tmp = await makeTempDir();
    expect((await run("init", tmp.path, "--rsa", "--days", "30")).code).toBe(0);
    const server = new NodeX509(await readFile(join(tmp.path, "server.crt")));
    expect(server.publicKey.asymmetricKeyType).toBe("rsa");
    const lifetime = Date.parse(server.validTo) - Date.now();
    expect(Math.round(lifetime / 86_400_000)).toBe(30);
  });
});

describe("gnp certs client", () => {
  test("signs NAME with the CA in --dir, writes NAME.crt and NAME.key, and prints the thumbprints", async () => {
    await using tmp = await makeTempDir();
    await run("init", tmp.path);
    const result = await run("client", "bob", "--dir", tmp.path, "--days", "7");
    const crt = join(tmp.path, "bob.crt");
    const digests = thumbprints(await der(crt));
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toStartWith(`wrote ${crt} and ${join(tmp.path, "bob.key")} (CN=bob, valid until `);
    expect(result.stdout).toEndWith(`SHA-1 ${digests.sha1}\nSHA-256 ${digests.sha256}\n`);
    expect(await mode(join(tmp.path, "bob.key"))).toBe("600");
    if (OPENSSL) expect(opensslVerify(join(tmp.path, "ca.crt"), crt, ["-purpose", "sslclient"]).code).toBe(0);
    expectOneLineFailure(await run("client", "bob", "--dir", tmp.path), 1, /refusing to overwrite .*bob\.crt: use --force/);
    expect((await run("client", "bob", "--dir", tmp.path, "--force")).code).toBe(0);
  });

  test("--out chooses the file prefix, which lets any CN through", async () => {
    await using tmp = await makeTempDir();
    await run("init", tmp.path);
    const prefix = join(tmp.path, "svc");
    expect((await run("client", "ops team/1", "--dir", tmp.path, "--out", prefix, "--rsa")).code).toBe(0);
    const cert = new NodeX509(await readFile(`${prefix}.crt`));
    expect([cert.subject, cert.publicKey.asymmetricKeyType]).toEqual(["CN=ops team/1", "rsa"]);
    expectOneLineFailure(await run("client", "ops team/1", "--dir", tmp.path), 2, /invalid client name "ops team\/1"/);
  });

  test("fails with one line when the CA files are missing", async () => {
    await using tmp = await makeTempDir();
    expectOneLineFailure(
      await run("client", "bob", "--dir", tmp.path),
      1,
      new RegExp(`cannot read ${join(tmp.path, "ca.crt")}: no such file \\(run "gnp certs init`),
    );
  });
});

describe("gnp certs thumbprint", () => {
  test("prints SHA-1 and SHA-256 lines for a PEM or DER file", async () => {
    await using tmp = await makeTempDir();
    const { good } = await makeTestPki();
    await writeFile(join(tmp.path, "alice.crt"), good.certificatePem);
    await writeFile(join(tmp.path, "alice.der"), good.der);
    const expected = { code: 0, stdout: `SHA-1 ${good.sha1}\nSHA-256 ${good.sha256}\n`, stderr: "" };
    expect(await run("thumbprint", join(tmp.path, "alice.crt"))).toEqual(expected);
    expect(await run("thumbprint", join(tmp.path, "alice.der"))).toEqual(expected);
  });

  test("fails with one line for a missing file or a file without certificate", async () => {
    await using tmp = await makeTempDir();
    const { good } = await makeTestPki();
    await writeFile(join(tmp.path, "alice.key"), good.privateKeyPem);
    expectOneLineFailure(await run("thumbprint", join(tmp.path, "nope.crt")), 1, /cannot read .*nope\.crt: no such file/);
    expectOneLineFailure(await run("thumbprint", join(tmp.path, "alice.key")), 1, /no certificate in .*alice\.key/);
  });
});

describe("gnp certs inspect", () => {
  async function files() {
    const tmp = await makeTempDir();
    const pki = await makeTestPki();
    const at = (name: string) => join(tmp.path, name);
    await writeFile(at("ca.crt"), pki.ca.certificatePem);
    await writeFile(at("alice.crt"), pki.good.certificatePem);
    await writeFile(at("eve.crt"), pki.unknown.certificatePem);
    return { tmp, pki, at };
  }

  test("describes the certificate and says it is admitted by the trusted CA", async () => {
    const { tmp, pki, at } = await files();
    await using _ = tmp;
    const result = await run("inspect", at("alice.crt"), "--ca", at("ca.crt"));
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines).toContain("Subject     CN=alice");
    expect(lines).toContain("Issuer      CN=gnp test CA");
    expect(lines).toContain("SANs        (none)");
    expect(lines).toContain("Key         ECDSA P-256");
    expect(lines).toContain(`SHA-256     ${pki.good.sha256}`);
    expect(lines).toContain("Identity    alice");
    expect(lines.at(-1)).toBe("Admission   admitted by a trusted CA");
  });

  test("says how a server would refuse it, and exits 1", async () => {
    const { tmp, pki, at } = await files();
    await using _ = tmp;
    const result = await run("inspect", at("eve.crt"), "--ca", at("ca.crt"));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`Admission   refused (CERT_UNKNOWN): unknown certificate CN=eve, SHA-1 ${pki.unknown.sha1}\n`);
    const allowed = await run("inspect", at("eve.crt"), "--allow", pki.unknown.sha1.toLowerCase());
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain("Admission   admitted by the allow-list\n");
  });

  test("--json gives the same description and verdict as one JSON object, with the same exit code", async () => {
    const { tmp, pki, at } = await files();
    await using _ = tmp;
    const admitted = await run("inspect", at("alice.crt"), "--ca", at("ca.crt"), "--json");
    expect(admitted).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(admitted.stdout)).toMatchObject({
      subject: "CN=alice",
      issuer: "CN=gnp test CA",
      sans: [],
      key: "ECDSA P-256",
      ca: false,
      sha1: pki.good.sha1,
      sha256: pki.good.sha256,
      identity: "alice",
      admission: { checked: true, admitted: true, by: "trusted CA" },
    });
    const refused = await run("inspect", at("eve.crt"), "--ca", at("ca.crt"), "--json");
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).admission).toEqual({ checked: true, admitted: false, code: "CERT_UNKNOWN", reason: `unknown certificate CN=eve, SHA-1 ${pki.unknown.sha1}` });
    const ca = await run("inspect", at("ca.crt"), "--json");
    expect(JSON.parse(ca.stdout)).toMatchObject({ ca: true, admission: { checked: false } });
  });

  test("without --ca or --allow only describes, and a bad --allow is one line", async () => {
    const { tmp, at } = await files();
    await using _ = tmp;
    const result = await run("inspect", at("alice.crt"));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Admission   not checked (give --ca or --allow)\n");
    expectOneLineFailure(await run("inspect", at("alice.crt"), "--allow", "zz"), 1, /invalid thumbprint "zz"/);
  });
});
