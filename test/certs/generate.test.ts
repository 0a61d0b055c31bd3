// Certificate generation: the extensions each kind carries, the key formats,
// the validity arguments, CA loading, and that openssl accepts the chains.
import { describe, expect, test } from "bun:test";
import { createPrivateKey, createPublicKey, X509Certificate as NodeX509 } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  loadCertificateAuthority,
  type IssuedCertificate,
} from "../../src/certs/generate.ts";
import { x509 } from "../../src/certs/x509.ts";
import { makeTempDir, makeTestPki, OPENSSL, opensslVerify } from "../support/pki.ts";

const DAY_MS = 86_400_000;

function sanTexts(cert: IssuedCertificate): string[] {
  const san = cert.certificate.getExtension(x509.SubjectAlternativeNameExtension);
  return san ? san.names.items.map((n) => `${n.type}:${n.value}`) : [];
}

function ekus(cert: IssuedCertificate): unknown[] {
  return cert.certificate.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [];
}

// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serialNumber INTEGER, ...
function serialInteger(der: Uint8Array): Uint8Array {
  const skipHeader = (at: number): number => {
    const length = der[at + 1]!;
    return at + 2 + (length & 0x80 ? length & 0x7f : 0);
  };
  let at = skipHeader(skipHeader(0)); // into Certificate, into TBSCertificate
  if (der[at] === 0xa0) at += 2 + der[at + 1]!; // explicit version
  expect(der[at]).toBe(0x02);
  return der.subarray(at + 2, at + 2 + der[at + 1]!);
}

async function signedBy(cert: IssuedCertificate, ca: IssuedCertificate): Promise<boolean> {
  return cert.certificate.verify({ publicKey: ca.certificate.publicKey, signatureOnly: true });
}

describe("createCertificateAuthority", () => {
  test("makes a self-signed CA with critical basicConstraints cA, keyCertSign + cRLSign and a key identifier", async () => {
    const { ca } = await makeTestPki();
    const constraints = ca.certificate.getExtension(x509.BasicConstraintsExtension)!;
    const usage = ca.certificate.getExtension(x509.KeyUsagesExtension)!;
    expect({ ca: constraints.ca, critical: constraints.critical }).toEqual({ ca: true, critical: true });
    expect(usage.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(await ca.certificate.isSelfSigned()).toBe(true);
    expect(ca.commonName).toBe("gnp test CA");
    expect(ca.certificate.subject).toBe("CN=gnp test CA");
  });

  test("makes an intermediate CA signed by its issuer when given one", async () => {
    const { ca } = await makeTestPki();
    const intermediate = await createCertificateAuthority({ commonName: "gnp intermediate", issuer: ca });
    expect(intermediate.certificate.issuer).toBe(ca.certificate.subject);
    expect(await signedBy(intermediate, ca)).toBe(true);
    expect(intermediate.certificate.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
  });
});

describe("issueServerCertificate", () => {
  test("writes DNS and IP names as SANs, serverAuth, digitalSignature, and the CA's key identifier", async () => {
    const { ca } = await makeTestPki();
    const server = await issueServerCertificate(ca, { names: ["localhost", "127.0.0.1", "::1", "gnp.internal"] });
    expect(sanTexts(server)).toEqual(["dns:localhost", "ip:127.0.0.1", "ip:::1", "dns:gnp.internal"]);
    expect(ekus(server)).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    expect(server.certificate.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(server.certificate.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(server.certificate.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId,
    );
    expect(server.commonName).toBe("localhost");
    expect(server.certificate.issuer).toBe(ca.certificate.subject);
    expect(await signedBy(server, ca)).toBe(true);
  });

  test("throws RangeError without any name", async () => {
    const { ca } = await makeTestPki();
    await expect(issueServerCertificate(ca, { names: [] })).rejects.toThrow(RangeError);
  });
});

describe("issueClientCertificate", () => {
  test("carries the CN, clientAuth, and SANs typed by their form", async () => {
    const { ca, good } = await makeTestPki();
    expect(good.commonName).toBe("alice");
    expect(ekus(good)).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    expect(await signedBy(good, ca)).toBe(true);
    const withSans = await issueClientCertificate(ca, {
      commonName: "svc",
      sans: ["svc.internal", "10.0.0.1", "ops@example.test", "spiffe://gnp/svc"],
    });
    expect(sanTexts(withSans)).toEqual([
      "dns:svc.internal",
      "ip:10.0.0.1",
      "email:ops@example.test",
      "url:spiffe://gnp/svc",
    ]);
  });

  test("uses the given notBefore and notAfter, to the second", async () => {
    const { ca } = await makeTestPki();
    const notBefore = new Date("2030-01-02T03:04:05.678Z");
    const notAfter = new Date("2031-01-02T03:04:05.000Z");
    const cert = await issueClientCertificate(ca, { commonName: "later", notBefore, notAfter });
    expect([cert.notBefore.toISOString(), cert.notAfter.toISOString()]).toEqual([
      "2030-01-02T03:04:05.000Z",
      "2031-01-02T03:04:05.000Z",
    ]);
  });

  test("counts days from now and starts a few minutes early for clock skew", async () => {
    const { ca } = await makeTestPki();
    const before = Date.now();
    const cert = await issueClientCertificate(ca, { commonName: "thirty", days: 30 });
    expect(cert.notBefore.getTime()).toBeLessThan(before);
    expect(cert.notBefore.getTime()).toBeGreaterThan(before - 10 * 60_000);
    expect(Math.abs(cert.notAfter.getTime() - (before + 30 * DAY_MS))).toBeLessThan(5_000);
  });

  test("throws RangeError on bad days, reversed dates or an empty CN", async () => {
    const { ca } = await makeTestPki();
    await expect(issueClientCertificate(ca, { commonName: "x", days: 0 })).rejects.toThrow(RangeError);
    await expect(issueClientCertificate(ca, { commonName: "x", days: 1.5 })).rejects.toThrow(RangeError);
    const now = Date.now();
    await expect(
      issueClientCertificate(ca, { commonName: "x", notBefore: new Date(now), notAfter: new Date(now - 1) }),
    ).rejects.toThrow("notAfter must be after notBefore");
    await expect(issueClientCertificate(ca, { commonName: "" })).rejects.toThrow('invalid commonName ""');
  });
});

describe("createSelfSignedCertificate", () => {
  test("is its own issuer and not a CA", async () => {
    const { selfSignedAllowed } = await makeTestPki();
    expect(await selfSignedAllowed.certificate.isSelfSigned()).toBe(true);
    expect(selfSignedAllowed.certificate.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(ekus(selfSignedAllowed)).toEqual([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]);
  });
});

describe("key and certificate encodings", () => {
  test("privateKeyPem is PKCS#8 and belongs to the certificate", async () => {
    const { good } = await makeTestPki();
    expect(good.privateKeyPem).toStartWith("-----BEGIN PRIVATE KEY-----\n");
    expect(good.privateKeyPem).toEndWith("-----END PRIVATE KEY-----\n");
    expect(good.certificatePem).toStartWith("-----BEGIN CERTIFICATE-----\n");
    const spki = createPublicKey(createPrivateKey(good.privateKeyPem)).export({ type: "spki", format: "der" });
    expect(new Uint8Array(spki)).toEqual(new Uint8Array(good.certificate.publicKey.rawData));
    expect(new NodeX509(good.certificatePem).raw).toEqual(Buffer.from(good.der));
  });

  test("serial numbers are random and positive", async () => {
    const { good, expired, notYetValid } = await makeTestPki();
    const serials = [good, expired, notYetValid].map((c) => c.certificate.serialNumber);
    expect(new Set(serials).size).toBe(3);
    for (const cert of [good, expired, notYetValid]) {
      // The DER INTEGER itself: a set top bit would make it negative.
      const serial = serialInteger(cert.der);
      expect(serial.length).toBeGreaterThanOrEqual(15);
      expect(serial[0]!).toBeLessThan(0x80);
    }
  });

  test("algorithm rsa makes RSA-2048 keys", async () => {
    const ca = await createCertificateAuthority({ commonName: "rsa CA", algorithm: "rsa" });
    const client = await issueClientCertificate(ca, { commonName: "rsa-client", algorithm: "rsa" });
    const key = new NodeX509(client.der).publicKey;
    expect([key.asymmetricKeyType, key.asymmetricKeyDetails?.modulusLength]).toEqual(["rsa", 2048]);
    expect([ca.algorithm, client.algorithm]).toEqual(["rsa", "rsa"]);
    expect(await signedBy(client, ca)).toBe(true);
  });
});

describe("loadCertificateAuthority", () => {
  test("loads a CA written as PEM so that it signs certificates the original verifies", async () => {
    const { ca } = await makeTestPki();
    const loaded = await loadCertificateAuthority(ca.certificatePem, ca.privateKeyPem);
    expect([loaded.sha256, loaded.commonName, loaded.algorithm]).toEqual([ca.sha256, "gnp test CA", "ecdsa"]);
    const issued = await issueClientCertificate(loaded, { commonName: "again" });
    expect(await signedBy(issued, ca)).toBe(true);
  });

  test("throws when the certificate is not a CA or the key belongs to another certificate", async () => {
    const { ca, good, otherCa } = await makeTestPki();
    await expect(loadCertificateAuthority(good.certificatePem, good.privateKeyPem)).rejects.toThrow(
      "certificate CN=alice is not a CA: basicConstraints cA is not set",
    );
    await expect(loadCertificateAuthority(ca.certificatePem, otherCa.privateKeyPem)).rejects.toThrow(
      "CA private key is unusable: it does not belong to the CA certificate CN=gnp test CA",
    );
    await expect(loadCertificateAuthority("not a certificate", ca.privateKeyPem)).rejects.toThrow(
      "CA certificate could not be parsed",
    );
  });

  test.skipIf(!OPENSSL)("loads an openssl-made CA whose key is SEC1 (BEGIN EC PRIVATE KEY)", async () => {
    await using dir = await makeTempDir();
    const key = join(dir.path, "ca.key");
    const crt = join(dir.path, "ca.crt");
    const gen = Bun.spawnSync([OPENSSL!, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
    expect(gen.exitCode).toBe(0);
    const req = Bun.spawnSync([
      OPENSSL!, "req", "-x509", "-new", "-key", key, "-subj", "/CN=openssl CA", "-days", "2", "-out", crt,
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    expect(req.exitCode).toBe(0);
    const keyPem = await readFile(key, "utf8");
    expect(keyPem).toContain("BEGIN EC PRIVATE KEY");
    const loaded = await loadCertificateAuthority(await readFile(crt, "utf8"), keyPem);
    const issued = await issueClientCertificate(loaded, { commonName: "from-openssl-ca" });
    await writeFile(join(dir.path, "client.crt"), issued.certificatePem);
    expect(opensslVerify(crt, join(dir.path, "client.crt")).code).toBe(0);
  });
});

describe.skipIf(!OPENSSL)("openssl verify", () => {
  test("accepts the server and client chains, ECDSA and RSA, for their purposes", async () => {
    await using dir = await makeTempDir();
    const { ca, server, good } = await makeTestPki();
    const rsaCa = await createCertificateAuthority({ commonName: "rsa CA", algorithm: "rsa" });
    const rsaClient = await issueClientCertificate(rsaCa, { commonName: "rsa-client", algorithm: "rsa" });
    const files: Record<string, IssuedCertificate> = { ca, server, good, rsaCa, rsaClient };
    for (const [name, cert] of Object.entries(files)) await writeFile(join(dir.path, `${name}.crt`), cert.certificatePem);
    const at = (name: string) => join(dir.path, `${name}.crt`);
    const results = [
      opensslVerify(at("ca"), at("server"), ["-purpose", "sslserver"]).output,
      opensslVerify(at("ca"), at("good"), ["-purpose", "sslclient"]).output,
      opensslVerify(at("rsaCa"), at("rsaClient"), ["-purpose", "sslclient"]).output,
    ];
    expect(results).toEqual([`${at("server")}: OK`, `${at("good")}: OK`, `${at("rsaClient")}: OK`]);
  });

  test("rejects a client certificate signed by another CA and a server certificate used as a client", async () => {
    await using dir = await makeTempDir();
    const { ca, server, signedByOtherCa } = await makeTestPki();
    await writeFile(join(dir.path, "ca.crt"), ca.certificatePem);
    await writeFile(join(dir.path, "mallory.crt"), signedByOtherCa.certificatePem);
    await writeFile(join(dir.path, "server.crt"), server.certificatePem);
    expect(opensslVerify(join(dir.path, "ca.crt"), join(dir.path, "mallory.crt")).code).not.toBe(0);
    const asClient = opensslVerify(join(dir.path, "ca.crt"), join(dir.path, "server.crt"), ["-purpose", "sslclient"]);
    expect(asClient.code).not.toBe(0);
  });
});
