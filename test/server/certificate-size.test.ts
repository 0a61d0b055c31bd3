// Issue 9 item 9: a large client certificate gets the same answer under TLS 1.2 and 1.3. A
// 60 KB certificate is admitted under both (a TLS 1.3 session ticket used to carry it, and
// BoringSSL failed the first write once the chain passed about 32 KB); certificates past the
// TLS layer's 100 KiB limit fail the handshake under both, and the refusal says so.
import { describe, expect, test } from "bun:test";
import type { RefusalInfo } from "../../src/index.ts";
import { forgeCa, forgeLeaf } from "../support/chains.ts";
import { RawClient, startServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { okReply, request } from "../support/wire.ts";

const pki = await makeTestPki();
const root = await forgeCa("size root");
const large = await forgeLeaf("large", root, { padTo: 60_000 });
const huge = await forgeLeaf("huge", root, { padTo: 110_000 });

describe("client certificate size", () => {
  test("the test certificates are the sizes they claim", () => {
    expect(large.der.length).toBeGreaterThan(60_000);
    expect(huge.der.length).toBeGreaterThan(102_400);
  });

  for (const tlsVersion of ["TLSv1.2", "TLSv1.3"] as const) {
    test(`a 60 KB client certificate is admitted and served under ${tlsVersion}`, async () => {
      await using server = await startServer({ allow: [], trustedCas: [root.pem] }, (s) => s.command("PING", () => "PONG"));
      await using client = await RawClient.connect({ port: server.port, tlsVersion, pem: { cert: large.pem, key: large.keyPem, ca: pki.ca.certificatePem } });
      client.write(request("PING", "1"));
      await client.waitFor(okReply("1", "PONG"));
      expect(client.received).toBe(`OK\r\n${okReply("1", "PONG")}`);
    });

    test(`certificates past 100 KiB fail the handshake under ${tlsVersion}, reported with the TLS layer's reason`, async () => {
      const refused: RefusalInfo[] = [];
      await using server = await startServer({ allow: [], trustedCas: [root.pem] }, (s) => s.on("refuse", (info) => refused.push(info)));
      const client = await RawClient.connect({ port: server.port, tlsVersion, pem: { cert: huge.pem, key: huge.keyPem, ca: pki.ca.certificatePem } });
      expect(await client.untilClosed()).toBe("");
      expect(refused.map((info) => [info.code, info.reason])).toEqual([["HANDSHAKE_FAILED", expect.stringContaining("EXCESSIVE_MESSAGE_SIZE")]]);
    });
  }
});
