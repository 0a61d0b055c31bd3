// readTbs, gnp's direct DER read of a certificate's path fields, against @peculiar/x509's
// full parse of the same bytes; names that differ only in string type, case or spacing
// compare equal, as openssl compares them; malformed and doubled extensions are refused.
import { describe, expect, test } from "bun:test";
import { readName, readTbs } from "../../src/certs/tbs-reader.ts";
import { x509 } from "../../src/certs/x509.ts";
import { buildCorpus } from "../support/chain-corpus.ts";
import { forge, forgeCa, type Forged } from "../support/chains.ts";

const corpus = await buildCorpus();
const certificates: Forged[] = [...new Map(corpus.flatMap((c) => [c.leaf, ...c.sent, ...c.roots]).map((cert) => [cert.sha256, cert])).values()];

describe("readTbs", () => {
  test("reads what @peculiar/x509 reads, on every certificate of the chain corpus", () => {
    expect(certificates.length).toBeGreaterThan(50);
    const differences: string[] = [];
    for (const cert of certificates) {
      const ours = readTbs(cert.der);
      const theirs = new x509.X509Certificate(cert.der);
      const constraints = theirs.getExtension(x509.BasicConstraintsExtension);
      const expected = {
        serial: theirs.serialNumber.toUpperCase().replace(/^0+(?=.)/, ""),
        commonName: theirs.subjectName.getField("CN")[0],
        notBefore: theirs.notBefore.getTime(),
        notAfter: theirs.notAfter.getTime(),
        ca: constraints?.ca,
        pathLength: constraints?.ca ? constraints.pathLength : undefined,
        keyUsage: theirs.getExtension(x509.KeyUsagesExtension)?.usages,
        extendedKeyUsage: theirs.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String),
        keyId: theirs.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId.toUpperCase(),
        authorityKeyId: theirs.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId?.toUpperCase(),
        critical: theirs.extensions.filter((e) => e.critical).map((e) => e.type),
        selfIssued: theirs.subject === theirs.issuer,
      };
      const actual = {
        ...Object.fromEntries(Object.keys(expected).map((key) => [key, (ours as Record<string, unknown>)[key]])),
        critical: [...ours.extensions].filter(([, e]) => e.critical).map(([oid]) => oid),
        selfIssued: ours.subjectKey === ours.issuerKey,
      };
      if (JSON.stringify(actual) !== JSON.stringify(expected)) differences.push(`${cert.name}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
    }
    expect(differences).toEqual([]);
  });

  test("a name matches across string types, case and spacing, and not across values", () => {
    const name = (json: X509JsonName) => readName(new Uint8Array(new x509.Name(json).toArrayBuffer())).key;
    type X509JsonName = ConstructorParameters<typeof x509.Name>[0];
    const utf8 = name([{ CN: [{ utf8String: "Acme  Root" }] }, { O: ["Acme"] }]);
    expect(name([{ CN: [{ bmpString: "acme root" }] }, { O: [{ printableString: "ACME" }] }])).toBe(utf8);
    expect(name([{ CN: [{ utf8String: "Acme Root 2" }] }, { O: ["Acme"] }])).not.toBe(utf8);
    expect(name([{ O: ["Acme"] }, { CN: [{ utf8String: "Acme Root" }] }])).not.toBe(utf8);
  });

  test("reads dates past 2049, which are GeneralizedTime", async () => {
    const late = await forgeCa("late", undefined, { notAfter: new Date("2061-05-04T03:02:01Z") });
    expect(readTbs(late.der).notAfter).toBe(Date.UTC(2061, 4, 4, 3, 2, 1));
  });

  test("refuses an extension given twice, and truncated bytes", async () => {
    const twice = await forge({ cn: "twice", ca: false, extensions: [new x509.BasicConstraintsExtension(true, undefined, false)] });
    expect(() => readTbs(twice.der)).toThrow("extension 2.5.29.19 appears twice");
    const whole = (await forgeCa("whole")).der;
    expect(() => readTbs(whole.subarray(0, whole.length - 20))).toThrow(RangeError);
  });
});
