// What a client presented, read without getPeerCertificate (which makes the TLS library keep
// about 1 KiB per connection): the same certificates in the same order, over real TLS under
// 1.2 and 1.3, with the old read kept for whatever the session does not confirm; and the server
// admitting, re-admitting after a trust change, and counting what a chain client sent.
import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import type { PeerCertificate } from "../../src/certs/validator.ts";
import { readPresented, type PresentingSocket } from "../../src/server/presented-chain.ts";
import { TlsListeners } from "../../src/server/tls-listeners.ts";
import { forgeCa, forgeLeaf, type Forged } from "../support/chains.ts";
import { RawClient, connectAdmitted, startServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { GREETING, errorLine, okReply, request } from "../support/wire.ts";

const pki = await makeTestPki();
const root = await forgeCa("Acme Root");
const issuing = await forgeCa("Acme Issuing CA", root);
const carol = await forgeLeaf("carol", issuing);
const direct = await forgeLeaf("dave", root);
const stranger = await forgeCa("Unrelated CA");
const otherRoot = await forgeCa("Other Root");
const VERSIONS = ["TLSv1.2", "TLSv1.3"] as const;

/** The DER of each certificate in a getPeerCertificate(false)-shaped chain, as hex, leaf first. */
function ders(peer: PeerCertificate | null | undefined): string[] {
  const seen = new Set<PeerCertificate>();
  // Bun makes a self-signed last certificate its own issuer.
  for (let cert = peer; cert?.raw && cert.raw.length > 0 && !seen.has(cert); cert = cert.issuerCertificate) seen.add(cert);
  return [...seen].map((cert) => Buffer.from(cert.raw!).toString("hex"));
}

type Seen = { read: string[]; bun: string[]; getPeerCertificateCalls: number };

/**
 * A listener with the server's own TLS settings (tls-listeners.ts); each handshake's socket is
 * read with readPresented, counting getPeerCertificate calls, then with Bun's own call.
 */
async function presentedOver(tlsVersion: (typeof VERSIONS)[number], client: { certificates: Forged[]; key: string } | null, tamper?: (socket: PresentingSocket) => void): Promise<Seen> {
  const seen = Promise.withResolvers<Seen>();
  const listeners = new TlsListeners({ cert: pki.server.certificatePem, key: pki.server.privateKeyPem }, { host: "127.0.0.1", reusePort: false });
  listeners.listen(0, {
    handshake(socket: Socket<number>) {
      const original = socket.getPeerCertificate.bind(socket) as PresentingSocket["getPeerCertificate"];
      let calls = 0;
      const counted = socket as unknown as PresentingSocket;
      counted.getPeerCertificate = (abbreviated) => (calls++, original(abbreviated));
      tamper?.(counted);
      const read = ders(readPresented(counted));
      seen.resolve({ read, bun: ders(original(false)), getPeerCertificateCalls: calls });
      socket.end();
    },
    data() {},
  });
  try {
    const credentials = client ? { cert: client.certificates.map((c) => c.pem).join(""), key: client.key } : {};
    await using _client = await RawClient.connect({ port: listeners.port!, pem: { ...credentials, ca: pki.ca.certificatePem } as { cert: string; key: string; ca: string }, tlsVersion });
    return await seen.promise;
  } finally {
    listeners.stopAll();
  }
}

describe("readPresented", () => {
  for (const tlsVersion of VERSIONS) {
    test(`gives the certificates Bun's getPeerCertificate(false) gives, in order, without calling it (${tlsVersion})`, async () => {
      const hex = (...certs: Forged[]) => certs.map((c) => Buffer.from(c.der).toString("hex"));
      const cases = [[direct], [carol, issuing], [carol, stranger, issuing, root]];
      const results = [];
      for (const certificates of cases) results.push(await presentedOver(tlsVersion, { certificates, key: certificates[0]!.keyPem }));
      expect(results).toEqual(cases.map((certs) => ({ read: hex(...certs), bun: hex(...certs), getPeerCertificateCalls: 0 })));
    });

    test(`a client without a certificate reads as none (${tlsVersion})`, async () => {
      const seen = await presentedOver(tlsVersion, null);
      expect([seen.read, seen.bun]).toEqual([[], []]);
    });
  }

  test("a session that does not hold the TLS layer's own leaf is not read: getPeerCertificate(false) answers", async () => {
    // The leaf the TLS layer reports is another certificate: the session's [3] no longer matches it.
    const seen = await presentedOver("TLSv1.3", { certificates: [carol, issuing], key: carol.keyPem }, (socket) => {
      socket.getPeerX509Certificate = () => ({ fingerprint256: direct.sha256 });
    });
    expect(seen).toEqual({ read: seen.bun, bun: [carol, issuing].map((c) => Buffer.from(c.der).toString("hex")), getPeerCertificateCalls: 1 });
  });

  test("a socket without a session (the in-memory transport's) is read through getPeerCertificate(false)", () => {
    const peer = { raw: carol.der, fingerprint256: carol.sha256, issuerCertificate: { raw: issuing.der, fingerprint256: issuing.sha256 } };
    expect(readPresented({ getPeerCertificate: () => peer })).toBe(peer);
  });
});

describe("a chain client on a running server", () => {
  for (const tlsVersion of VERSIONS) {
    test(`is admitted, admitted again after a trust change that still trusts its root, and cut off by one that does not (${tlsVersion})`, async () => {
      const identities: (string | undefined)[] = [];
      await using server = await startServer({ allow: [], trustedCas: [root.pem] }, (s) => s.command("PING", () => "PONG").on("open", (c) => identities.push(c.certificate?.trustedCa)));
      const client = await RawClient.connect({ port: server.port, pem: { cert: carol.pem + issuing.pem, key: carol.keyPem, ca: pki.ca.certificatePem }, tlsVersion });
      client.write(request("PING", "1"));
      await client.waitFor(okReply("1", "PONG"));
      server.setTrust({ allow: [], trustedCas: [otherRoot.pem, root.pem] });
      client.write(request("PING", "2"));
      await client.waitFor(okReply("2", "PONG"));
      server.setTrust({ allow: [], trustedCas: [otherRoot.pem] });
      expect(await client.untilClosed()).toBe(
        GREETING + okReply("1", "PONG") + okReply("2", "PONG") + errorLine(`unknown certificate CN=carol, SHA-1 ${carol.sha1}: its chain ends at CN=Acme Issuing CA, which no trusted CA issued`),
      );
      expect(identities).toEqual(["CN=Acme Root"]);
    });

    test(`that sent more than maxPresentedCertificates is refused with the count, at the handshake and after a trust change (${tlsVersion})`, async () => {
      const pem = { cert: direct.pem + stranger.pem + otherRoot.pem, key: direct.keyPem, ca: pki.ca.certificatePem };
      const tooMany = "certificate CN=dave was sent with 2 more certificates: at most 2 in all are accepted";
      await using strict = await startServer({ allow: [], trustedCas: [root.pem], maxPresentedCertificates: 2 });
      const refused = await RawClient.connect({ port: strict.port, pem, tlsVersion });
      expect(await refused.untilClosed()).toBe(errorLine(tooMany));

      await using server = await startServer({ allow: [], trustedCas: [root.pem] }, (s) => s.command("PING", () => "PONG"));
      const admitted = await connectAdmitted(server.port, { pem, tlsVersion });
      server.setTrust({ allow: [], trustedCas: [root.pem], maxPresentedCertificates: 2 });
      expect(await admitted.untilClosed()).toBe(GREETING + errorLine(tooMany));
    });
  }
});
