// nameConstraints beyond the differential corpus: what gnp does not compare refuses and says
// what it is (a name of another kind under a subtree of that kind, a subtree with a minimum or
// maximum), a constraint of another kind leaves a certificate alone, and a trusted CA that
// carries nameConstraints is loaded and obeyed rather than refused.
import { describe, expect, test } from "bun:test";
import { CertificateValidator } from "../../src/certs/validator.ts";
import { x509 } from "../../src/certs/x509.ts";
import { forgeCa, forgeLeaf, nameConstraints, type Forged, sent } from "../support/chains.ts";

const root = await forgeCa("NC Root");
const validator = new CertificateValidator({ allow: [], trustedCas: [root.pem] });

/** A registeredID alternative name, which @peculiar/x509 calls "id". */
const registeredId = (oid: string) => new x509.SubjectAlternativeNameExtension([{ type: "id", value: oid }]);

describe("nameConstraints gnp does not compare", () => {
  test("a registeredID name under a registeredID subtree refuses, naming the subtree", async () => {
    const ca = await forgeCa("RID CA", root, { extensions: [nameConstraints({ permitted: [{ registeredId: "2a0304" }] })] });
    const leaf = await forgeLeaf("rid", ca, { extensions: [registeredId("1.2.3.4")] });
    expect(validator.validate(sent(leaf, ca))).toEqual({
      ok: false,
      code: "CERT_INVALID",
      reason: "certificate CN=rid has a name checked against the nameConstraints of intermediate CN=RID CA, whose registeredID subtree gnp does not process",
    });
  });

  test("a registeredID subtree leaves a certificate without such a name alone", async () => {
    const ca = await forgeCa("RID CA 2", root, { extensions: [nameConstraints({ permitted: [{ registeredId: "2a0304" }] })] });
    expect(validator.validate(sent(await forgeLeaf("plain", ca, { sans: ["anything.example"] }), ca))).toMatchObject({ ok: true, certificate: { identity: "plain" } });
  });

  test("a subtree with a maximum refuses the names of its kind", async () => {
    // GeneralSubtree { dNSName "acme.example", maximum [1] 2 }
    const value = new Uint8Array([0x30, 0x15, 0xa0, 0x13, 0x30, 0x11, 0x82, 0x0c, ...Buffer.from("acme.example"), 0x81, 0x01, 0x02]);
    const ca = await forgeCa("Max CA", root, { extensions: [new x509.Extension("2.5.29.30", true, value)] });
    expect(validator.validate(sent(await forgeLeaf("m", ca, { sans: ["a.acme.example"] }), ca))).toEqual({
      ok: false,
      code: "CERT_INVALID",
      reason: "certificate CN=m has a name checked against the nameConstraints of intermediate CN=Max CA, whose subtree with a minimum or maximum gnp does not process",
    });
  });

  test("a malformed nameConstraints extension makes its certificate unreadable", async () => {
    const ca = await forgeCa("Broken CA", root, { extensions: [new x509.Extension("2.5.29.30", true, new Uint8Array([0x30, 0x03, 0xa2, 0x01, 0x00]))] });
    expect(validator.validate(sent(await forgeLeaf("b", ca), ca))).toEqual({
      ok: false,
      code: "CERT_INVALID",
      reason: "certificate 2 of those sent with CN=b could not be parsed: invalid nameConstraints: unexpected element 0xa2",
    });
  });
});

describe("a trusted CA with nameConstraints", () => {
  test("is loaded, and its constraints bind the clients below it", async () => {
    const corporate = await forgeCa("Corp Root", undefined, { extensions: [nameConstraints({ permitted: [{ dns: ".corp.example" }], excluded: [{ dns: "lab.corp.example" }] })] });
    const trusting = new CertificateValidator({ allow: [], trustedCas: [corporate.pem] });
    expect(trusting.validate(sent(await forgeLeaf("in", corporate, { sans: ["api.corp.example"] })))).toMatchObject({ ok: true });
    expect(trusting.validate(sent(await forgeLeaf("apex", corporate, { sans: ["corp.example"] })))).toMatchObject({
      ok: false,
      reason: "certificate CN=apex has DNS:corp.example outside the nameConstraints of trusted CA CN=Corp Root, which permit DNS:.corp.example",
    });
    expect(trusting.validate(sent(await forgeLeaf("lab", corporate, { sans: ["x.lab.corp.example"] })))).toMatchObject({
      ok: false,
      reason: "certificate CN=lab has DNS:x.lab.corp.example within the nameConstraints of trusted CA CN=Corp Root, which exclude DNS:lab.corp.example",
    });
  });
});
