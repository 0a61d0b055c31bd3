// revokeCertificates: a CA made by gnp (and loaded back from its two PEM files, as the CLI
// will) adds certificates to its CRL and signs the new one; the server's validator and
// `openssl verify -crl_check` both refuse what it revoked, entries and the CRL number carry
// forward, and what is not this CA's (a certificate, a previous CRL) is an error.
import { describe, expect, test } from "bun:test";
import {
  createCertificateAuthority,
  issueClientCertificate,
  loadCertificateAuthority,
  type CertificateAuthority,
} from "../../src/certs/generate.ts";
import { DEFAULT_CRL_DAYS, revokeCertificates } from "../../src/certs/revocation.ts";
import { CertificateValidator } from "../../src/certs/validator.ts";
import { x509 } from "../../src/certs/x509.ts";
import { OPENSSL, makeTempDir } from "../support/pki.ts";

const ca: CertificateAuthority = await loadCertificateAuthority(
  ...(await createCertificateAuthority({ commonName: "gnp CA revoke" }).then((made) => [made.certificatePem, made.privateKeyPem] as const)),
);
const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((commonName) => issueClientCertificate(ca, { commonName })));
const peer = (cert: { der: Uint8Array }) => ({ raw: cert.der });

describe("revokeCertificates", () => {
  test("the new CRL is signed by the CA, and the server refuses the revoked certificate only", async () => {
    const crl = await revokeCertificates(ca, [bob!.certificatePem]);
    const serial = bob!.certificate.serialNumber.toUpperCase().replace(/^0+/, "");
    expect(crl).toMatchObject({ revoked: [serial], alreadyRevoked: [], crlNumber: 1n });
    expect(crl.pem).toStartWith("-----BEGIN X509 CRL-----\n");
    expect(crl.nextUpdate.getTime() - crl.thisUpdate.getTime()).toBe(DEFAULT_CRL_DAYS * 86_400_000);
    const validator = new CertificateValidator({ allow: [], trustedCas: [ca.certificatePem], crls: [crl.pem] });
    expect(validator.validate(peer(bob!))).toMatchObject({ ok: false, code: "CERT_REVOKED", reason: expect.stringContaining(`(serial 0x${serial}) was revoked at`) });
    expect(validator.validate(peer(alice!)).ok).toBe(true);
  });

  test("openssl verify -crl_check agrees with the CRL it made", async () => {
    if (!OPENSSL) throw new Error("openssl is not on PATH (.ci/run installs it)");
    await using dir = await makeTempDir();
    const crl = await revokeCertificates(ca, [bob!.der]);
    await Bun.write(`${dir.path}/ca.pem`, ca.certificatePem);
    await Bun.write(`${dir.path}/crl.pem`, crl.pem);
    const verify = async (cert: string) => {
      await Bun.write(`${dir.path}/leaf.pem`, cert);
      const run = Bun.spawnSync([OPENSSL ?? "openssl", "verify", "-purpose", "sslclient", "-crl_check", "-CAfile", `${dir.path}/ca.pem`, "-CRLfile", `${dir.path}/crl.pem`, `${dir.path}/leaf.pem`]);
      return `${run.stdout}${run.stderr}`.includes("certificate revoked") ? "revoked" : run.exitCode === 0 ? "ok" : "other";
    };
    expect([await verify(alice!.certificatePem), await verify(bob!.certificatePem)]).toEqual(["ok", "revoked"]);
  });

  test("a second revocation keeps the first, counts up the CRL number, and says what was listed already", async () => {
    const first = await revokeCertificates(ca, [bob!.certificatePem]);
    const second = await revokeCertificates(ca, [carol!.certificatePem, bob!.certificatePem], { crl: first.pem });
    expect(second.crlNumber).toBe(2n);
    expect(second.revoked.length).toBe(2);
    expect(second.alreadyRevoked).toEqual(first.revoked);
    const validator = new CertificateValidator({ allow: [], trustedCas: [ca.certificatePem], crls: [second.der] });
    expect([alice, bob, carol].map((cert) => validator.validate(peer(cert!)).ok)).toEqual([true, false, false]);
    // Carried forward as it was: the first revocation keeps its date.
    const dateIn = (pem: string) => new x509.X509Crl(pem).entries.find((entry) => entry.serialNumber.toUpperCase().replace(/^0+/, "") === first.revoked[0])?.revocationDate;
    expect(dateIn(second.pem)).toEqual(dateIn(first.pem)!);
  });

  test("a serial alone revokes, for a certificate whose file is lost; no target re-signs with fresh dates", async () => {
    const bySerial = await revokeCertificates(ca, [{ serial: `00:${carol!.certificate.serialNumber}` }], { days: 7 });
    expect(new CertificateValidator({ allow: [], trustedCas: [ca.certificatePem], crls: [bySerial.pem] }).validate(peer(carol!)).ok).toBe(false);
    const later = new Date(Date.now() + 86_400_000);
    const refreshed = await revokeCertificates(ca, [], { crl: bySerial.pem, now: later });
    expect(refreshed).toMatchObject({ revoked: bySerial.revoked, crlNumber: 2n, thisUpdate: later });
  });

  test("what is not this CA's is an error: another CA's certificate, another CA's CRL, a bad serial", async () => {
    const other = await createCertificateAuthority({ commonName: "gnp CA other" });
    const stranger = await issueClientCertificate(other, { commonName: "stranger" });
    const otherCrl = await revokeCertificates(other, []);
    await expect(revokeCertificates(ca, [stranger.certificatePem])).rejects.toThrow(
      "certificate CN=stranger was not issued by CN=gnp CA revoke: it cannot be revoked by this CA",
    );
    await expect(revokeCertificates(ca, [], { crl: otherCrl.pem })).rejects.toThrow(
      "the given CRL is from CN=gnp CA other, not from CN=gnp CA revoke",
    );
    await expect(revokeCertificates(ca, [{ serial: "xyz" }])).rejects.toThrow('invalid serial "xyz": expected 1 to 40 hex digits');
  });
});
