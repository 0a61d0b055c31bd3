// Permissions scoped to keys (issue 11 section 4) on a real server with the app's commands:
// `[[clients]]` read and write prefixes bound GET, KEYS, WATCH (read) and PUT, DEL (write); a
// refused command gets an ERR naming command, key and client and never runs; KEYS of a wider
// prefix lists only readable keys, within its LIMIT; an open WATCH delivers only readable
// keys, under the rules in force at each push; handlers ask the same question with conn.may;
// without read or write the old rules stand.

import { describe, expect, test } from "bun:test";
import { installApp } from "../../src/app/install-app.ts";
import { MemoryStore } from "../../src/app/memory-store.ts";
import { issueClientCertificate } from "../../src/certs/generate.ts";
import { ClientRules } from "../../src/config/client-rules.ts";
import { GnpError } from "../../src/errors.ts";
import { narrowScope } from "../../src/server/key-prefixes.ts";
import type { GnpServer } from "../../src/server/server.ts";
import { connectAdmitted, startServer, type RawClient } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { errReply, okReply, request } from "../support/wire.ts";

const pki = await makeTestPki();
const bob = await issueClientCertificate(pki.ca, { commonName: "bob" });
const version = (n: number): [string, string][] => [["Version", String(n)]];

const rules = (...extra: Record<string, unknown>[]) =>
  ClientRules.parse(
    [
      { name: "alice", subject: "CN=alice", allow: "*", read: ["reports/", "users/alice/"], write: ["users/alice/"] },
      { name: "bob", subject: "CN=bob", allow: "*" },
      ...extra,
    ],
    "gnp.toml",
  );

async function appServer(clients: ClientRules, setup?: (server: GnpServer) => void): Promise<GnpServer & AsyncDisposable & { store: MemoryStore }> {
  const store = new MemoryStore();
  for (const key of ["reports/q1", "reports/q2", "secret/plan", "users/alice/a", "users/alice/b", "users/bob/x"]) store.put(key, new TextEncoder().encode(key));
  const server = await startServer({}, setup);
  await installApp(server, store, { permissionsOf: clients.permissionsOf });
  server.authorize(clients.authorizer).scopeKeys(clients.keyScopes);
  return Object.assign(server, { store });
}

async function exchange(client: RawClient, wire: string, until: string): Promise<string> {
  const start = client.received.length;
  client.write(wire);
  await client.waitFor((text) => text.slice(start).includes(until));
  return client.received.slice(start);
}

describe("read and write prefixes", () => {
  test("GET, PUT and DEL outside them get an ERR naming command, key and client, and never run", async () => {
    await using server = await appServer(rules());
    await using alice = await connectAdmitted(server.port, { certificate: pki.good });
    const got = await exchange(
      alice,
      request("GET reports/q1", "1") + request("GET secret/plan", "2") + request("PUT users/alice/c", "3", "mine") + request("PUT reports/q3", "4", "forged") + request("DEL users/bob/x", "5") + request("PING", "6"),
      "Sequence: 6",
    );
    expect(got).toBe(
      okReply("1", "reports/q1", version(1)) +
        errReply("2", "command 'GET' on key 'secret/plan' is not allowed for CN=alice") +
        okReply("3", "", version(1)) +
        errReply("4", "command 'PUT' on key 'reports/q3' is not allowed for CN=alice") +
        errReply("5", "command 'DEL' on key 'users/bob/x' is not allowed for CN=alice") +
        okReply("6", "PONG"),
    );
    expect([server.store.get("reports/q3"), server.store.get("users/bob/x")?.version]).toEqual([undefined, 1]);
  });

  test("KEYS of a wider prefix lists only the readable keys, within its LIMIT; a prefix with none is refused", async () => {
    await using server = await appServer(rules());
    await using alice = await connectAdmitted(server.port, { certificate: pki.good });
    const listing = (sequence: string, keys: string[], more: boolean) => okReply(sequence, keys.join("\n"), [["Count", String(keys.length)], ["More", String(more)]]);
    // Replies may come in any order (PROTOCOL.md section 2): one request at a time.
    const ask = (command: string, sequence: string) => exchange(alice, request(command, sequence), `Sequence: ${sequence}`);
    expect(await ask("KEYS", "1")).toBe(listing("1", ["reports/q1", "reports/q2", "users/alice/a", "users/alice/b"], false));
    expect(await ask("KEYS r 1", "2")).toBe(listing("2", ["reports/q1"], true));
    expect(await ask("KEYS users/", "3")).toBe(listing("3", ["users/alice/a", "users/alice/b"], false));
    expect(await ask("KEYS users/ 1", "4")).toBe(listing("4", ["users/alice/a"], true));
    expect(await ask("KEYS secret/", "5")).toBe(errReply("5", "command 'KEYS' on prefix 'secret/' is not allowed for CN=alice"));
    expect(await ask("KEYS users/alice/b", "6")).toBe(listing("6", ["users/alice/b"], false));
  });

  test("a WATCH of a wider prefix delivers only the readable keys; one of an unreadable prefix is refused", async () => {
    await using server = await appServer(rules());
    await using alice = await connectAdmitted(server.port, { certificate: pki.good });
    await using writer = await connectAdmitted(server.port, { certificate: bob });
    expect(await exchange(alice, request("WATCH", "w") + request("WATCH secret/", "s"), "Sequence: s")).toBe(okReply("w") + errReply("s", "command 'WATCH' on prefix 'secret/' is not allowed for CN=alice"));
    await exchange(writer, request("PUT secret/plan", "1", "v2") + request("PUT users/alice/a", "2", "v2"), "Sequence: 2");
    await alice.waitFor("Key: users/alice/a");
    expect(alice.received).not.toContain("secret/plan");
  });

  test("narrowed rules reach an open WATCH at its next push and GET at its next command", async () => {
    await using server = await appServer(rules());
    await using alice = await connectAdmitted(server.port, { certificate: pki.good });
    await using writer = await connectAdmitted(server.port, { certificate: bob });
    await exchange(alice, request("WATCH users/alice/", "w"), "Sequence: w");
    const narrowed = ClientRules.parse([{ name: "alice", subject: "CN=alice", allow: "*", read: ["users/alice/b"] }, { name: "bob", subject: "CN=bob", allow: "*" }], "gnp.toml");
    server.authorize(narrowed.authorizer).scopeKeys(narrowed.keyScopes);
    await exchange(writer, request("PUT users/alice/a", "1", "hidden") + request("PUT users/alice/b", "2", "shown"), "Sequence: 2");
    await alice.waitFor("Key: users/alice/b");
    expect(alice.received).not.toContain("Key: users/alice/a");
    expect(await exchange(alice, request("GET users/alice/a", "3"), "Sequence: 3")).toBe(errReply("3", "command 'GET' on key 'users/alice/a' is not allowed for CN=alice"));
  });

  test("a WATCH left with no readable key under its prefix ends with Op: END and the reason", async () => {
    await using server = await appServer(rules());
    await using alice = await connectAdmitted(server.port, { certificate: pki.good });
    await using writer = await connectAdmitted(server.port, { certificate: bob });
    await exchange(alice, request("WATCH reports/", "w"), "Sequence: w");
    const narrowed = ClientRules.parse([{ name: "alice", subject: "CN=alice", allow: "*", read: ["users/alice/"] }, { name: "bob", subject: "CN=bob", allow: "*" }], "gnp.toml");
    server.authorize(narrowed.authorizer).scopeKeys(narrowed.keyScopes);
    await exchange(writer, request("PUT reports/q1", "1", "secret numbers") + request("PUT reports/q2", "2", "more"), "Sequence: 2");
    await alice.waitFor("Op: END");
    const ended = "watch ended: command 'WATCH' on prefix 'reports/' is not allowed for CN=alice";
    expect(alice.received.slice(alice.received.indexOf("PUSH"))).toBe(`PUSH\r\nSequence: w\r\nSize: ${ended.length}\r\nOp: END\r\n\r\n${ended}`);
    // Ended: the next change under the prefix sends nothing, and alice reads nothing there.
    await exchange(writer, request("PUT reports/q3", "3", "x"), "Sequence: 3");
    expect(await exchange(alice, request("PING", "4"), "Sequence: 4")).toBe(okReply("4", "PONG"));
    expect(alice.received).not.toContain("secret numbers");
  });

  test("without read or write, a client's keys are all its commands reach, as before", async () => {
    await using server = await appServer(rules());
    await using b = await connectAdmitted(server.port, { certificate: bob });
    expect(await exchange(b, request("GET secret/plan", "1") + request("PUT reports/q9", "2", "x"), "Sequence: 2")).toBe(okReply("1", "secret/plan", version(1)) + okReply("2", "", version(1)));
  });

  test("entries add up: read from one, write from another; WHOAMI shows both", async () => {
    const both = rules({ name: "alice-writes", subject: "CN=alice", allow: ["PUT"], write: ["reports/"] });
    await using server = await appServer(both);
    await using alice = await connectAdmitted(server.port, { certificate: pki.good });
    expect(await exchange(alice, request("PUT reports/q3", "1", "x"), "Sequence: 1")).toBe(okReply("1", "", version(1)));
    await exchange(alice, request("WHOAMI", "2"), "Sequence: 2");
    await alice.waitFor((text) => text.endsWith("}"));
    const whoami = JSON.parse(alice.received.slice(alice.received.indexOf('{"identity"'))) as Record<string, unknown>;
    expect([whoami.read, whoami.write]).toEqual([["reports/", "users/alice/"], ["users/alice/", "reports/"]]);
  });
});

test("a handler asks the same question: conn.may(access, key)", async () => {
  await using server = await appServer(rules(), (s) =>
    s.command("TOUCH", (req, conn) => {
      const key = req.args[0]!;
      if (!conn.may("write", key)) throw new GnpError("NOT_ALLOWED", `command 'TOUCH' on key '${key}' is not allowed for ${conn.identity}`);
      return `touched ${key}`;
    }),
  );
  await using alice = await connectAdmitted(server.port, { certificate: pki.good });
  expect(await exchange(alice, request("TOUCH users/alice/z", "1") + request("TOUCH reports/q1", "2"), "Sequence: 2")).toBe(
    okReply("1", "touched users/alice/z") + errReply("2", "command 'TOUCH' on key 'reports/q1' is not allowed for alice"),
  );
});

test.each([
  [{ name: "x", subject: "CN=x", allow: "*", read: "reports/" }, 'gnp.toml: clients[1] ("x"): read must be "*" or a list of key prefixes, e.g. ["reports/", "users/alice/"]'],
  [{ name: "x", subject: "CN=x", allow: "*", write: ["a b"] }, 'gnp.toml: clients[1] ("x"): write must be "*" or a list of key prefixes, e.g. ["reports/", "users/alice/"]; got "a b" (no spaces or control characters, at most 512 bytes)'],
] as const)("ClientRules.parse refuses %p with one line", (entry, message) => {
  expect(() => ClientRules.parse([entry as Record<string, unknown>], "gnp.toml")).toThrow(message);
});


test("narrowScope: the part of a scope under a prefix, without overlaps, in key order", () => {
  expect([
    narrowScope(["users/alice/", "reports/", "users/"], ""),
    narrowScope(["users/"], "users/bob/"),
    narrowScope(["users/alice/"], "reports/"),
    narrowScope(["\u{FFFF}", "\u{10000}", "a"], ""),
    narrowScope([""], "anything"),
    narrowScope("*", "x"),
  ]).toEqual([["reports/", "users/"], "*", [], ["a", "\u{FFFF}", "\u{10000}"], "*", "*"]);
});
