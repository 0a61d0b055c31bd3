// Changing who may connect while running: setTrust applies to new connections at once and to
// established ones at their next command; authorize() refuses commands with an ERR reply.

import { expect, test } from "bun:test";
import { makeTestPki } from "../support/pki.ts";
import { RawClient, connectAdmitted, startServer } from "../support/harness.ts";
import { GREETING, errReply, errorLine, okReply, request } from "../support/wire.ts";

const pki = await makeTestPki();

test("a client dropped from the allow-list is cut off at its next command; others carry on", async () => {
  await using server = await startServer({ trustedCas: [], allow: [pki.selfSignedAllowed.sha256, pki.good.sha1] }, (s) => s.command("PING", () => "PONG"));
  const carol = await connectAdmitted(server.port, { certificate: pki.selfSignedAllowed });
  await using alice = await connectAdmitted(server.port);
  server.setTrust({ allow: [pki.good.sha1], trustedCas: [] });
  carol.write(request("PING", "1") + request("PING", "2"));
  alice.write(request("PING", "1"));
  expect(await carol.untilClosed()).toBe(GREETING + errorLine(`unknown certificate CN=carol, SHA-1 ${pki.selfSignedAllowed.sha1}`));
  await alice.waitFor(okReply("1", "PONG"));
  const refused = await RawClient.connect({ port: server.port, certificate: pki.selfSignedAllowed });
  expect(await refused.untilClosed()).toBe(errorLine(`unknown certificate CN=carol, SHA-1 ${pki.selfSignedAllowed.sha1}`));
});

test("a bad trust rule is refused whole and the old rules stay", async () => {
  await using server = await startServer({}, (s) => s.command("PING", () => "PONG"));
  expect(() => server.setTrust({ allow: ["not-a-thumbprint"], trustedCas: [] })).toThrow();
  await using alice = await connectAdmitted(server.port);
  alice.write(request("PING", "1"));
  await alice.waitFor(okReply("1", "PONG"));
});

test("a command the authorizer refuses gets an ERR reply naming command and client, and never runs", async () => {
  let puts = 0;
  await using server = await startServer({}, (s) =>
    s
      .command("GET", () => "value")
      .command("PUT", () => void puts++)
      .authorize((conn, command) => command === "GET" || conn.identity === "admin"),
  );
  await using alice = await connectAdmitted(server.port);
  alice.write(request("PUT k", "1", "v") + request("GET k", "2"));
  const expected = GREETING + errReply("1", "command 'PUT' is not allowed for CN=alice") + okReply("2", "value");
  await alice.waitFor(okReply("2", "value"));
  expect(alice.received).toBe(expected);
  expect(puts).toBe(0);
});

test("a revoked client that only listens is cut off at the trust change, and gets no more pushes", async () => {
  const subscribers = new Set<import("../../src/index.ts").Connection>();
  const subscribed = Promise.withResolvers<void>();
  await using server = await startServer({ trustedCas: [], allow: [pki.selfSignedAllowed.sha256, pki.good.sha256] }, (s) =>
    s.command("LISTEN", (req, conn) => {
      subscribers.add(conn);
      subscribed.resolve();
      return "";
    }),
  );
  const carol = await connectAdmitted(server.port, { certificate: pki.selfSignedAllowed });
  carol.write(request("LISTEN", "l"));
  await subscribed.promise;
  await carol.waitFor(okReply("l"));
  server.setTrust({ allow: [pki.good.sha256], trustedCas: [] });
  for (const conn of subscribers) conn.push("l", "secret");
  expect(await carol.untilClosed()).toBe(GREETING + okReply("l") + errorLine(`unknown certificate CN=carol, SHA-1 ${pki.selfSignedAllowed.sha1}`));
});

test("an authorizer that throws refuses the command (fail closed) and the connection carries on", async () => {
  const errors: unknown[] = [];
  await using server = await startServer({}, (s) =>
    s
      .command("PING", () => "PONG")
      .command("BOOM", () => "never")
      .authorize((_conn, command) => {
        if (command === "BOOM") throw new Error("policy store down");
        return true;
      })
      .on("error", (error) => errors.push(error)),
  );
  await using alice = await connectAdmitted(server.port);
  alice.write(request("PING", "1") + request("BOOM", "2") + request("PING", "3"));
  const expected = GREETING + okReply("1", "PONG") + errReply("2", "command 'BOOM' is not allowed for CN=alice") + okReply("3", "PONG");
  await alice.waitFor(okReply("3", "PONG"));
  expect(alice.received).toBe(expected);
  expect(errors).toHaveLength(1);
});
