// The `gnp certs` commands that grow a PKI past its first day, through runCerts with captured
// output: an intermediate CA and clients under it (whose files carry the chain a TLS client
// sends), a CSR signed for a key that stays with its owner, the server certificate renewed
// with the CA and clients kept, revocation into the CA's CRL, and `inspect` judging a whole
// chain file as a server would. What openssl verify says is the check of each file.
import { describe, expect, test } from "bun:test";
import { X509Certificate as NodeX509 } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { x509 } from "../../src/certs/x509.ts";
import { makeTempDir, OPENSSL } from "../support/pki.ts";
import { expectOneLineFailure, runCertsCaptured } from "./certs-run.ts";

const run = runCertsCaptured;
const oneLine = expectOneLineFailure;

/** `openssl verify -purpose sslclient` of a chain file's first certificate, its others as -untrusted. */
async function opensslVerifiesChain(dir: string, chainFile: string, extra: string[] = []): Promise<string> {
  const blocks = (await readFile(chainFile, "utf8")).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
  await writeFile(join(dir, "leaf.pem"), blocks[0]!);
  await writeFile(join(dir, "untrusted.pem"), blocks.slice(1).join("") || blocks[0]!);
  const verify = Bun.spawnSync([OPENSSL ?? "openssl", "verify", "-purpose", "sslclient", "-CAfile", join(dir, "ca.crt"), "-untrusted", join(dir, "untrusted.pem"), ...extra, join(dir, "leaf.pem")]);
  return `${verify.stdout}${verify.stderr}`.trim().split("\n").at(-1)!;
}

describe("gnp certs intermediate and client --issuer", () => {
  test("an intermediate CA under the root signs clients whose file carries the chain", async () => {
    await using tmp = await makeTempDir();
    await run("init", tmp.path);
    const made = await run("intermediate", "ops", "--dir", tmp.path, "--path-length", "0");
    expect([made.code, made.stderr]).toEqual([0, ""]);
    expect(made.stdout).toStartWith(`wrote ${join(tmp.path, "ops.crt")} and ${join(tmp.path, "ops.key")} (CN=ops, an intermediate CA under CN=gnp CA `);
    const ops = new x509.X509Certificate(await readFile(join(tmp.path, "ops.crt"), "utf8"));
    expect([ops.getExtension(x509.BasicConstraintsExtension)?.ca, ops.getExtension(x509.BasicConstraintsExtension)?.pathLength]).toEqual([true, 0]);

    const client = await run("client", "api", "--dir", tmp.path, "--issuer", "ops", "--san", "spiffe://acme.example/ns/prod/sa/api");
    expect(client.code).toBe(0);
    expect(client.stdout).toContain("(CN=api, issued by CN=ops, valid until ");
    const chain = await readFile(join(tmp.path, "api.crt"), "utf8");
    expect(chain.match(/BEGIN CERTIFICATE/g)?.length).toBe(2);
    if (OPENSSL) expect(await opensslVerifiesChain(tmp.path, join(tmp.path, "api.crt"))).toBe(`${join(tmp.path, "leaf.pem")}: OK`);

    const inspected = await run("inspect", join(tmp.path, "api.crt"), "--ca", join(tmp.path, "ca.crt"));
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toContain("Sent with   CN=ops\n");
    expect(inspected.stdout).toContain("SANs        URI:spiffe://acme.example/ns/prod/sa/api\n");
    expect(inspected.stdout).toContain("Admission   admitted by a trusted CA\n");
  });

  test("mistakes are one line: a reserved or unsafe name, a bad --path-length, an unknown --issuer", async () => {
    await using tmp = await makeTempDir();
    await run("init", tmp.path);
    oneLine(await run("intermediate", "ca", "--dir", tmp.path), 2, /invalid intermediate name "ca"/);
    oneLine(await run("intermediate", "ops", "--dir", tmp.path, "--path-length", "x"), 2, /invalid --path-length "x": expected a whole number from 0 to 16/);
    oneLine(await run("client", "api", "--dir", tmp.path, "--issuer", "nope"), 1, /cannot read .*nope\.crt: no such file \(run "gnp certs intermediate nope/);
  });
});

describe("gnp certs sign", () => {
  test("signs a CSR for client authentication with the SANs and lifetime of the flags, not the request's", async () => {
    await using tmp = await makeTempDir();
    await run("init", tmp.path);
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=bob, O=Acme",
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "asked-for.example" }])],
    });
    await writeFile(join(tmp.path, "bob.csr"), csr.toString("pem"));
    const signed = await run("sign", join(tmp.path, "bob.csr"), "--dir", tmp.path, "--days", "30", "--san", "bob@acme.example");
    expect([signed.code, signed.stderr]).toEqual([0, ""]);
    expect(signed.stdout).toStartWith(`wrote ${join(tmp.path, "bob.crt")} (CN=bob, O=Acme, bob@acme.example, client authentication, valid until `);
    const cert = new NodeX509(await readFile(join(tmp.path, "bob.crt")));
    expect([cert.subjectAltName, cert.publicKey.export({ format: "der", type: "spki" }).equals(Buffer.from(await crypto.subtle.exportKey("spki", keys.publicKey)))]).toEqual(["email:bob@acme.example", true]);
    expect(Math.round((Date.parse(cert.validTo) - Date.now()) / 86_400_000)).toBe(30);
    if (OPENSSL) expect(await opensslVerifiesChain(tmp.path, join(tmp.path, "bob.crt"))).toBe(`${join(tmp.path, "leaf.pem")}: OK`);
  });

  test("a request whose signature does not verify, or that is no request, is refused in one line", async () => {
    await using tmp = await makeTempDir();
    await run("init", tmp.path);
    await writeFile(join(tmp.path, "junk.csr"), "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
    oneLine(await run("sign", join(tmp.path, "junk.csr"), "--dir", tmp.path), 1, /^gnp certs sign: the request could not be parsed/);
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: "CN=eve", keys, signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } });
    const der = new Uint8Array(csr.rawData);
    der[der.length - 3]! ^= 0x55; // inside the signature
    await writeFile(join(tmp.path, "forged.csr"), der);
    oneLine(await run("sign", join(tmp.path, "forged.csr"), "--dir", tmp.path), 1, /^gnp certs sign: the request of CN=eve is not signed by the key it carries/);
  });
});

describe("gnp certs server", () => {
  test("renews the server certificate and key; the CA and the clients stay", async () => {
    await using tmp = await makeTempDir();
    await run("init", tmp.path, "--name", "gnp.internal");
    const before = await Promise.all(["ca.crt", "ca.key", "client.crt", "server.crt", "server.key"].map((name) => readFile(join(tmp.path, name), "utf8")));
    const renewed = await run("server", "--dir", tmp.path, "--name", "10.1.1.1");
    expect([renewed.code, renewed.stderr]).toEqual([0, ""]);
    expect(renewed.stdout).toStartWith(`wrote ${join(tmp.path, "server.crt")} and ${join(tmp.path, "server.key")} (localhost, 127.0.0.1, ::1, gnp.internal, 10.1.1.1, valid until `);
    const after = await Promise.all(["ca.crt", "ca.key", "client.crt", "server.crt", "server.key"].map((name) => readFile(join(tmp.path, name), "utf8")));
    expect(after.map((text, i) => text === before[i])).toEqual([true, true, true, false, false]);
    const cert = new NodeX509(after[3]!);
    expect(cert.checkPrivateKey((await import("node:crypto")).createPrivateKey(after[4]!))).toBe(true);
    expect(cert.verify(new NodeX509(after[0]!).publicKey)).toBe(true);
  });
});

describe("gnp certs revoke and crl", () => {
  test("revoke adds certificates to DIR/ca.crl, carrying it forward; crl signs it again; inspect --crl refuses the revoked one", async () => {
    await using tmp = await makeTempDir();
    await run("init", tmp.path);
    await run("client", "bob", "--dir", tmp.path);
    await run("client", "dan", "--dir", tmp.path);
    const crl = join(tmp.path, "ca.crl");
    const first = await run("revoke", join(tmp.path, "bob.crt"), "--dir", tmp.path);
    expect([first.code, first.stderr]).toEqual([0, ""]);
    expect(first.stdout).toMatch(new RegExp(`^revoked 1 certificate in ${crl} \\(CRL number 1 of CN=gnp CA .+, 1 revoked, next update \\S+Z\\)\\n$`));
    const again = await run("revoke", join(tmp.path, "bob.crt"), join(tmp.path, "dan.crt"), "--dir", tmp.path);
    expect(again.stdout).toMatch(/^revoked 1 certificate \(already revoked: 0x[0-9A-F]+\) in .* \(CRL number 2 of .*, 2 revoked, /);
    const resigned = await run("crl", "--dir", tmp.path, "--days", "30");
    expect(resigned.stdout).toMatch(/^signed .*ca\.crl \(CRL number 3 of .*, 2 revoked, next update \S+Z\)\n$/);

    const bob = await run("inspect", join(tmp.path, "bob.crt"), "--ca", join(tmp.path, "ca.crt"), "--crl", crl);
    expect(bob.code).toBe(1);
    expect(bob.stdout).toMatch(/Admission {3}refused \(CERT_REVOKED\): certificate CN=bob \(serial 0x[0-9A-F]+\) was revoked at \S+Z\n/);
    expect((await run("inspect", join(tmp.path, "client.crt"), "--ca", join(tmp.path, "ca.crt"), "--crl", crl)).code).toBe(0);
    if (OPENSSL) {
      const verify = Bun.spawnSync([OPENSSL, "verify", "-crl_check", "-CAfile", join(tmp.path, "ca.crt"), "-CRLfile", crl, join(tmp.path, "bob.crt")]);
      expect(`${verify.stdout}${verify.stderr}`).toContain("certificate revoked");
    }
  });

  test("a certificate of another CA, a missing CERT and a bad serial are one line", async () => {
    await using tmp = await makeTempDir();
    await using other = await makeTempDir();
    await run("init", tmp.path);
    await run("init", other.path);
    oneLine(await run("revoke", join(other.path, "client.crt"), "--dir", tmp.path), 1, /certificate CN=admin was not issued by CN=gnp CA .*: it cannot be revoked by this CA/);
    oneLine(await run("revoke", "--dir", tmp.path), 2, /missing CERT: give certificate files or --serial HEX/);
    oneLine(await run("revoke", "--dir", tmp.path, "--serial", "xyz"), 1, /invalid serial "xyz": expected 1 to 40 hex digits/);
  });
});
