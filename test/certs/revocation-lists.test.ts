// CRLs given to the validator (issue 11 section 2): loaded once and checked against the
// trusted CAs (PEM or DER, signature, cRLSign, critical extensions), then a revoked leaf or
// intermediate is refused with its serial and date, and a stale CRL refuses its CA's clients
// unless allowStaleCrls serves them on with a warning; the clock is read at every use.
import { describe, expect, test } from "bun:test";
import { CertificateValidator, formatInstant } from "../../src/certs/validator.ts";
import { x509 } from "../../src/certs/x509.ts";
import { forgeCa, forgeCrl, forgeLeaf, type Forged, sent } from "../support/chains.ts";

const DAY_MS = 86_400_000;

const root = await forgeCa("Acme Root");
const issuing = await forgeCa("Acme Issuing CA", root);
const bob = await forgeLeaf("bob", issuing);
const carol = await forgeLeaf("carol", issuing);
const direct = await forgeLeaf("dora", root);
// The intermediate is configured beside the root so that its CRL can be checked when loaded.
const trusted = [root.pem, issuing.pem];

describe("loading CRLs", () => {
  test("PEM text and DER bytes both load; an empty list and none at all are the same", async () => {
    const crl = await forgeCrl(issuing, { revoked: [{ serial: bob.serial }] });
    for (const crls of [[crl.pem], [crl.der]]) {
      expect(new CertificateValidator({ allow: [], trustedCas: trusted, crls }).validate(sent(bob, issuing))).toMatchObject({ code: "CERT_REVOKED" });
    }
    expect(new CertificateValidator({ allow: [], trustedCas: trusted, crls: [] }).validate(sent(bob, issuing)).ok).toBe(true);
  });

  test("a malformed CRL, or one no trusted CA signed, is one RangeError naming it", async () => {
    const stranger = await forgeCa("Acme Issuing CA");
    const forged = await forgeCrl(stranger);
    const load = (crls: (string | Uint8Array)[]) => () => new CertificateValidator({ allow: [], trustedCas: trusted, crls });
    expect(load(["-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"])).toThrow(/^invalid CRL: it could not be parsed: /);
    expect(load(["hello"])).toThrow('invalid CRL: no "-----BEGIN X509 CRL-----" block found and not DER');
    expect(load([forged.pem])).toThrow("invalid CRL from CN=Acme Issuing CA: it is not signed by a trusted CA of that name");
    expect(load([(await forgeCrl(await forgeCa("elsewhere"))).der])).toThrow("invalid CRL from CN=elsewhere: it is not signed by a trusted CA of that name");
  });

  test("a CRL with a critical extension gnp does not process (a delta CRL) is refused", async () => {
    const delta = await forgeCrl(issuing, { extensions: [new x509.Extension("2.5.29.27", true, new Uint8Array([0x02, 0x01, 0x01]))] });
    expect(() => new CertificateValidator({ allow: [], trustedCas: trusted, crls: [delta.pem] })).toThrow(
      "invalid CRL from CN=Acme Issuing CA: it has a critical extension gnp does not process, 2.5.29.27",
    );
  });

  test("a CRL signed by a CA whose keyUsage lacks cRLSign is refused", async () => {
    const signOnly = await forgeCa("sign only", undefined, { keyUsage: x509.KeyUsageFlags.keyCertSign });
    const crl = await forgeCrl(signOnly);
    expect(() => new CertificateValidator({ allow: [], trustedCas: [signOnly.pem], crls: [crl.pem] })).toThrow(
      "invalid CRL from CN=sign only: the CA's keyUsage lacks cRLSign",
    );
  });

  test("of two CRLs from one CA, the newer one is used", async () => {
    const older = await forgeCrl(issuing, { thisUpdate: new Date(Date.now() - 2 * DAY_MS), revoked: [{ serial: bob.serial }] });
    const newer = await forgeCrl(issuing, { thisUpdate: new Date(Date.now() - DAY_MS), revoked: [{ serial: carol.serial }] });
    const validator = new CertificateValidator({ allow: [], trustedCas: trusted, crls: [newer.pem, older.pem] });
    expect([validator.validate(sent(bob, issuing)).ok, validator.validate(sent(carol, issuing)).ok]).toEqual([true, false]);
  });
});

describe("revocation", () => {
  test("a revoked leaf is refused with its serial and the date of revocation", async () => {
    const at = new Date(Date.now() - 3_600_000);
    const crl = await forgeCrl(issuing, { revoked: [{ serial: bob.serial, at }] });
    const validator = new CertificateValidator({ allow: [], trustedCas: trusted, crls: [crl.pem] });
    expect(validator.validate(sent(bob, issuing))).toEqual({
      ok: false,
      code: "CERT_REVOKED",
      reason: `certificate CN=bob (serial 0x${bob.serial}) was revoked at ${formatInstant(at)}`,
    });
    expect(validator.validate(sent(carol, issuing)).ok).toBe(true);
  });

  test("a revoked intermediate refuses every client under it, naming the intermediate", async () => {
    const crl = await forgeCrl(root, { revoked: [{ serial: issuing.serial }] });
    const validator = new CertificateValidator({ allow: [], trustedCas: [root.pem], crls: [crl.pem] });
    expect(validator.validate(sent(carol, issuing))).toMatchObject({
      code: "CERT_REVOKED",
      reason: expect.stringMatching(new RegExp(`^intermediate CN=Acme Issuing CA \\(serial 0x${issuing.serial}\\) was revoked at `)),
    });
    expect(validator.validate(sent(direct)).ok).toBe(true);
  });

  test("an allow-listed thumbprint is not checked against CRLs: it names one certificate on purpose", async () => {
    const crl = await forgeCrl(issuing, { revoked: [{ serial: bob.serial }] });
    const validator = new CertificateValidator({ allow: [bob.sha256], trustedCas: trusted, crls: [crl.pem] });
    expect(validator.validate(sent(bob, issuing))).toMatchObject({ ok: true, certificate: { viaCa: false } });
  });
});

describe("stale CRLs", () => {
  test("past its nextUpdate, a CRL refuses its CA's clients, and only those, read at every use", async () => {
    const nextUpdate = new Date(Math.floor(Date.now() / 1000 + 86_400) * 1000);
    const crl = await forgeCrl(issuing, { nextUpdate });
    const validator = new CertificateValidator({ allow: [], trustedCas: trusted, crls: [crl.pem] });
    expect(validator.validate(sent(carol, issuing)).ok).toBe(true);
    const later = nextUpdate.getTime() + 1000;
    expect(validator.validate(sent(carol, issuing), later)).toEqual({
      ok: false,
      code: "CRL_STALE",
      reason: `certificate CN=carol cannot be checked for revocation: the CRL of CN=Acme Issuing CA is stale (its nextUpdate was ${formatInstant(nextUpdate)})`,
    });
    expect(validator.validate(sent(direct), later).ok).toBe(true);
    expect(validator.cacheStats.hits).toBe(1);
    expect(validator.crlStatus(later)).toEqual([{ issuer: "CN=Acme Issuing CA", thisUpdate: expect.any(Date), nextUpdate, revoked: 0, stale: true }]);
  });

  test("allowStaleCrls serves on: the admission carries the reason as a warning, and revocations still count", async () => {
    const nextUpdate = new Date(Date.now() - DAY_MS);
    const crl = await forgeCrl(issuing, { thisUpdate: new Date(Date.now() - 9 * DAY_MS), nextUpdate, revoked: [{ serial: bob.serial }] });
    const validator = new CertificateValidator({ allow: [], trustedCas: trusted, crls: [crl.pem], allowStaleCrls: true });
    expect(validator.validate(sent(carol, issuing))).toMatchObject({
      ok: true,
      certificate: {
        warnings: [`certificate CN=carol cannot be checked for revocation: the CRL of CN=Acme Issuing CA is stale (its nextUpdate was ${formatInstant(nextUpdate)})`],
      },
    });
    expect(validator.validate(sent(bob, issuing))).toMatchObject({ ok: false, code: "CERT_REVOKED" });
  });

  test("a CRL without nextUpdate never goes stale", async () => {
    const crl = await forgeCrl(issuing, { nextUpdate: null });
    const validator = new CertificateValidator({ allow: [], trustedCas: trusted, crls: [crl.pem] });
    expect(validator.validate(sent(carol, issuing), carol.cert.notAfter.getTime() - 1000).ok).toBe(true);
    expect(validator.crlStatus()[0]).toMatchObject({ nextUpdate: undefined, stale: false });
  });
});
