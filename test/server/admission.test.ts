// PROTOCOL.md section 1: the server validates every client certificate itself after the
// handshake, greets an admitted client with OK, and refuses the rest with ERR: <reason>
// and a close; nothing a refused client sent is ever executed.

import { describe, expect, test } from "bun:test";
import { makeTestPki } from "../support/pki.ts";
import { RawClient, connectAdmitted, startServer } from "../support/harness.ts";
import { GREETING, okReply, request } from "../support/wire.ts";
import type { Connection, RefusalInfo } from "../../src/index.ts";

const pki = await makeTestPki();
const iso = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, "Z");

describe("client certificate admission", () => {
  for (const tlsVersion of ["TLSv1.2", "TLSv1.3"] as const) {
    test(`a certificate issued by a trusted CA is greeted with OK under ${tlsVersion}`, async () => {
      const opened: Connection[] = [];
      await using server = await startServer({}, (s) => s.on("open", (conn) => opened.push(conn)).command("PING", () => "PONG"));
      await using client = await connectAdmitted(server.port, { tlsVersion });
      expect(client.socket.getTLSVersion()).toBe(tlsVersion);
      client.write(request("PING", "1"));
      await client.waitFor(okReply("1", "PONG"));
      expect(client.received).toBe(GREETING + okReply("1", "PONG"));
      expect(opened.map((conn) => [conn.identity, conn.certificate?.viaCa, conn.certificate?.sha256])).toEqual([["alice", true, pki.good.sha256]]);
    });
  }

  test("a self-signed certificate on the allow-list is admitted by SHA-256 or SHA-1 thumbprint", async () => {
    for (const thumbprint of [pki.selfSignedAllowed.sha256, pki.selfSignedAllowed.sha1.toLowerCase().replace(/(..)(?!$)/g, "$1:")]) {
      const opened: Connection[] = [];
      await using server = await startServer({ allow: [thumbprint], trustedCas: [] }, (s) => s.on("open", (conn) => opened.push(conn)));
      await using client = await connectAdmitted(server.port, { certificate: pki.selfSignedAllowed });
      expect(client.received).toBe(GREETING);
      expect(opened[0]?.identity).toBe("carol");
      expect(opened[0]?.certificate?.viaCa).toBe(false);
    }
  });

  const refusals = [
    ["no certificate", null, "no client certificate was presented", "CERT_MISSING"],
    ["an expired certificate", pki.expired, `certificate CN=alice-old expired at ${iso(pki.expired.notAfter)}`, "CERT_EXPIRED"],
    ["a certificate not yet valid", pki.notYetValid, `certificate CN=bob is not valid before ${iso(pki.notYetValid.notBefore)}`, "CERT_NOT_YET_VALID"],
    ["an unknown self-signed certificate", pki.unknown, `unknown certificate CN=eve, SHA-1 ${pki.unknown.sha1}`, "CERT_UNKNOWN"],
    ["a certificate from an untrusted CA", pki.signedByOtherCa, `unknown certificate CN=mallory, SHA-1 ${pki.signedByOtherCa.sha1}`, "CERT_UNKNOWN"],
  ] as const;

  for (const [name, certificate, reason, code] of refusals) {
    for (const tlsVersion of ["TLSv1.2", "TLSv1.3"] as const) {
      test(`${name} is refused with ERR: <reason> and a close, and what it sent never runs (${tlsVersion})`, async () => {
        let executed = 0;
        const refused: RefusalInfo[] = [];
        await using server = await startServer({}, (s) => s.command("COUNT", () => String(++executed)).on("refuse", (info) => refused.push(info)));
        const client = await RawClient.connect({ port: server.port, certificate, tlsVersion });
        // Sent at once, before any greeting: under TLS 1.3 these bytes can share a read with the handshake's end.
        client.write(request("COUNT", "1") + request("COUNT", "2"));
        const received = await client.untilClosed();
        expect(received).toBe(`ERR: ${reason}\r\n`);
        expect(executed).toBe(0);
        expect(refused.map((info) => [info.code, info.reason])).toEqual([[code, reason]]);
      });
    }
  }

  test("the refuse hook carries the presented certificate's thumbprints", async () => {
    const refused: RefusalInfo[] = [];
    await using server = await startServer({}, (s) => s.on("refuse", (info) => refused.push(info)));
    const client = await RawClient.connect({ port: server.port, certificate: pki.unknown });
    await client.untilClosed();
    expect(refused[0]).toMatchObject({ code: "CERT_UNKNOWN", sha1: pki.unknown.sha1, sha256: pki.unknown.sha256, remoteAddress: "127.0.0.1" });
  });

  test("a client that really offers TLS 1.1 is refused by the server with a protocol_version alert", async () => {
    const refused: RefusalInfo[] = [];
    const { promise: refusedOnce, resolve } = Promise.withResolvers<void>();
    await using server = await startServer({}, (s) =>
      s.on("refuse", (info) => {
        refused.push(info);
        resolve();
      }),
    );
    // SECLEVEL=0 lets this openssl offer TLS 1.1 at all (its default policy would refuse before
    // sending a byte); -msg prints every handshake message in both directions.
    const proc = Bun.spawn(["openssl", "s_client", "-connect", `127.0.0.1:${server.port}`, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-msg"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, exitCode] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    await refusedOnce;
    // The client did send a TLS 1.1 ClientHello, and what came back was the server's fatal alert.
    expect(stdout).toMatch(/>>> TLS 1\.1, Handshake \[length [0-9a-f]+\], ClientHello/);
    expect(stdout).toMatch(/<<< TLS 1\.[01], Alert \[length 0002\], fatal protocol_version/);
    expect(stdout).not.toContain("ServerHello");
    expect(exitCode).not.toBe(0);
    expect(refused.map((info) => [info.code, info.remoteAddress])).toEqual([["HANDSHAKE_FAILED", "127.0.0.1"]]);
    expect(refused[0]!.reason).toContain("UNSUPPORTED_PROTOCOL");
  });
});

describe("extended key usage", () => {
  test("a server certificate from a trusted CA is refused as a client certificate, unless allow-listed", async () => {
    const reason = `certificate CN=${pki.server.commonName} is not for client authentication: its extended key usage lacks clientAuth`;
    await using server = await startServer({});
    const refused = await RawClient.connect({ port: server.port, certificate: pki.server });
    expect(await refused.untilClosed()).toBe(`ERR: ${reason}\r\n`);
    await using listed = await startServer({ allow: [pki.server.sha256] });
    await using admitted = await connectAdmitted(listed.port, { certificate: pki.server });
    expect(admitted.received).toBe(GREETING);
  });
});
