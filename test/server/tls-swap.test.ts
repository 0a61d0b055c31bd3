// Swapping the server's certificate while it runs: new connections get the new certificate at
// once, established ones carry on, a bad pair changes nothing, and the SO_REUSEPORT that makes
// the swap possible does not let a second server share a port by accident.

import { expect, test } from "bun:test";
import { issueServerCertificate } from "../../src/certs/generate.ts";
import { GnpError } from "../../src/errors.ts";
import { makeTestPki } from "../support/pki.ts";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { okReply, request } from "../support/wire.ts";

const pki = await makeTestPki();
const renewed = await issueServerCertificate(pki.ca, { names: ["localhost", "127.0.0.1"] });

function servedSha256(client: { socket: { getPeerCertificate(): unknown } }): string {
  return String((client.socket.getPeerCertificate() as { fingerprint256?: string }).fingerprint256).replaceAll(":", "");
}

test("after setTlsCertificate a new connection sees the new certificate and an old one keeps working", async () => {
  await using server = await startServer({}, (s) => s.command("PING", () => "PONG"));
  await using before = await connectAdmitted(server.port);
  expect(servedSha256(before)).toBe(pki.server.sha256);
  server.setTlsCertificate({ cert: renewed.certificatePem, key: renewed.privateKeyPem });
  await using after = await connectAdmitted(server.port);
  expect(servedSha256(after)).toBe(renewed.sha256);
  before.write(request("PING", "1"));
  after.write(request("PING", "2"));
  await before.waitFor(okReply("1", "PONG"));
  await after.waitFor(okReply("2", "PONG"));
  expect(before.isClosed).toBe(false);
});

test("a certificate swapped twice still serves every connection until close", async () => {
  await using server = await startServer({}, (s) => s.command("PING", () => "PONG"));
  const first = await connectAdmitted(server.port);
  server.setTlsCertificate({ cert: renewed.certificatePem, key: renewed.privateKeyPem });
  const second = await connectAdmitted(server.port);
  server.setTlsCertificate({ cert: pki.server.certificatePem, key: pki.server.privateKeyPem });
  const third = await connectAdmitted(server.port);
  expect([servedSha256(first), servedSha256(second), servedSha256(third)]).toEqual([pki.server.sha256, renewed.sha256, pki.server.sha256]);
  for (const [index, client] of [first, second, third].entries()) {
    client.write(request("PING", String(index)));
    await client.waitFor(okReply(String(index), "PONG"));
  }
  await server.close();
  await Promise.all([first.closed, second.closed, third.closed]);
});

test("a key that does not match the new certificate is refused and the old certificate stays", async () => {
  await using server = await startServer({}, (s) => s.command("PING", () => "PONG"));
  let thrown: unknown;
  try {
    server.setTlsCertificate({ cert: renewed.certificatePem, key: pki.good.privateKeyPem });
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(GnpError);
  expect((thrown as GnpError).code).toBe("TLS_CONFIG_INVALID");
  await using client = await connectAdmitted(server.port);
  expect(servedSha256(client)).toBe(pki.server.sha256);
});

test("a second server on the port of a running one fails with LISTEN_FAILED, reusePort notwithstanding", async () => {
  await using first = await startServer();
  let thrown: unknown;
  try {
    await using _second = await startServer({ port: first.port });
  } catch (error) {
    thrown = error;
  }
  expect((thrown as GnpError).code).toBe("LISTEN_FAILED");
  expect((thrown as GnpError).message).toContain("address already in use");
});
