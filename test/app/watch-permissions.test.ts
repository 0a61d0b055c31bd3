// WATCH delivers values, so it needs the right to read them as well as the right to watch; and
// a watch is only as good as its owner's permissions now: a change of rules reaches every open
// watch before its next push, and a watch its owner may no longer hold ends with a last PUSH.
// Over in-memory connections: the certificates are judged as at a handshake, without TLS.

import { describe, expect, test } from "bun:test";
import { MemoryStore, type Authorizer } from "../../src/index.ts";
import { installApp } from "../../src/app/install-app.ts";
import { connectInMemory, memoryServer } from "../support/memory-client.ts";
import { makeTestPki } from "../support/pki.ts";
import { GREETING, errReply, okReply, reply, request } from "../support/wire.ts";

const pki = await makeTestPki();

/** alice (the test PKI's `good`) may do what `aliceMay` allows; carol (allow-listed) everything. */
async function appServer(aliceMay: ReadonlySet<string>) {
  const server = await memoryServer();
  await installApp(server, new MemoryStore());
  const rules = (allowed: ReadonlySet<string>): Authorizer => (conn, command) => conn.identity !== "alice" || allowed.has(command);
  server.authorize(rules(aliceMay));
  return { server, narrow: (allowed: ReadonlySet<string>) => server.authorize(rules(allowed)) };
}

describe("WATCH and the right to read", () => {
  test("a client allowed WATCH but not GET cannot watch: it would receive values it could not GET", async () => {
    const { server } = await appServer(new Set(["WATCH", "PING"]));
    await using _server = server;
    await using alice = await connectInMemory(server);
    await using carol = await connectInMemory(server, { certificate: pki.selfSignedAllowed });
    alice.write(request("WATCH secret/", "w"));
    await alice.waitFor("Sequence: w\r\n");
    carol.write(request("PUT secret/1", "1", "s3cr3t"));
    await carol.waitFor(okReply("1", "", [["Version", "1"]]));
    alice.write(request("PING", "p"));
    await alice.waitFor(okReply("p", "PONG"));
    expect(alice.received).toBe(GREETING + errReply("w", "WATCH delivers values: command 'GET' is not allowed for CN=alice") + okReply("p", "PONG"));
  });

  for (const [lost, rules] of [
    ["GET", new Set(["WATCH", "PING"])],
    ["WATCH", new Set(["GET", "PING"])],
  ] as const) {
    test(`a watch whose owner loses ${lost} ends with a last PUSH before the next value, and pushes nothing more`, async () => {
      const { server, narrow } = await appServer(new Set(["WATCH", "GET", "PING"]));
      await using _server = server;
      await using alice = await connectInMemory(server);
      await using carol = await connectInMemory(server, { certificate: pki.selfSignedAllowed });
      alice.write(request("WATCH secret/", "w"));
      await alice.waitFor(okReply("w"));
      carol.write(request("PUT secret/1", "1", "before"));
      const first = reply("PUSH", "w", "before", [["Key", "secret/1"], ["Op", "PUT"], ["Version", "1"]]);
      await alice.waitFor(first);
      narrow(rules);
      carol.write(request("PUT secret/2", "2", "after") + request("PUT secret/3", "3", "later"));
      await carol.waitFor(okReply("3", "", [["Version", "1"]]));
      alice.write(request("PING", "p") + request("WATCH secret/", "w2"));
      await alice.waitFor("Sequence: w2\r\n");
      const end = reply("PUSH", "w", `watch ended: command '${lost}' is not allowed for CN=alice`, [["Op", "END"]]);
      const refused = lost === "GET" ? "WATCH delivers values: command 'GET' is not allowed for CN=alice" : "command 'WATCH' is not allowed for CN=alice";
      expect(alice.received).toBe(GREETING + okReply("w") + first + end + okReply("p", "PONG") + errReply("w2", refused));
      expect(alice.received).not.toContain("after");
    });
  }
});
