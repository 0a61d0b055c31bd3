// Generated certificates over real TLS on 127.0.0.1: a Bun.listen server that
// requests a client certificate, accepts any at the TLS layer, and decides with
// CertificateValidator in its handshake handler, as PROTOCOL.md section 1 says.
// Clients are node:tls and Bun.connect, under TLS 1.2 and 1.3.
import { describe, expect, test } from "bun:test";
import tls from "node:tls";
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type IssuedCertificate,
} from "../../src/certs/generate.ts";
import { CertificateValidator, type Admission } from "../../src/certs/validator.ts";
import { makeTestPki } from "../support/pki.ts";

type ServerEvent = { admission: Admission; version: string | null };

// A gnp-like server reduced to its first line: `OK` or `ERR: <reason>`, then close.
function startServer(server: IssuedCertificate, validator: CertificateValidator) {
  const events: ServerEvent[] = [];
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: server.certificatePem, key: server.privateKeyPem, requestCert: true, rejectUnauthorized: false },
    socket: {
      handshake(socket) {
        const admission = validator.validate(socket.getPeerCertificate());
        events.push({ admission, version: socket.getTLSVersion() });
        socket.end(admission.ok ? "OK\r\n" : `ERR: ${admission.reason}\r\n`);
      },
      data() {},
    },
  });
  return { port: listener.port, events, [Symbol.dispose]: () => listener.stop(true) };
}

// Everything the server wrote until it closed; rejects if TLS fails (the
// client does verify the server's chain and its 127.0.0.1 SAN against `ca`).
function nodeClient(
  port: number,
  options: { ca: string; cert?: string; key?: string; version?: tls.SecureVersion },
): Promise<string> {
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  const socket = tls.connect({
    host: "127.0.0.1",
    port,
    ca: options.ca,
    cert: options.cert,
    key: options.key,
    minVersion: options.version,
    maxVersion: options.version,
  });
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => (text += chunk));
  socket.on("close", () => resolve(text));
  socket.on("error", reject);
  return promise;
}

async function bunClient(port: number, client: IssuedCertificate, ca: string) {
  const { promise, resolve, reject } = Promise.withResolvers<{ text: string; authorizationError: string | null }>();
  let text = "";
  let authorizationError: string | null = "no handshake";
  await Bun.connect({
    hostname: "127.0.0.1",
    port,
    tls: { cert: client.certificatePem, key: client.privateKeyPem, ca },
    socket: {
      handshake(_socket, _success, error) {
        authorizationError = error ? String(error) : null;
      },
      data(_socket, chunk) {
        text += chunk.toString();
      },
      close: () => resolve({ text, authorizationError }),
      error: (_socket, error) => reject(error),
      connectError: (_socket, error) => reject(error),
    },
  });
  return promise;
}

async function validatorTrustingTestCa(): Promise<CertificateValidator> {
  const { ca, selfSignedAllowed } = await makeTestPki();
  return new CertificateValidator({ allow: [selfSignedAllowed.sha256], trustedCas: [ca.certificatePem] });
}

describe.each(["TLSv1.2", "TLSv1.3"] as const)("node:tls client under %s", (version) => {
  test("a CA-signed client certificate is admitted as alice", async () => {
    const pki = await makeTestPki();
    using server = startServer(pki.server, await validatorTrustingTestCa());
    const text = await nodeClient(server.port, {
      ca: pki.ca.certificatePem,
      cert: pki.good.certificatePem,
      key: pki.good.privateKeyPem,
      version,
    });
    expect(text).toBe("OK\r\n");
    expect(server.events).toHaveLength(1);
    expect(server.events[0]).toMatchObject({ admission: { ok: true, certificate: { identity: "alice", viaCa: true } }, version });
  });

  test("a client without a certificate is refused with CERT_MISSING", async () => {
    const pki = await makeTestPki();
    using server = startServer(pki.server, await validatorTrustingTestCa());
    const text = await nodeClient(server.port, { ca: pki.ca.certificatePem, version });
    expect(text).toBe("ERR: no client certificate was presented\r\n");
    expect(server.events).toEqual([
      {
        admission: { ok: false, code: "CERT_MISSING", reason: "no client certificate was presented" },
        version,
      },
    ]);
  });
});

describe("more clients over TLS", () => {
  test("expired, unknown and allow-listed certificates get the validator's answer", async () => {
    const pki = await makeTestPki();
    using server = startServer(pki.server, await validatorTrustingTestCa());
    const ca = pki.ca.certificatePem;
    const texts = [];
    for (const client of [pki.expired, pki.unknown, pki.selfSignedAllowed, pki.signedByOtherCa]) {
      texts.push(await nodeClient(server.port, { ca, cert: client.certificatePem, key: client.privateKeyPem }));
    }
    expect(texts).toEqual([
      `ERR: certificate CN=alice-old expired at ${pki.expired.notAfter.toISOString().replace(".000Z", "Z")}\r\n`,
      `ERR: unknown certificate CN=eve, SHA-1 ${pki.unknown.sha1}\r\n`,
      "OK\r\n",
      `ERR: unknown certificate CN=mallory, SHA-1 ${pki.signedByOtherCa.sha1}\r\n`,
    ]);
  });

  test("Bun.connect presents the PEMs as they are and verifies the server against the CA", async () => {
    const pki = await makeTestPki();
    using server = startServer(pki.server, await validatorTrustingTestCa());
    const result = await bunClient(server.port, pki.good, pki.ca.certificatePem);
    expect(result).toEqual({ text: "OK\r\n", authorizationError: null });
    expect(server.events[0]?.admission).toMatchObject({ ok: true, certificate: { identity: "alice" } });
  });

  test("RSA server and client certificates work the same way", async () => {
    const ca = await createCertificateAuthority({ commonName: "rsa CA", algorithm: "rsa" });
    const [serverCert, client] = await Promise.all([
      issueServerCertificate(ca, { names: ["localhost", "127.0.0.1"], algorithm: "rsa" }),
      issueClientCertificate(ca, { commonName: "rsa-alice", algorithm: "rsa" }),
    ]);
    using server = startServer(serverCert, new CertificateValidator({ allow: [], trustedCas: [ca.certificatePem] }));
    const text = await nodeClient(server.port, {
      ca: ca.certificatePem,
      cert: client.certificatePem,
      key: client.privateKeyPem,
      version: "TLSv1.2",
    });
    expect(text).toBe("OK\r\n");
    expect(server.events[0]?.admission).toMatchObject({ ok: true, certificate: { identity: "rsa-alice" } });
  });
});
