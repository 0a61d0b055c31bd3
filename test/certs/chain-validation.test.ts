// CertificateValidator on chains the client sends (issue 11 section 1, issue 9 item 6): the
// reason of each refusal, word for word, the limits on depth and on what a client may send,
// the cache (keyed by everything presented, clock read at every use), and the rules an
// allow-listed thumbprint is and is not exempt from.
import { describe, expect, test } from "bun:test";
import { MAX_SIGNATURE_CHECKS } from "../../src/certs/chain-paths.ts";
import { CertificateValidator, formatInstant, type PeerCertificate } from "../../src/certs/validator.ts";
import { x509 } from "../../src/certs/x509.ts";
import { forge, forgeCa, forgeLeaf, type Forged, sent } from "../support/chains.ts";

const DAY_MS = 86_400_000;
const critical = new x509.Extension("1.3.6.1.4.1.55555.99", true, new Uint8Array([0x05, 0x00]));

const root = await forgeCa("Acme Root");
const issuing = await forgeCa("Acme Issuing CA", root);
const issuing2 = await forgeCa("Acme Issuing CA 2", issuing);
const carol = await forgeLeaf("carol", issuing2);
const trustingRoot = (more: Partial<ConstructorParameters<typeof CertificateValidator>[0]> = {}) =>
  new CertificateValidator({ allow: [], trustedCas: [root.pem], ...more });

describe("chains the client sends", () => {
  test("a leaf sent with its intermediates is admitted with only the root trusted, and refused without them", () => {
    const validator = trustingRoot();
    expect(validator.validate(sent(carol, issuing2, issuing))).toMatchObject({ ok: true, certificate: { identity: "carol", viaCa: true } });
    expect(validator.validate(sent(carol))).toEqual({ ok: false, code: "CERT_UNKNOWN", reason: `unknown certificate CN=carol, SHA-1 ${carol.sha1}` });
    expect(validator.validate(sent(carol, issuing2))).toEqual({
      ok: false,
      code: "CERT_UNKNOWN",
      reason: `unknown certificate CN=carol, SHA-1 ${carol.sha1}: its chain ends at CN=Acme Issuing CA 2, which no trusted CA issued`,
    });
  });

  test("an expired intermediate refuses the client and says which, at every use of a cached verdict", async () => {
    const shortLived = await forgeCa("Acme Issuing CA 3", issuing, { validToDays: 30 });
    const dave = await forgeLeaf("dave", shortLived, { validToDays: 90 });
    const validator = trustingRoot();
    const peer = sent(dave, shortLived, issuing);
    expect(validator.validate(peer).ok).toBe(true);
    const later = shortLived.cert.notAfter.getTime() + 1000;
    expect(validator.validate(peer, later)).toEqual({
      ok: false,
      code: "CERT_EXPIRED",
      reason: `intermediate CN=Acme Issuing CA 3 expired at ${formatInstant(shortLived.cert.notAfter)}`,
    });
    expect(validator.cacheStats).toEqual({ hits: 1, misses: 1, size: 1 });
  });

  test("the cache key covers every certificate sent: the leaf alone is judged again", () => {
    const validator = trustingRoot();
    expect(validator.validate(sent(carol, issuing2, issuing)).ok).toBe(true);
    expect(validator.validate(sent(carol)).ok).toBe(false);
    expect(validator.validate(sent(carol, issuing, issuing2)).ok).toBe(true);
    expect(validator.cacheStats).toEqual({ hits: 0, misses: 3, size: 3 });
  });

  test("a chain that breaks a CA rule names the intermediate and the rule", async () => {
    const notCa = await forgeCa("Acme Helper", root, { ca: false });
    const noSign = await forgeCa("Acme Signer", root, { keyUsage: x509.KeyUsageFlags.digitalSignature });
    const tight = await forgeCa("Acme Tight", root, { pathLength: 0 });
    const below = await forgeCa("Acme Below", tight);
    const strange = await forgeCa("Acme Strange", root, { extensions: [critical] });
    const validator = trustingRoot();
    const reasons = [
      validator.validate(sent(await forgeLeaf("a", notCa), notCa)),
      validator.validate(sent(await forgeLeaf("b", noSign), noSign)),
      validator.validate(sent(await forgeLeaf("c", below), below, tight)),
      validator.validate(sent(await forgeLeaf("d", strange), strange)),
    ].map((admission) => (admission.ok ? "admitted" : `${admission.code}: ${admission.reason}`));
    expect(reasons).toEqual([
      "CERT_INVALID: intermediate CN=Acme Helper is not a CA: its basicConstraints cA is false",
      "CERT_INVALID: intermediate CN=Acme Signer may not sign certificates: its keyUsage lacks keyCertSign",
      "CERT_INVALID: intermediate CN=Acme Tight has pathLenConstraint 0, but 1 CA stands between it and CN=c",
      "CERT_INVALID: intermediate CN=Acme Strange has a critical extension gnp does not process, 1.3.6.1.4.1.55555.99",
    ]);
  });

  test("a forged intermediate with the real one's name is refused for its signature", async () => {
    const attacker = await forgeCa("attacker");
    const fake = await forgeCa("Acme Issuing CA", root, { signingKey: attacker.keys.privateKey });
    const mallory = await forgeLeaf("mallory", fake);
    expect(trustingRoot().validate(sent(mallory, fake))).toEqual({
      ok: false,
      code: "CERT_UNKNOWN",
      reason: `unknown certificate CN=mallory, SHA-1 ${mallory.sha1}: its chain reaches CN=Acme Issuing CA, whose signature does not verify with the key of CN=Acme Root`,
    });
  });
});

describe("limits on chains", () => {
  test("maxChainDepth bounds the intermediates between the leaf and the trusted CA", () => {
    const peer = sent(carol, issuing2, issuing);
    expect(trustingRoot({ maxChainDepth: 2 }).validate(peer).ok).toBe(true);
    expect(trustingRoot({ maxChainDepth: 1 }).validate(peer)).toEqual({
      ok: false,
      code: "CERT_CHAIN_TOO_LONG",
      reason: "certificate CN=carol is 2 intermediate CAs below trusted CA CN=Acme Root: at most 1 are accepted",
    });
  });

  test("maxPresentedCertificates bounds what a client may send, before anything is checked", async () => {
    const strangers = await Promise.all(Array.from({ length: 8 }, (_, i) => forgeCa(`stranger ${i}`)));
    const validator = trustingRoot({ maxPresentedCertificates: 10 });
    expect(validator.validate(sent(carol, issuing2, issuing, ...strangers.slice(0, 7))).ok).toBe(true);
    expect(validator.validate(sent(carol, issuing2, issuing, ...strangers))).toEqual({
      ok: false,
      code: "CERT_CHAIN_TOO_LONG",
      reason: "certificate CN=carol was sent with 10 more certificates: at most 10 in all are accepted",
    });
  });

  test(`CAs sharing one name and key cost at most ${MAX_SIGNATURE_CHECKS} signature checks, then the client is refused`, async () => {
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const first = await forgeCa("twin", undefined, { keys });
    // Each twin verifies every other: without a bound, the paths through them number 9!.
    const twins = [first, ...(await Promise.all(Array.from({ length: 8 }, () => forgeCa("twin", first, { keys }))))];
    const leaf = await forgeLeaf("twin child", first);
    const admission = new CertificateValidator({ allow: [], trustedCas: [root.pem], maxPresentedCertificates: 10 }).validate(sent(leaf, ...twins));
    expect(admission).toMatchObject({ ok: false, code: "CERT_UNKNOWN", reason: expect.stringContaining(`gave up after ${MAX_SIGNATURE_CHECKS} signature checks`) });
  });

  test("limits out of range are a RangeError", () => {
    expect(() => trustingRoot({ maxChainDepth: -1 })).toThrow("invalid maxChainDepth -1: expected a whole number from 0 to 16");
    expect(() => trustingRoot({ maxPresentedCertificates: 0 })).toThrow("invalid maxPresentedCertificates 0: expected a whole number from 1 to 32");
  });
});

describe("what a certificate itself may not be (issue 9 item 6)", () => {
  test("a certificate with an unknown critical extension is CERT_INVALID naming its OID, allow-listed or not", async () => {
    const odd = await forgeLeaf("odd", root, { extensions: [critical, new x509.Extension("2.5.29.36", true, new Uint8Array([0x30, 0x03, 0x80, 0x01, 0x00]))] });
    const reason = "certificate CN=odd has a critical extension gnp does not process, 1.3.6.1.4.1.55555.99, 2.5.29.36 (policyConstraints)";
    expect(trustingRoot().validate(sent(odd))).toEqual({ ok: false, code: "CERT_INVALID", reason });
    expect(trustingRoot({ allow: [odd.sha256] }).validate(sent(odd))).toEqual({ ok: false, code: "CERT_INVALID", reason });
  });

  test("critical extensions gnp processes or may ignore (keyUsage, basicConstraints, certificatePolicies) are fine", async () => {
    const policies = new x509.Extension("2.5.29.32", true, new Uint8Array([0x30, 0x06, 0x30, 0x04, 0x06, 0x02, 0x2a, 0x03]));
    expect(trustingRoot().validate(sent(await forgeLeaf("policy", root, { extensions: [policies] }))).ok).toBe(true);
  });

  test("a CA certificate is refused as a client certificate, unless its thumbprint is allow-listed", async () => {
    const caAsClient = await forge({ cn: "ops CA", issuer: root, ca: true, keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign });
    expect(trustingRoot().validate(sent(caAsClient))).toEqual({
      ok: false,
      code: "CERT_WRONG_USAGE",
      reason: "certificate CN=ops CA is a CA certificate (basicConstraints cA is true): a CA does not log in",
    });
    // `openssl req -x509` writes cA=TRUE into a self-signed certificate: pinning one is the allow-list's job.
    const pinned = await forge({ cn: "pinned", ca: true });
    expect(new CertificateValidator({ allow: [pinned.sha1], trustedCas: [] }).validate(sent(pinned))).toMatchObject({ ok: true, certificate: { viaCa: false } });
  });

  test("a trusted CA with an unknown critical extension is refused when loaded", async () => {
    const odd = await forgeCa("odd CA", undefined, { extensions: [critical] });
    expect(() => new CertificateValidator({ allow: [], trustedCas: [odd.pem] })).toThrow(
      "invalid trusted CA CN=odd CA: it has a critical extension gnp does not process, 1.3.6.1.4.1.55555.99",
    );
  });
});
