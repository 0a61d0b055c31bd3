// The server with chains and CRLs over real TLS: a client sending leaf + intermediate is
// admitted with only the root configured; a CRL installed with setTrust reaches that
// established connection at its next command; a stale CRL refuses by default and, with
// allowStaleCrls, admits with a warning the open hook can log; bad CRL options fail at once.
import { describe, expect, test } from "bun:test";
import { isGnpError, type Connection } from "../../src/index.ts";
import { forgeCa, forgeCrl, forgeLeaf } from "../support/chains.ts";
import { RawClient, startServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { okReply, request } from "../support/wire.ts";

const pki = await makeTestPki();
const root = await forgeCa("Acme Root");
const issuing = await forgeCa("Acme Issuing CA", root);
const carol = await forgeLeaf("carol", issuing);
const carolPem = { cert: carol.pem + issuing.pem, key: carol.keyPem, ca: pki.ca.certificatePem };

describe("CRLs on a running server", () => {
  test("a CRL revoking an established client's intermediate ends it at its next command", async () => {
    const opened: Connection[] = [];
    await using server = await startServer({ allow: [], trustedCas: [root.pem] }, (s) => s.command("PING", () => "PONG").on("open", (c) => opened.push(c)));
    const client = await RawClient.connect({ port: server.port, pem: carolPem });
    client.write(request("PING", "1"));
    await client.waitFor(okReply("1", "PONG"));
    expect(opened.map((c) => [c.identity, c.certificate?.viaCa])).toEqual([["carol", true]]);
    const crl = await forgeCrl(root, { revoked: [{ serial: issuing.serial }] });
    server.setTrust({ allow: [], trustedCas: [root.pem], crls: [crl.pem] });
    client.write(request("PING", "2"));
    const received = await client.untilClosed();
    expect(received.slice(received.indexOf(okReply("1", "PONG")) + okReply("1", "PONG").length)).toMatch(
      new RegExp(`^ERR: intermediate CN=Acme Issuing CA \\(serial 0x${issuing.serial}\\) was revoked at \\S+Z\\r\\n$`),
    );
  });

  test("a stale CRL refuses its CA's clients; allowStaleCrls admits them and the open hook gets the warning", async () => {
    const stale = await forgeCrl(root, { thisUpdate: new Date(Date.now() - 9 * 86_400_000), nextUpdate: new Date(Date.now() - 86_400_000) });
    await using strict = await startServer({ allow: [], trustedCas: [root.pem], crls: [stale.der] });
    const refused = await RawClient.connect({ port: strict.port, pem: carolPem });
    expect(await refused.untilClosed()).toMatch(/^ERR: intermediate CN=Acme Issuing CA cannot be checked for revocation: the CRL of CN=Acme Root is stale \(its nextUpdate was \S+Z\)\r\n$/);

    const warnings: (readonly string[] | undefined)[] = [];
    await using lenient = await startServer({ allow: [], trustedCas: [root.pem], crls: [stale.der], allowStaleCrls: true }, (s) =>
      s.on("open", (c) => warnings.push(c.certificate?.warnings)),
    );
    await using admitted = await RawClient.connect({ port: lenient.port, pem: carolPem });
    await admitted.waitFor("OK\r\n");
    expect(warnings).toEqual([[expect.stringMatching(/^intermediate CN=Acme Issuing CA cannot be checked for revocation: the CRL of CN=Acme Root is stale/)]]);
  });

  test("bad CRL and chain options fail when the server is created", async () => {
    const elsewhere = await forgeCrl(await forgeCa("elsewhere"));
    const attempt = (options: object) =>
      startServer({ allow: [], trustedCas: [root.pem], ...options }).then(
        (server) => server.close().then(() => "started"),
        (error: Error) => (isGnpError(error) ? `${error.code}: ${error.message}` : `${error.name}: ${error.message}`),
      );
    const outcomes = await Promise.all([
      attempt({ crls: [elsewhere.pem] }),
      attempt({ crls: [elsewhere.pem], trustedCas: [], allow: [pki.good.sha256] }),
      attempt({ maxChainDepth: 17 }),
    ]);
    expect(outcomes).toEqual([
      "RangeError: invalid CRL from CN=elsewhere: it is not signed by a trusted CA of that name",
      "CONFIG_INVALID: CRLs were given without a trusted CA to check them against",
      "CONFIG_INVALID: invalid maxChainDepth 17: expected a whole number from 0 to 16",
    ]);
  });
});
