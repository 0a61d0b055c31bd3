// Identities beyond CN on a real server (issue 11 section 3): [[clients]] entries that match a
// SPIFFE ID exactly or by prefix, a DNS name, an e-mail address, or an SPKI pin; SAN rules
// bind only certificates a trusted CA vouched for; an SPKI pin admits like a thumbprint (in
// [[clients]] and in the allow-list); a SPIFFE SVID without CN is known by its SPIFFE ID, and
// WHOAMI and the refused log line show the SANs. Mistakes in these rules are one line each.

import { describe, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import { registerInfoCommands } from "../../src/app/info-commands.ts";
import { MemoryStore } from "../../src/app/memory-store.ts";
import { ClientRules } from "../../src/config/client-rules.ts";
import { Logger } from "../../src/ops/logger.ts";
import { logServerEvents } from "../../src/ops/server-log.ts";
import type { GnpServer } from "../../src/server/server.ts";
import { forge, forgeCa, forgeLeaf, type Forged } from "../support/chains.ts";
import { RawClient, connectAdmitted, startServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { errReply, okReply, request } from "../support/wire.ts";

const pki = await makeTestPki();
const root = await forgeCa("Mesh Root");
const svid = (id: string) => forgeLeaf("x", root, { subject: "", altNames: [{ type: "url", value: id }] });
const [api, worker, other, webhost, mailer, pinned] = await Promise.all([
  svid("spiffe://acme.example/ns/prod/sa/api"),
  svid("spiffe://acme.example/ns/prod/sa/worker"),
  svid("spiffe://acme.example/ns/dev/sa/api"),
  forgeLeaf("web", root, { sans: ["web-1.acme.example"] }),
  forgeLeaf("mailer", root, { altNames: [{ type: "email", value: "robot@Acme.example" }] }),
  forgeLeaf("pinned", root),
]);
// Self-signed, claiming the api's SPIFFE ID: on the allow-list, but no CA vouched for its SAN.
const impostor = await forge({ cn: "impostor", altNames: [{ type: "url", value: "spiffe://acme.example/ns/prod/sa/api" }] });
const strangerKey = await forge({ cn: "stranger" });
const spkiHex = (cert: Forged) => createHash("sha256").update(new X509Certificate(cert.pem).publicKey.export({ type: "spki", format: "der" })).digest("hex");
const spkiBase64 = (cert: Forged) => `sha256/${Buffer.from(spkiHex(cert), "hex").toString("base64")}`;

const rules = ClientRules.parse(
  [
    { name: "api", uri: "spiffe://acme.example/ns/prod/sa/api", allow: ["GET"] },
    { name: "prod", uri: "spiffe://acme.example/ns/prod/*", allow: ["PING"] },
    { name: "dev-ish", uri: "spiffe://acme.example/ns/dev*", allow: ["ECHO"] },
    { name: "web", dns: "*.acme.example", allow: ["ECHO"] },
    { name: "mail", email: "robot@acme.example", allow: ["PING"] },
    { name: "by-key", spki: spkiHex(pinned).match(/../g)!.join(":"), allow: "*" },
    { name: "stranger", spki: spkiBase64(strangerKey), allow: ["PING"] },
  ],
  "gnp.toml",
);

async function start(): Promise<GnpServer & AsyncDisposable> {
  return startServer({ allow: [...rules.pins, impostor.sha256], trustedCas: [root.pem] }, (server) => {
    for (const name of ["GET", "PING", "ECHO"]) server.command(name, () => name);
    registerInfoCommands(server, new MemoryStore(), { permissionsOf: rules.permissionsOf });
    server.authorize(rules.authorizer);
  });
}

const pem = (cert: Forged) => ({ cert: cert.pem, key: cert.keyPem, ca: pki.ca.certificatePem });

async function whoami(port: number, cert: Forged): Promise<Record<string, unknown>> {
  await using client = await connectAdmitted(port, { pem: pem(cert) });
  client.write(request("WHOAMI", "w"));
  // The body is JSON and the last thing on the wire.
  await client.waitFor((text) => text.endsWith("}"));
  return JSON.parse(client.received.slice(client.received.indexOf("{"))) as Record<string, unknown>;
}

/** The permissions each client gets: WHOAMI's list. */
async function permissions(port: number, cert: Forged): Promise<unknown> {
  return (await whoami(port, cert)).permissions;
}

describe("[[clients]] by uri, dns, email and spki", () => {
  test("each rule grants what it lists to the certificates it names", async () => {
    await using server = await start();
    const granted = await Promise.all([api, worker, other, webhost, mailer, pinned, strangerKey].map((cert) => permissions(server.port, cert)));
    expect(granted).toEqual([["GET", "PING"], ["PING"], ["ECHO"], ["ECHO"], ["PING"], ["*"], ["PING"]]);
  });

  test("a SAN rule does not match a certificate no trusted CA vouched for, whatever it claims", async () => {
    await using server = await start();
    expect(await whoami(server.port, impostor)).toMatchObject({ identity: "impostor", admittedBy: "thumbprint allow-list", permissions: [] });
    await using client = await connectAdmitted(server.port, { pem: pem(impostor) });
    client.write(request("GET k", "1"));
    await client.waitFor(errReply("1", "command 'GET' is not allowed for CN=impostor"));
  });

  test("a SPIFFE SVID without CN is known by its SPIFFE ID; WHOAMI shows its SANs, pin and CA", async () => {
    await using server = await start();
    expect(await whoami(server.port, api)).toMatchObject({
      identity: "spiffe://acme.example/ns/prod/sa/api",
      subject: "",
      sans: ["spiffe://acme.example/ns/prod/sa/api"],
      spiffeId: "spiffe://acme.example/ns/prod/sa/api",
      altNames: { dns: [], email: [], uri: ["spiffe://acme.example/ns/prod/sa/api"], ip: [] },
      spki: spkiBase64(api),
      trustedCa: "CN=Mesh Root",
    });
    await using client = await connectAdmitted(server.port, { pem: pem(api) });
    client.write(request("ECHO hi", "1"));
    await client.waitFor(errReply("1", "command 'ECHO' is not allowed for spiffe://acme.example/ns/prod/sa/api"));
  });
});

describe("SPKI pins in the allow-list", () => {
  test("--allow sha256/BASE64 admits any certificate of that key, self-signed or not", async () => {
    const rekeyed = await forge({ cn: "rekeyed", keys: strangerKey.keys });
    await using server = await startServer({ allow: [spkiBase64(strangerKey)], trustedCas: [] });
    for (const cert of [strangerKey, rekeyed]) {
      await using client = await connectAdmitted(server.port, { pem: pem(cert) });
      expect(client.received).toBe("OK\r\n");
    }
    await using refused = await RawClient.connect({ port: server.port, pem: pem(impostor) });
    expect(await refused.untilClosed()).toStartWith("ERR: unknown certificate CN=impostor");
  });

  test("a pin of the wrong length is refused when the server is made", async () => {
    await expect(startServer({ allow: ["sha256/AAAA"] })).rejects.toThrow('invalid SPKI pin "sha256/AAAA": expected sha256/ and the base64 of a 32-byte SHA-256 digest (44 characters), got 3 bytes');
  });
});

test("a refused client's SANs reach the log line", async () => {
  const lines: string[] = [];
  const logger = new Logger({ format: "json", write: (line) => lines.push(line) });
  const stranger = await forge({ cn: "stranger", altNames: [{ type: "url", value: "spiffe://evil.example/x" }, { type: "dns", value: "evil.example" }] });
  await using server = await startServer({ trustedCas: [root.pem], allow: [] }, (s) => logServerEvents(s, logger));
  await using client = await RawClient.connect({ port: server.port, pem: pem(stranger) });
  await client.untilClosed();
  const refused = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((record) => record.event === "refused");
  expect(refused).toMatchObject({ code: "CERT_UNKNOWN", identity: "stranger", sans: "URI:spiffe://evil.example/x, DNS:evil.example" });
});

test.each([
  [{ name: "x", uri: "not a uri", allow: "*" }, 'gnp.toml: clients[1] ("x"): uri "not a uri" is not a URI: expected a URI such as "spiffe://example.org/ns/prod/sa/api", with * at the end for a prefix ("spiffe://example.org/ns/prod/*")'],
  [{ name: "x", uri: "spiffe://acme.example/*/api", allow: "*" }, 'gnp.toml: clients[1] ("x"): uri "spiffe://acme.example/*/api" is not a URI: expected a URI such as "spiffe://example.org/ns/prod/sa/api", with * at the end for a prefix ("spiffe://example.org/ns/prod/*")'],
  [{ name: "x", spki: "AB:CD", allow: "*" }, 'gnp.toml: clients[1] ("x"): malformed spki pin "AB:CD": expected 64 hex digits (SHA-256) or sha256/BASE64'],
  [{ name: "x", spki: "sha256/AAAA", allow: "*" }, 'gnp.toml: clients[1] ("x"): malformed spki pin "sha256/AAAA": expected sha256/ and the base64 of a 32-byte SHA-256 digest (44 characters), got 3 bytes'],
  [{ name: "x", dns: "bad name!", allow: "*" }, 'gnp.toml: clients[1] ("x"): malformed dns "bad name!": expected a DNS name such as "api.example.org", or "*.example.org" for one label under it'],
  [{ name: "x", email: "nobody", allow: "*" }, 'gnp.toml: clients[1] ("x"): malformed email "nobody": expected an address such as "alice@example.org"'],
  [{ name: "x", uri: "spiffe://a/b", dns: "a.b", allow: "*" }, 'gnp.toml: clients[1] ("x"): give one of thumbprint, spki, subject, uri, dns, email, not uri and dns'],
] as const)("ClientRules.parse refuses %p with one line", (entry, message) => {
  expect(() => ClientRules.parse([entry as Record<string, unknown>], "gnp.toml")).toThrow(message);
});
