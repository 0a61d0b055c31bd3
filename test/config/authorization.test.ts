// [[clients]] permissions on a real server: a command a client may not run gets an ERR reply
// naming command and client and never runs; a client gets the union of the entries it matches;
// one that matches none may run only WHOAMI; subject entries trust only what a CA vouched for.

import { expect, test } from "bun:test";
import { createSelfSignedCertificate, issueClientCertificate } from "../../src/certs/generate.ts";
import { ClientRules } from "../../src/config/client-rules.ts";
import { registerInfoCommands } from "../../src/app/info-commands.ts";
import { MemoryStore } from "../../src/app/memory-store.ts";
import type { GnpServer } from "../../src/server/server.ts";
import { makeTestPki } from "../support/pki.ts";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { GREETING, errReply, okReply, request } from "../support/wire.ts";

const pki = await makeTestPki();
const [dave, fakeAlice] = await Promise.all([
  issueClientCertificate(pki.ca, { commonName: "dave" }),
  // Self-signed, claiming alice's name: admitted by thumbprint only, so no subject rule applies.
  createSelfSignedCertificate({ commonName: "alice" }),
]);

const rules = ClientRules.parse(
  [
    { name: "alice", subject: "CN=alice", allow: ["GET", "PING"] },
    { name: "alice-writes", subject: "CN=alice", allow: ["put"] },
    { name: "carol", thumbprint: pki.selfSignedAllowed.sha1.toLowerCase().match(/../g)!.join(":"), allow: "*" },
  ],
  "gnp.toml",
);

async function startWithRules(ran: string[]): Promise<GnpServer & AsyncDisposable> {
  return startServer({ allow: [...rules.pins, fakeAlice.sha256] }, (server) => {
    for (const name of ["GET", "PUT", "DEL", "PING"]) server.command(name, () => void ran.push(name));
    registerInfoCommands(server, new MemoryStore(), { permissionsOf: rules.permissionsOf });
    server.authorize(rules.authorizer);
  });
}

test("a refused command gets ERR naming the command and the client, and never runs", async () => {
  const ran: string[] = [];
  await using server = await startWithRules(ran);
  await using alice = await connectAdmitted(server.port, { certificate: pki.good });
  alice.write(request("DEL k", "1") + request("get k", "2") + request("PUT k", "3", "v"));
  await alice.waitFor(okReply("3"));
  expect(alice.received).toBe(GREETING + errReply("1", "command 'DEL' is not allowed for CN=alice") + okReply("2") + okReply("3"));
  expect(ran).toEqual(["GET", "PUT"]);
});

test("a thumbprint entry admits its client and grants what it lists", async () => {
  const ran: string[] = [];
  await using server = await startWithRules(ran);
  await using carol = await connectAdmitted(server.port, { certificate: pki.selfSignedAllowed });
  carol.write(request("DEL k", "1"));
  await carol.waitFor(okReply("1"));
  expect(ran).toEqual(["DEL"]);
});

test("a client that matches no entry may run only WHOAMI, which shows it has no permissions", async () => {
  await using server = await startWithRules([]);
  await using client = await connectAdmitted(server.port, { certificate: dave });
  client.write(request("PING", "1") + request("WHOAMI", "2"));
  await client.waitFor((text) => text.includes("Sequence: 2"));
  await client.waitFor((text) => text.endsWith("}"));
  expect(client.received).toStartWith(GREETING + errReply("1", "command 'PING' is not allowed for CN=dave") + "OK\r\nSequence: 2\r\n");
  const body = JSON.parse(client.received.slice(client.received.indexOf("{")));
  expect(body.identity).toBe("dave");
  expect(body.permissions).toEqual([]);
});

test("WHOAMI shows the union of the entries a client matches", async () => {
  await using server = await startWithRules([]);
  await using alice = await connectAdmitted(server.port, { certificate: pki.good });
  alice.write(request("WHOAMI", "1"));
  await alice.waitFor((text) => text.endsWith("}"));
  expect(JSON.parse(alice.received.slice(alice.received.indexOf("{"))).permissions).toEqual(["GET", "PING", "PUT"]);
});

test("a subject entry does not apply to a self-signed certificate that claims the same name", async () => {
  const ran: string[] = [];
  await using server = await startWithRules(ran);
  await using impostor = await connectAdmitted(server.port, { certificate: fakeAlice });
  impostor.write(request("GET k", "1"));
  await impostor.waitFor(errReply("1", "command 'GET' is not allowed for CN=alice"));
  expect(ran).toEqual([]);
});

test("with no [[clients]] every admitted client may run everything", async () => {
  expect(ClientRules.NONE.isEmpty).toBe(true);
  const ran: string[] = [];
  await using server = await startServer({}, (s) => s.command("DEL", () => void ran.push("DEL")).authorize(ClientRules.NONE.authorizer));
  await using alice = await connectAdmitted(server.port);
  alice.write(request("DEL k", "1"));
  await alice.waitFor(okReply("1"));
  expect(ran).toEqual(["DEL"]);
});

test.each([
  [{ name: "x", allow: "*" }, 'gnp.toml: clients[1] ("x"): give one of thumbprint, spki, subject, uri, dns, email to say which certificate this is'],
  [{ name: "x", subject: "CN=x", thumbprint: pki.good.sha1, allow: "*" }, 'gnp.toml: clients[1] ("x"): give one of thumbprint, spki, subject, uri, dns, email, not thumbprint and subject'],
  [{ name: "x", subject: "alice", allow: "*" }, 'gnp.toml: clients[1] ("x"): malformed subject "alice": expected TYPE=VALUE pairs such as "CN=reporting, O=Acme" (types CN, O, OU, C, L, ST, ... in upper case)'],
  [{ name: "x", subject: "CN=x" }, 'gnp.toml: clients[1] ("x"): allow is required: "*" or a list of command names, e.g. ["GET", "PING"]'],
  [{ name: "x", subject: "CN=x", allow: "GET" }, 'gnp.toml: clients[1] ("x"): allow must be "*" or a list of command names, e.g. ["GET", "PING"]'],
  [{ subject: "CN=x", allow: "*" }, "gnp.toml: clients[1]: name is required: a string naming the client"],
] as const)("ClientRules.parse refuses %p with one line", (entry, message) => {
  expect(() => ClientRules.parse([entry as Record<string, unknown>], "gnp.toml")).toThrow(message);
});

test("two entries with one name are refused", () => {
  const entry = { name: "x", subject: "CN=x", allow: "*" };
  expect(() => ClientRules.parse([entry, entry], "gnp.toml")).toThrow('gnp.toml: clients[2]: name "x" is used twice');
});
