// gnp's verdict on client certificate chains against `openssl verify -purpose sslclient
// -verify_depth 8 [-crl_check_all]`, on a generated corpus (test/support/chain-corpus.ts):
// in process for every case, and over real TLS (the client sends its chain, only the root
// is configured) for a sample, under TLS 1.2 and 1.3. Where they could both be wrong, the
// corpus's RFC 5280 verdict decides.
import { beforeAll, describe, expect, test } from "bun:test";
import { CertificateValidator, type Admission, type PeerCertificate } from "../../src/certs/validator.ts";
import { buildCorpus, type ChainCase } from "../support/chain-corpus.ts";
import { opensslAdmits, type Forged } from "../support/chains.ts";
import { RawClient, startServer } from "../support/harness.ts";
import { OPENSSL, makeTempDir, makeTestPki } from "../support/pki.ts";

/** What Bun's getPeerCertificate(false) gives for a client that sent `leaf` then `sent`. */
function peerOf(leaf: Forged, sent: Forged[]): PeerCertificate {
  return [leaf, ...sent].reduceRight<PeerCertificate | undefined>(
    (issuer, cert) => ({ raw: cert.der, fingerprint256: cert.sha256, ...(issuer ? { issuerCertificate: issuer } : {}) }),
    undefined,
  )!;
}

function validatorFor(c: ChainCase): CertificateValidator {
  const trustedCas = [...c.roots, ...(c.knownIntermediates ?? [])].map((cert) => cert.pem);
  return new CertificateValidator({ allow: [], trustedCas, crls: c.crls ?? [] });
}

let corpus: ChainCase[];
beforeAll(async () => {
  if (!OPENSSL) throw new Error("openssl is not on PATH: the differential test needs it (.ci/run installs it)");
  corpus = await buildCorpus();
});

describe("client certificate chains, gnp against openssl verify", () => {
  test("the corpus has at least 30 cases, admissions and refusals both", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    expect(corpus.filter((c) => c.expected === "admit").length).toBeGreaterThanOrEqual(10);
    expect(corpus.filter((c) => c.expected === "refuse").length).toBeGreaterThanOrEqual(20);
  });

  test("gnp's verdict equals openssl's, and RFC 5280's, on every case", async () => {
    await using dir = await makeTempDir();
    const disagreements: string[] = [];
    for (const c of corpus) {
      const admission = validatorFor(c).validate(peerOf(c.leaf, c.sent));
      const openssl = await opensslAdmits(dir.path, { leaf: c.leaf, roots: c.roots, untrusted: c.sent, crls: c.crls, extraArgs: ["-verify_depth", "8"] });
      const gnp = admission.ok ? "admit" : "refuse";
      if (gnp !== c.expected || openssl.ok !== (c.expected === "admit")) {
        const why = admission.ok ? "" : ` (${admission.code}: ${admission.reason})`;
        disagreements.push(`${c.name}: expected ${c.expected}, gnp ${gnp}${why}, openssl ${openssl.ok ? "admit" : `refuse (${openssl.output.split("\n")[0]})`}`);
      }
    }
    expect(disagreements).toEqual([]);
  });

  test("every refusal names a certificate", () => {
    const unnamed = corpus
      .map((c) => [c.name, validatorFor(c).validate(peerOf(c.leaf, c.sent))] as const)
      .filter(([, admission]) => !admission.ok && !/CN=/.test(admission.reason))
      .map(([name, admission]) => `${name}: ${(admission as Extract<Admission, { ok: false }>).reason}`);
    expect(unnamed).toEqual([]);
  });
});

describe("client certificate chains over real TLS", () => {
  const sample = [
    "good chain of depth 3",
    "depth 3 sent in reverse order",
    "depth 3 without the middle intermediate",
    "expired intermediate",
    "forged intermediate with the real one's name",
    "pathLenConstraint 0 exceeded",
    "unknown critical extension on an intermediate",
    "revoked leaf",
    "revoked intermediate",
  ];

  for (const tlsVersion of ["TLSv1.2", "TLSv1.3"] as const) {
    test(`a sample of the corpus gets the in-process verdict from a real server (${tlsVersion})`, async () => {
      const pki = await makeTestPki();
      const results: string[] = [];
      const expected: string[] = [];
      for (const name of sample) {
        const c = corpus.find((entry) => entry.name === name)!;
        const local = validatorFor(c).validate(peerOf(c.leaf, c.sent));
        expected.push(`${name}: ${local.ok ? "OK" : `ERR: ${local.reason}`}`);
        let executed = 0;
        await using server = await startServer(
          { allow: [], trustedCas: [...c.roots, ...(c.knownIntermediates ?? [])].map((cert) => cert.pem), crls: c.crls ?? [] },
          (s) => s.command("COUNT", () => String(++executed)),
        );
        await using client = await RawClient.connect({
          port: server.port,
          tlsVersion,
          pem: { cert: [c.leaf, ...c.sent].map((cert) => cert.pem).join(""), key: c.leaf.keyPem, ca: pki.ca.certificatePem },
        });
        // Sent before any greeting: a refused client's bytes must never run.
        client.write("COUNT\r\nSequence: 1\r\n\r\n");
        await client.waitFor((text) => text.includes("\r\n"));
        const line = client.received.split("\r\n")[0]!;
        if (line === "OK") await client.waitFor("Sequence: 1");
        else await client.untilClosed();
        results.push(`${name}: ${line}${line === "OK" ? "" : executed === 0 ? "" : " (and COUNT ran!)"}`);
      }
      expect(results).toEqual(expected);
      // The sample must prove both sides.
      expect(expected.filter((line) => line.endsWith(": OK")).length).toBeGreaterThanOrEqual(2);
    });
  }
});
