// Two gnp servers sharing one PostgreSQL, end to end over real TLS: a client watching users/ on
// instance A receives the PUSH for a PUT and a DEL made through instance B, and each instance
// reads what the other wrote, with If-Match holding across them.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { installApp } from "../../src/app/install-app.ts";
import { PostgresStore } from "../../src/app/postgres-store.ts";
import { connectAdmitted, startServer, type TestServer } from "../support/harness.ts";
import { skipWithoutPostgres, startPostgres, type TestPostgres } from "../support/postgres.ts";
import { GREETING, errReply, okReply, reply, request } from "../support/wire.ts";

type Instance = AsyncDisposable & { server: TestServer; store: PostgresStore };

/** A gnp server with the full app on its own PostgresStore; disposes the server, then the store. */
async function instance(url: string): Promise<Instance> {
  const store = await PostgresStore.open(url);
  const server = await startServer({});
  await installApp(server, store);
  return {
    server,
    store,
    [Symbol.asyncDispose]: async () => {
      await server[Symbol.asyncDispose]();
      await store.close();
    },
  };
}

describe.skipIf(skipWithoutPostgres())("two gnp instances on one PostgreSQL", () => {
  let pg: TestPostgres;
  // initdb and the first start take seconds on a busy machine: far more than a hook's default.
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });

  test("a watcher on instance A gets the PUSH for a PUT and a DEL made through instance B", async () => {
    const url = await pg.createDatabase();
    await using a = await instance(url);
    await using b = await instance(url);
    await using watcher = await connectAdmitted(a.server.port);
    await using writer = await connectAdmitted(b.server.port);

    watcher.write(request("WATCH users/", "w1"));
    await watcher.waitFor(okReply("w1"));
    writer.write(request("PUT users/1", "1", "jo") + request("PUT orders/1", "2", "no") + request("DEL users/1", "3"));
    const pushes =
      reply("PUSH", "w1", "jo", [["Key", "users/1"], ["Op", "PUT"], ["Version", "1"]]) +
      reply("PUSH", "w1", "", [["Key", "users/1"], ["Op", "DEL"], ["Version", "2"]]);
    await watcher.waitFor(GREETING + okReply("w1") + pushes);
    await writer.waitFor(okReply("3"));
    expect(writer.received).toBe(GREETING + okReply("1", "", [["Version", "1"]]) + okReply("2", "", [["Version", "1"]]) + okReply("3"));
    expect(watcher.received).toBe(GREETING + okReply("w1") + pushes);
  });

  test("each instance reads the other's writes, and a stale If-Match conflicts across them", async () => {
    const url = await pg.createDatabase();
    await using a = await instance(url);
    await using b = await instance(url);
    await using clientA = await connectAdmitted(a.server.port);
    await using clientB = await connectAdmitted(b.server.port);

    clientA.write(request("PUT doc", "1", "first"));
    await clientA.waitFor(okReply("1", "", [["Version", "1"]]));
    clientB.write(request("GET doc", "2") + request("PUT doc", "3", "second", [["If-Match", "1"]]));
    await clientB.waitFor("Sequence: 3\r\n");
    clientA.write(request("PUT doc", "4", "stale", [["If-Match", "1"]]) + request("GET doc", "5"));
    await clientA.waitFor("Sequence: 5\r\n");

    expect(clientB.received).toBe(GREETING + okReply("2", "first", [["Version", "1"]]) + okReply("3", "", [["Version", "2"]]));
    expect(clientA.received).toBe(
      GREETING +
        okReply("1", "", [["Version", "1"]]) +
        errReply("4", "conflict on doc: If-Match 1 but its version is 2") +
        okReply("5", "second", [["Version", "2"]]),
    );
  });
});
