// A PendingReply over real TLS: a command that answers later without a promise gets its reply
// at its settle, in the order the requests came when they settle in order; one settled before
// the handler returned is answered at once; a second settle is ignored; a rejection is an ERR
// reply; a settle after the connection closed writes nothing and breaks nothing.

import { describe, expect, test } from "bun:test";
import { GnpError } from "../../src/errors.ts";
import { PendingReply } from "../../src/server/pending-reply.ts";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { errReply, GREETING, okReply, request } from "../support/wire.ts";

describe("pending replies", () => {
  test("a PendingReply is answered at its settle, once, and a rejection is an ERR reply", async () => {
    const later: PendingReply[] = [];
    await using server = await startServer({}, (s) =>
      s
        .command("LATER", () => {
          const reply = new PendingReply();
          later.push(reply);
          return reply;
        })
        .command("NOW", () => {
          const reply = new PendingReply();
          reply.resolve("now");
          reply.resolve("again");
          return reply;
        })
        .command("FAIL", () => {
          const reply = new PendingReply();
          queueMicrotask(() => reply.reject(new GnpError("NOT_FOUND", "not found: x")));
          return reply;
        }),
    );
    await using client = await connectAdmitted(server.port);
    client.write(request("LATER", "1") + request("LATER", "2") + request("NOW", "3") + request("FAIL", "4"));
    await client.waitFor(errReply("4", "not found: x"));
    expect(client.received).toBe(GREETING + okReply("3", "now") + errReply("4", "not found: x"));
    expect(later.length).toBe(2);
    later[0]!.resolve("first");
    later[1]!.resolve("second");
    later[0]!.resolve("ignored");
    await client.waitFor(okReply("2", "second"));
    expect(client.received).toBe(GREETING + okReply("3", "now") + errReply("4", "not found: x") + okReply("1", "first") + okReply("2", "second"));
    expect(server.metrics.commands.get("LATER")).toEqual({ ok: 2, err: 0 });
  });

  test("a PendingReply settled after its connection closed writes nothing, and the server goes on", async () => {
    const started = Promise.withResolvers<PendingReply>();
    const closed = Promise.withResolvers<void>();
    await using server = await startServer({}, (s) =>
      s
        .command("LATER", () => {
          const reply = new PendingReply();
          started.resolve(reply);
          return reply;
        })
        .command("PING", () => "PONG")
        .on("close", () => closed.resolve()),
    );
    const gone = await connectAdmitted(server.port);
    gone.write(request("LATER", "1"));
    const reply = await started.promise;
    await gone[Symbol.asyncDispose]();
    await closed.promise;
    reply.resolve("too late");
    await using client = await connectAdmitted(server.port);
    client.write(request("PING", "2"));
    await client.waitFor(okReply("2", "PONG"));
    expect(client.received).toBe(GREETING + okReply("2", "PONG"));
    expect(server.metrics.commands.get("LATER")).toEqual({ ok: 0, err: 1 });
  });
});
