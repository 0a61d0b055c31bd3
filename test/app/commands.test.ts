// The app's commands over in-memory connections (server.inject's transport: the server's own
// framing, admission and dispatch, no socket): versions and If-Match, KEYS, WATCH/UNWATCH
// pushes, WHOAMI, INFO and TIME, with the memory store (the sqlite store passes the same store
// suite). A watcher that stops reading is the server's business, tested over TLS
// (watch-slow-reader.test.ts).

import { describe, expect, test } from "bun:test";
import { MemoryStore } from "../../src/index.ts";
import { installApp } from "../../src/app/install-app.ts";
import { connectInMemory, memoryServer } from "../support/memory-client.ts";
import { makeTestPki } from "../support/pki.ts";
import { GREETING, errReply, okReply, reply, request } from "../support/wire.ts";

const pki = await makeTestPki();

/** A memory store that counts its change listeners. */
class ListenedStore extends MemoryStore {
  listening = 0;

  override onChange(listener: Parameters<MemoryStore["onChange"]>[0]): () => void {
    this.listening++;
    const stop = super.onChange(listener);
    return () => {
      this.listening--;
      stop();
    };
  }
}

async function appServer() {
  const store = new MemoryStore();
  const server = await memoryServer();
  await installApp(server, store);
  return server;
}

/** The JSON body of the OK reply with this Sequence. */
function jsonBody(received: string, sequence: string): Record<string, unknown> {
  const match = new RegExp(`OK\\r\\nSequence: ${sequence}\\r\\nSize: (\\d+)\\r\\n(?:[^\\r]+\\r\\n)*\\r\\n`).exec(received);
  if (!match) throw new Error(`no reply ${sequence} in ${received}`);
  const start = match.index + match[0].length;
  return JSON.parse(received.slice(start, start + Number(match[1])));
}

describe("document commands", () => {
  test("PUT returns the new Version, GET returns it with the value, a stale If-Match conflicts", async () => {
    await using server = await appServer();
    await using client = await connectInMemory(server);
    client.write(
      request("PUT users/1", "1", '{"a":1}') +
        request("PUT users/1", "2", '{"a":2}', [["If-Match", "1"]]) +
        request("PUT users/1", "3", '{"a":3}', [["If-Match", "1"]]) +
        request("GET users/1", "4") +
        request("PUT users/2", "5", "new", [["If-Match", "0"]]) +
        request("DEL users/1", "6") +
        request("GET users/1", "7"),
    );
    const expected =
      GREETING +
      okReply("1", "", [["Version", "1"]]) +
      okReply("2", "", [["Version", "2"]]) +
      errReply("3", "conflict on users/1: If-Match 1 but its version is 2") +
      okReply("4", '{"a":2}', [["Version", "2"]]) +
      okReply("5", "", [["Version", "1"]]) +
      okReply("6") +
      errReply("7", "not found: users/1");
    await client.waitFor((text) => text.length >= expected.length);
    expect(client.received).toBe(expected);
  });

  test("KEYS lists sorted keys under a prefix with Count and More", async () => {
    await using server = await appServer();
    await using client = await connectInMemory(server);
    client.write(["b/2", "a/1", "b/1", "b/3"].map((key, i) => request(`PUT ${key}`, `p${i}`, "x")).join("") + request("KEYS b/ 2", "k1") + request("KEYS b/", "k2") + request("KEYS b/ 0", "k3"));
    await client.waitFor("Sequence: k3");
    expect(client.received).toContain(okReply("k1", "b/1\nb/2", [["Count", "2"], ["More", "true"]]));
    expect(client.received).toContain(okReply("k2", "b/1\nb/2\nb/3", [["Count", "3"], ["More", "false"]]));
    expect(client.received).toContain(errReply("k3", 'invalid KEYS limit "0": expected 1 to 1000'));
  });

  test("PUT and GET with the wrong number of arguments get ERR replies", async () => {
    await using server = await appServer();
    await using client = await connectInMemory(server);
    client.write(request("GET", "1") + request("PUT a b", "2", "x"));
    const expected = GREETING + errReply("1", "GET takes 1 argument, KEY: got 0") + errReply("2", "PUT takes 1 argument, KEY: got 2");
    await client.waitFor((text) => text.length >= expected.length);
    expect(client.received).toBe(expected);
  });
});

describe("WATCH", () => {
  test("a watcher gets a PUSH with Key, Op, Version and the value for each change under its prefix, until UNWATCH", async () => {
    await using server = await appServer();
    await using watcher = await connectInMemory(server);
    await using writer = await connectInMemory(server);
    watcher.write(request("WATCH users/", "w1"));
    await watcher.waitFor(okReply("w1"));
    writer.write(request("PUT users/1", "1", "jo") + request("PUT orders/1", "2", "no") + request("DEL users/1", "3"));
    const pushes = reply("PUSH", "w1", "jo", [["Key", "users/1"], ["Op", "PUT"], ["Version", "1"]]) + reply("PUSH", "w1", "", [["Key", "users/1"], ["Op", "DEL"], ["Version", "2"]]);
    await watcher.waitFor(GREETING + okReply("w1") + pushes);
    watcher.write(request("UNWATCH w1", "u1") + request("UNWATCH w1", "u2"));
    await watcher.waitFor("Sequence: u2");
    writer.write(request("PUT users/9", "4", "after"));
    await writer.waitFor(okReply("4", "", [["Version", "1"]]));
    watcher.write(request("PING", "last"));
    await watcher.waitFor(okReply("last", "PONG"));
    expect(watcher.received).toBe(GREETING + okReply("w1") + pushes + okReply("u1") + errReply("u2", "no watch with Sequence w1 on this connection") + okReply("last", "PONG"));
  });

  test("the store announces changes only while a watch is open, and again once a new one opens", async () => {
    const store = new ListenedStore();
    await using server = await memoryServer();
    await installApp(server, store);
    await using watcher = await connectInMemory(server);
    await using writer = await connectInMemory(server);
    writer.write(request("PUT a/1", "1", "x"));
    await writer.waitFor(okReply("1", "", [["Version", "1"]]));
    expect(store.listening).toBe(0);
    watcher.write(request("WATCH a/", "w1"));
    await watcher.waitFor(okReply("w1"));
    expect(store.listening).toBe(1);
    watcher.write(request("UNWATCH w1", "u1"));
    await watcher.waitFor(okReply("u1"));
    expect(store.listening).toBe(0);
    writer.write(request("PUT a/1", "2", "unseen"));
    await writer.waitFor(okReply("2", "", [["Version", "2"]]));
    watcher.write(request("WATCH a/", "w2"));
    await watcher.waitFor(okReply("w2"));
    writer.write(request("PUT a/1", "3", "seen"));
    const push = reply("PUSH", "w2", "seen", [["Key", "a/1"], ["Op", "PUT"], ["Version", "3"]]);
    await watcher.waitFor(push);
    expect(watcher.received).toBe(GREETING + okReply("w1") + okReply("u1") + okReply("w2") + push);
  });

  test("a closed connection's watches end", async () => {
    await using server = await appServer();
    const watcher = await connectInMemory(server);
    await using probe = await connectInMemory(server);
    watcher.write(request("WATCH", "w"));
    await watcher.waitFor(okReply("w"));
    probe.write(request("INFO", "i1"));
    await probe.waitFor("Sequence: i1");
    expect(jsonBody(probe.received, "i1").watches).toBe(1);
    watcher.close();
    await watcher.closed;
    for (let i = 0; i < 50; i++) {
      probe.write(request("INFO", `i${i + 2}`));
      await probe.waitFor(`Sequence: i${i + 2}\r\n`);
      if (jsonBody(probe.received, `i${i + 2}`).watches === 0) return;
      await Bun.sleep(10);
    }
    throw new Error("the watch outlived its connection");
  });
});

describe("server information", () => {
  test("WHOAMI tells the client's identity and thumbprints; INFO and TIME describe the server", async () => {
    await using server = await appServer();
    await using client = await connectInMemory(server);
    client.write(request("WHOAMI", "1") + request("INFO", "2") + request("TIME", "3"));
    await client.waitFor("Sequence: 3");
    await client.waitFor((text) => /Sequence: 3\r\nSize: 24\r\n\r\n.{24}/.test(text));
    expect(jsonBody(client.received, "1")).toMatchObject({ identity: "alice", sha1: pki.good.sha1, sha256: pki.good.sha256, admittedBy: "trusted CA", permissions: ["*"] });
    expect(jsonBody(client.received, "2")).toMatchObject({ connections: 1, store: { kind: "memory", keys: 0 } });
    const time = /Sequence: 3\r\nSize: 24\r\n\r\n(.{24})/.exec(client.received)![1]!;
    expect(Math.abs(Date.parse(time) - Date.now())).toBeLessThan(60_000);
  });
});
