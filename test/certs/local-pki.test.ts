// ensureLocalPki: the zero-config first run creates six files with safe modes,
// later runs reuse them untouched, and a half-present directory is an error.
import { describe, expect, test } from "bun:test";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ensureLocalPki, localPkiPaths } from "../../src/certs/local-pki.ts";
import { CertificateValidator } from "../../src/certs/validator.ts";
import { x509 } from "../../src/certs/x509.ts";
import { makeTempDir, OPENSSL, opensslVerify } from "../support/pki.ts";

async function mode(path: string): Promise<string> {
  return ((await stat(path)).mode & 0o777).toString(8);
}

describe("ensureLocalPki", () => {
  test("creates CA, server and admin client files, keys 0600 in a 0700 directory", async () => {
    await using tmp = await makeTempDir();
    const dir = join(tmp.path, "nested", "certs");
    const pki = await ensureLocalPki(dir, { names: ["gnp.internal", "10.1.2.3"] });
    expect(pki).toEqual({ created: true, ...localPkiPaths(dir) });
    expect(pki.caCert).toBe(join(dir, "ca.crt"));
    expect(await mode(dir)).toBe("700");
    const modes = await Promise.all([pki.caKey, pki.serverKey, pki.clientKey, pki.caCert].map(mode));
    expect(modes).toEqual(["600", "600", "600", "644"]);

    const server = new x509.X509Certificate(await readFile(pki.serverCert, "utf8"));
    const sans = server.getExtension(x509.SubjectAlternativeNameExtension)!.names.items.map((n) => n.value);
    expect(sans).toEqual(["localhost", "127.0.0.1", "::1", "gnp.internal", "10.1.2.3"]);
    expect(await readFile(pki.clientKey, "utf8")).toStartWith("-----BEGIN PRIVATE KEY-----");

    const validator = new CertificateValidator({ allow: [], trustedCas: [await readFile(pki.caCert, "utf8")] });
    const client = new x509.X509Certificate(await readFile(pki.clientCert, "utf8"));
    expect(validator.validate({ raw: new Uint8Array(client.rawData) })).toMatchObject({ ok: true, certificate: { identity: "admin" } });
  });

  test("reuses existing files on later calls without rewriting them", async () => {
    await using tmp = await makeTempDir();
    const first = await ensureLocalPki(tmp.path);
    const before = await readFile(first.caCert, "utf8");
    const second = await ensureLocalPki(tmp.path, { names: ["ignored.example"] });
    expect(second).toEqual({ ...first, created: false });
    expect(await readFile(second.caCert, "utf8")).toBe(before);
  });

  test("throws naming the missing files when only some exist", async () => {
    await using tmp = await makeTempDir();
    const pki = await ensureLocalPki(tmp.path);
    await rm(pki.clientCert);
    await rm(pki.clientKey);
    await expect(ensureLocalPki(tmp.path)).rejects.toThrow(
      `incomplete certificate directory ${tmp.path}: missing client.crt, client.key; restore them or remove the others`,
    );
  });

  test.skipIf(!OPENSSL)("writes chains that openssl verify accepts", async () => {
    await using tmp = await makeTempDir();
    const pki = await ensureLocalPki(tmp.path);
    expect(opensslVerify(pki.caCert, pki.serverCert, ["-purpose", "sslserver"]).output).toBe(`${pki.serverCert}: OK`);
    expect(opensslVerify(pki.caCert, pki.clientCert, ["-purpose", "sslclient"]).output).toBe(`${pki.clientCert}: OK`);
  });
});
