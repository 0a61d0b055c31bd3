// CertificateValidator against PROTOCOL.md section 1: every rule, every reason
// text, chains through intermediates, forged issuers, and the cache (which
// must never make an expired certificate pass).
import { describe, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import {
  createCertificateAuthority,
  issueClientCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
} from "../../src/certs/generate.ts";
import { formatThumbprint } from "../../src/certs/thumbprint.ts";
import { CertificateValidator, formatInstant, type Admission, type PeerCertificate } from "../../src/certs/validator.ts";
import { x509 } from "../../src/certs/x509.ts";
import { makeTestPki } from "../support/pki.ts";
import type * as X509 from "@peculiar/x509";

const DAY_MS = 86_400_000;

// What Bun's socket.getPeerCertificate() carries for a certificate.
function peer(cert: { der: Uint8Array; sha1: string; sha256: string }): PeerCertificate {
  return { raw: Buffer.from(cert.der), fingerprint: formatThumbprint(cert.sha1), fingerprint256: formatThumbprint(cert.sha256) };
}

async function trustingTestCa(extra: Partial<{ allow: string[]; cacheSize: number }> = {}) {
  const pki = await makeTestPki();
  return { pki, validator: new CertificateValidator({ allow: extra.allow ?? [], trustedCas: [pki.ca.certificatePem] }, { cacheSize: extra.cacheSize }) };
}

// A certificate built by hand, for shapes the generators refuse to make.
async function handMade(options: {
  subject: X509.JsonName | string;
  issuerName: X509.Name | string;
  signer: CryptoKey;
  extensions?: X509.Extension[];
}): Promise<{ der: Uint8Array; sha1: string; sha256: string }> {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    subject: options.subject,
    issuer: options.issuerName,
    publicKey: keys.publicKey,
    signingKey: options.signer,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + DAY_MS),
    extensions: options.extensions ?? [],
  });
  const der = new Uint8Array(cert.rawData);
  const digest = (name: string) => createHash(name).update(der).digest("hex").toUpperCase();
  return { der, sha1: digest("sha1"), sha256: digest("sha256") };
}

describe("CertificateValidator rule 1: a certificate was presented", () => {
  test("refuses undefined, null and {} (Bun gives undefined when the client sent none) with CERT_MISSING", async () => {
    const { validator } = await trustingTestCa();
    const expected: Admission = { ok: false, code: "CERT_MISSING", reason: "no client certificate was presented" };
    expect([validator.validate(undefined), validator.validate(null), validator.validate({})]).toEqual([
      expected,
      expected,
      expected,
    ]);
  });
});

describe("CertificateValidator rule 2: now is within notBefore .. notAfter", () => {
  test("refuses an expired certificate, naming it and its notAfter without milliseconds", async () => {
    const { pki, validator } = await trustingTestCa();
    const iso = pki.expired.notAfter.toISOString().replace(".000Z", "Z");
    expect(validator.validate(peer(pki.expired))).toEqual({
      ok: false,
      code: "CERT_EXPIRED",
      reason: `certificate CN=alice-old expired at ${iso}`,
    });
  });

  test("refuses a certificate that is not valid yet, naming its notBefore", async () => {
    const { pki, validator } = await trustingTestCa();
    expect(validator.validate(peer(pki.notYetValid))).toEqual({
      ok: false,
      code: "CERT_NOT_YET_VALID",
      reason: `certificate CN=bob is not valid before ${formatInstant(pki.notYetValid.notBefore)}`,
    });
  });

  test("uses the given now and accepts both ends of the validity period", async () => {
    const { pki, validator } = await trustingTestCa();
    const { notBefore, notAfter } = pki.good;
    expect(validator.validate(peer(pki.good), notBefore.getTime()).ok).toBe(true);
    expect(validator.validate(peer(pki.good), notAfter.getTime()).ok).toBe(true);
    expect(validator.validate(peer(pki.good), notAfter.getTime() + 1000)).toMatchObject({ code: "CERT_EXPIRED" });
    expect(validator.validate(peer(pki.good), notBefore.getTime() - 1000)).toMatchObject({ code: "CERT_NOT_YET_VALID" });
  });

  test("formatInstant drops the milliseconds", () => {
    expect(formatInstant(new Date("2026-01-31T00:00:00.999Z"))).toBe("2026-01-31T00:00:00Z");
  });
});

describe("CertificateValidator rule 3: allow-list or trusted CA", () => {
  test("admits a certificate signed by the trusted CA, with its identity and facts", async () => {
    const { pki, validator } = await trustingTestCa();
    expect(validator.validate(peer(pki.good))).toEqual({
      ok: true,
      certificate: {
        identity: "alice",
        subject: "CN=alice",
        commonName: "alice",
        sans: [],
        altNames: { dns: [], email: [], uri: [], ip: [] },
        spiffeId: undefined,
        spki: createHash("sha256").update(new X509Certificate(pki.good.certificatePem).publicKey.export({ type: "spki", format: "der" })).digest("hex").toUpperCase(),
        sha1: pki.good.sha1,
        sha256: pki.good.sha256,
        notBefore: pki.good.notBefore,
        notAfter: pki.good.notAfter,
        viaCa: true,
        trustedCa: "CN=gnp test CA",
      },
    });
  });

  test("admits a self-signed certificate whose thumbprint is allowed, in any accepted format", async () => {
    const pki = await makeTestPki();
    const bySha1 = new CertificateValidator({ allow: [formatThumbprint(pki.selfSignedAllowed.sha1).toLowerCase()], trustedCas: [] });
    const bySha256 = new CertificateValidator({ allow: [pki.selfSignedAllowed.sha256.toLowerCase()], trustedCas: [] });
    for (const validator of [bySha1, bySha256]) {
      expect(validator.validate(peer(pki.selfSignedAllowed))).toMatchObject({ ok: true, certificate: { identity: "carol", viaCa: false } });
    }
  });

  test("refuses an unknown certificate with its CN and full SHA-1 thumbprint", async () => {
    const { pki, validator } = await trustingTestCa({ allow: [] });
    expect(validator.validate(peer(pki.unknown))).toEqual({
      ok: false,
      code: "CERT_UNKNOWN",
      reason: `unknown certificate CN=eve, SHA-1 ${pki.unknown.sha1}`,
    });
    expect(pki.unknown.sha1).toMatch(/^[0-9A-F]{40}$/);
  });

  test("refuses a certificate signed by a CA that is not trusted", async () => {
    const { pki, validator } = await trustingTestCa();
    expect(validator.validate(peer(pki.signedByOtherCa))).toEqual({
      ok: false,
      code: "CERT_UNKNOWN",
      reason: `unknown certificate CN=mallory, SHA-1 ${pki.signedByOtherCa.sha1}`,
    });
  });

  test("refuses a certificate that claims the trusted CA as issuer but was signed by another key", async () => {
    const { pki, validator } = await trustingTestCa();
    const caKeyId = pki.ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    const forged = await handMade({
      subject: [{ CN: ["forged"] }],
      issuerName: pki.ca.certificate.subjectName,
      signer: pki.otherCa.keys.privateKey,
      extensions: [new x509.AuthorityKeyIdentifierExtension(caKeyId)],
    });
    expect(validator.validate(peer(forged))).toMatchObject({ ok: false, code: "CERT_UNKNOWN" });
    // The same shape signed with the real key passes: the signature is what failed.
    const genuine = await handMade({
      subject: [{ CN: ["genuine"] }],
      issuerName: pki.ca.certificate.subjectName,
      signer: pki.ca.keys.privateKey,
      extensions: [new x509.AuthorityKeyIdentifierExtension(caKeyId)],
    });
    expect(validator.validate(peer(genuine))).toMatchObject({ ok: true, certificate: { identity: "genuine", viaCa: true } });
  });

  test("refuses everything when neither allow-list nor CAs are configured", async () => {
    const pki = await makeTestPki();
    const validator = new CertificateValidator({ allow: [], trustedCas: [] });
    expect(validator.validate(peer(pki.good))).toMatchObject({ ok: false, code: "CERT_UNKNOWN" });
  });
});

describe("CertificateValidator chains", () => {
  async function threeLevels(rootOptions: { notAfter?: Date; notBefore?: Date } = {}) {
    const root = await createCertificateAuthority({ commonName: "chain root", ...rootOptions });
    const intermediate = await createCertificateAuthority({ commonName: "chain intermediate", issuer: root });
    const leaf = await issueClientCertificate(intermediate, { commonName: "dave" });
    return { root, intermediate, leaf };
  }

  test("admits a leaf under an intermediate when root and intermediate are trusted, in one PEM text", async () => {
    const { root, intermediate, leaf } = await threeLevels();
    const bundle = intermediate.certificatePem + root.certificatePem;
    const validator = new CertificateValidator({ allow: [], trustedCas: [bundle] });
    expect(validator.validate(peer(leaf))).toMatchObject({ ok: true, certificate: { identity: "dave", viaCa: true } });
  });

  test("admits a leaf when only its intermediate is trusted, and refuses it when only the root is", async () => {
    const { root, intermediate, leaf } = await threeLevels();
    const onlyIntermediate = new CertificateValidator({ allow: [], trustedCas: [intermediate.certificatePem] });
    const onlyRoot = new CertificateValidator({ allow: [], trustedCas: [root.certificatePem] });
    expect(onlyIntermediate.validate(peer(leaf)).ok).toBe(true);
    expect(onlyRoot.validate(peer(leaf))).toMatchObject({ ok: false, code: "CERT_UNKNOWN" });
  });

  test("refuses a leaf whose trusted root has expired, naming the CA", async () => {
    const now = Date.now();
    const { root, intermediate, leaf } = await threeLevels({
      notBefore: new Date(now - 10 * DAY_MS),
      notAfter: new Date(now - DAY_MS),
    });
    const validator = new CertificateValidator({ allow: [], trustedCas: [root.certificatePem, intermediate.certificatePem] });
    expect(validator.validate(peer(leaf))).toEqual({
      ok: false,
      code: "CERT_UNKNOWN",
      reason: `unknown certificate CN=dave, SHA-1 ${leaf.sha1}: issuer CN=chain root expired at ${formatInstant(root.notAfter)}`,
    });
  });

  test("refuses a leaf whose CA is not valid yet, naming the CA", async () => {
    const ca = await createCertificateAuthority({
      commonName: "future CA",
      notBefore: new Date(Date.now() + DAY_MS),
      notAfter: new Date(Date.now() + 9 * DAY_MS),
    });
    const leaf = await issueClientCertificate(ca, { commonName: "early" });
    const validator = new CertificateValidator({ allow: [], trustedCas: [ca.certificatePem] });
    expect(validator.validate(peer(leaf))).toMatchObject({
      code: "CERT_UNKNOWN",
      reason: `unknown certificate CN=early, SHA-1 ${leaf.sha1}: issuer CN=future CA is not valid before ${formatInstant(ca.notBefore)}`,
    });
  });

  test("picks the CA whose key signed the leaf when two trusted CAs share a name", async () => {
    const first = await createCertificateAuthority({ commonName: "twin" });
    const second = await createCertificateAuthority({ commonName: "twin" });
    const leaf = await issueClientCertificate(second, { commonName: "twin-child" });
    const validator = new CertificateValidator({ allow: [], trustedCas: [first.certificatePem, second.certificatePem] });
    expect(validator.validate(peer(leaf)).ok).toBe(true);
  });
});

describe("CertificateValidator identity and names", () => {
  test("uses the first SAN without a CN, and names the certificate by it in reasons", async () => {
    const { pki, validator } = await trustingTestCa();
    const sanOnly = await handMade({
      subject: [{ O: ["acme"] }],
      issuerName: pki.ca.certificate.subjectName,
      signer: pki.ca.keys.privateKey,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: "url", value: "spiffe://gnp/worker" }, { type: "dns", value: "w.test" }])],
    });
    expect(validator.validate(peer(sanOnly))).toMatchObject({
      ok: true,
      certificate: {
        identity: "spiffe://gnp/worker",
        commonName: undefined,
        subject: "O=acme",
        sans: ["spiffe://gnp/worker", "w.test"],
      },
    });
    expect(validator.validate(peer(sanOnly), Date.now() + 2 * DAY_MS)).toMatchObject({
      reason: expect.stringMatching(/^certificate spiffe:\/\/gnp\/worker expired at /),
    });
  });

  test("uses the SHA-256 thumbprint without a CN or SAN", async () => {
    const { pki, validator } = await trustingTestCa();
    const anonymous = await handMade({ subject: [{ O: ["acme"] }], issuerName: pki.ca.certificate.subjectName, signer: pki.ca.keys.privateKey });
    expect(validator.validate(peer(anonymous))).toMatchObject({ ok: true, certificate: { identity: anonymous.sha256 } });
  });

  test("escapes control characters of a CN in reasons, which travel as one wire line", async () => {
    const { validator } = await trustingTestCa();
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const sneaky = await handMade({ subject: [{ CN: ["a\r\nOK"] }], issuerName: "CN=nobody", signer: keys.privateKey });
    expect(validator.validate(peer(sneaky))).toMatchObject({
      code: "CERT_UNKNOWN",
      reason: `unknown certificate CN=a\\x0d\\x0aOK, SHA-1 ${sneaky.sha1}`,
    });
  });
});

describe("CertificateValidator unparseable input", () => {
  test("refuses bytes that are not a certificate with CERT_INVALID and the parser's detail", async () => {
    const { validator } = await trustingTestCa();
    const truncated = validator.validate({ raw: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]) });
    expect(truncated).toMatchObject({ ok: false, code: "CERT_INVALID" });
    expect(truncated.ok ? "" : truncated.reason).toStartWith("certificate could not be parsed: ");
    expect(validator.validate({ raw: new TextEncoder().encode("3082") })).toEqual({
      ok: false,
      code: "CERT_INVALID",
      reason: "certificate could not be parsed: not a DER SEQUENCE",
    });
  });
});

describe("CertificateValidator configuration", () => {
  test("throws RangeError for a bad thumbprint, a PEM without certificate, a non-CA or a bad cacheSize", async () => {
    const pki = await makeTestPki();
    expect(() => new CertificateValidator({ allow: ["zz"], trustedCas: [] })).toThrow(
      'invalid thumbprint "zz": expected 40 (SHA-1) or 64 (SHA-256) hex digits',
    );
    expect(() => new CertificateValidator({ allow: [], trustedCas: [pki.ca.privateKeyPem] })).toThrow(RangeError);
    expect(() => new CertificateValidator({ allow: [], trustedCas: [pki.good.certificatePem] })).toThrow(
      "invalid trusted CA CN=alice: basicConstraints cA is false",
    );
    expect(() => new CertificateValidator({ allow: [], trustedCas: [] }, { cacheSize: -1 })).toThrow(RangeError);
  });
});

describe("CertificateValidator cache", () => {
  test("a second validation of the same certificate is a cache hit", async () => {
    const { pki, validator } = await trustingTestCa();
    validator.validate(peer(pki.good));
    validator.validate(peer(pki.good));
    validator.validate({ raw: pki.good.der }); // no fingerprint: hashed, same key
    expect(validator.cacheStats).toEqual({ hits: 2, misses: 1, size: 1 });
  });

  test("a cache hit still refuses the certificate once now passes its notAfter", async () => {
    const { pki, validator } = await trustingTestCa();
    expect(validator.validate(peer(pki.good)).ok).toBe(true);
    const later = pki.good.notAfter.getTime() + 1000;
    expect(validator.validate(peer(pki.good), later)).toEqual({
      ok: false,
      code: "CERT_EXPIRED",
      reason: `certificate CN=alice expired at ${formatInstant(pki.good.notAfter)}`,
    });
    expect(validator.cacheStats).toMatchObject({ hits: 1, misses: 1 });
  });

  test("a cache hit still refuses once the CA expires", async () => {
    const { pki, validator } = await trustingTestCa();
    const ca: CertificateAuthority = pki.ca;
    const leaf: IssuedCertificate = await issueClientCertificate(ca, {
      commonName: "outlives-ca",
      notAfter: new Date(ca.notAfter.getTime() + 10 * DAY_MS),
    });
    expect(validator.validate(peer(leaf)).ok).toBe(true);
    expect(validator.validate(peer(leaf), ca.notAfter.getTime() + DAY_MS)).toMatchObject({ code: "CERT_UNKNOWN" });
    expect(validator.cacheStats.hits).toBe(1);
  });

  test("holds at most cacheSize entries, dropping the oldest first", async () => {
    const { pki, validator } = await trustingTestCa({ cacheSize: 2 });
    validator.validate(peer(pki.good));
    validator.validate(peer(pki.unknown));
    validator.validate(peer(pki.expired));
    expect(validator.cacheStats).toEqual({ hits: 0, misses: 3, size: 2 });
    validator.validate(peer(pki.expired)); // still cached
    validator.validate(peer(pki.good)); // evicted: parsed again
    expect(validator.cacheStats).toEqual({ hits: 1, misses: 4, size: 2 });
  });

  test("cacheSize 0 caches nothing", async () => {
    const { pki, validator } = await trustingTestCa({ cacheSize: 0 });
    validator.validate(peer(pki.good));
    validator.validate(peer(pki.good));
    expect(validator.cacheStats).toEqual({ hits: 0, misses: 2, size: 0 });
  });
});
