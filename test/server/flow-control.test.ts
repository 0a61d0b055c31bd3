// Flow control under hostile pipelines: a client that reads is slowed down and never cut off,
// whatever it pipelines (sync replies, async replies settling together in one tick); what one
// connection makes the server hold stays near --max-output; and a fault found in input that
// waited behind a pause still gets its ERR: line.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { connectAdmitted, startServer, type RawClient } from "../support/harness.ts";
import { makeTempDir } from "../support/pki.ts";
import { GREETING, errorLine, okReply, request } from "../support/wire.ts";
import { SqliteStore, type CloseInfo } from "../../src/index.ts";
import { installApp } from "../../src/app/install-app.ts";
import { TURN_REQUESTS, WAITING_SLICE } from "../../src/server/flow-control.ts";

const MiB = 1024 * 1024;

/** Counts complete replies (OK or ERR) in what a client received, by walking Size headers. */
function repliesIn(text: string): { status: string; sequence: string; size: number }[] {
  const found: { status: string; sequence: string; size: number }[] = [];
  let at = text.startsWith(GREETING) ? GREETING.length : 0;
  for (;;) {
    const headEnd = text.indexOf("\r\n\r\n", at);
    if (headEnd < 0) return found;
    const head = text.slice(at, headEnd).split("\r\n");
    const size = Number(head.find((line) => line.startsWith("Size: "))?.slice(6));
    if (headEnd + 4 + size > text.length) return found;
    found.push({ status: head[0]!, sequence: head.find((line) => line.startsWith("Sequence: "))!.slice(10), size });
    at = headEnd + 4 + size;
  }
}

/** Waits for `length` bytes (the replies' exact total), then parses them once: no rescan per read. */
async function repliesOfLength(client: RawClient, length: number): Promise<ReturnType<typeof repliesIn>> {
  await client.waitFor((text) => text.length >= length);
  return repliesIn(client.received);
}

/** The exact length of a reply head as the server writes it, with `headers` after Size. */
function headLength(status: string, sequence: string, size: number, headers = ""): number {
  return `${status}\r\nSequence: ${sequence}\r\nSize: ${size}\r\n${headers}\r\n`.length;
}

describe("reply amplification", () => {
  test("PUT then 12 GETs of a 1 MiB value in one write: a client that reads gets every reply", async () => {
    await using dir = await makeTempDir();
    const store = new SqliteStore(join(dir.path, "amp.db"));
    const closes: CloseInfo[] = [];
    await using server = await startServer({}, (s) => s.on("close", (_conn, info) => closes.push(info)));
    await installApp(server, store);
    try {
      await using client = await connectAdmitted(server.port);
      client.write(request("PUT amp/big", "big", "v".repeat(MiB)));
      await client.waitFor(okReply("big", "", [["Version", "1"]]));
      // Queued behind the PUT's commit, the GETs settle together in one tick.
      client.write(request("PUT amp/k", "k", "1") + Array.from({ length: 12 }, (_, i) => request("GET amp/big", `g${i}`)).join(""));
      const version = "Version: 1\r\n";
      let length = GREETING.length + headLength("OK", "big", 0, version) + headLength("OK", "k", 0, version);
      for (let i = 0; i < 12; i++) length += headLength("OK", `g${i}`, MiB, version) + MiB;
      const replies = await repliesOfLength(client, length);
      // Replies may come in any order (a GET read once the commit is done can pass one settled in it).
      const bySequence = replies.map((r) => [r.sequence, r.status, r.size]).sort(([a], [b]) => String(a).localeCompare(String(b), "en", { numeric: true }));
      expect(bySequence).toEqual([["big", "OK", 0], ...Array.from({ length: 12 }, (_, i) => [`g${i}`, "OK", MiB]), ["k", "OK", 0]]);
      expect(client.isClosed).toBe(false);
      expect(closes).toEqual([]);
    } finally {
      await server.close();
      await store.close();
    }
  }, 30_000);

  test("async replies settling together are held back by reserving output: a client that stops reading stops the work", async () => {
    const reply = new Uint8Array(256 * 1024).fill(0x72);
    let started = 0;
    let batch: (() => void)[] = [];
    const closes: CloseInfo[] = [];
    // A group commit of its own: every READ of one 5 ms window settles in the same tick.
    const read = () => {
      started++;
      const { promise, resolve } = Promise.withResolvers<Uint8Array>();
      if (batch.length === 0) {
        setTimeout(() => {
          const settling = batch;
          batch = [];
          for (const settle of settling) settle();
        }, 5);
      }
      batch.push(() => resolve(reply));
      return promise;
    };
    await using server = await startServer({ maxOutput: MiB }, (s) => s.command("READ", read).on("close", (_conn, info) => closes.push(info)));
    await using client = await connectAdmitted(server.port);
    client.socket.pause();
    client.write(Array.from({ length: 200 }, (_, i) => request("READ", String(i))).join(""));
    // Wait until the server stops starting commands (bounded: 5 s).
    for (let last = -1, i = 0; i < 50 && started !== last; i++) {
      last = started;
      await Bun.sleep(100);
    }
    // 200 x 256 KiB is 50 MiB. What was started is bounded by the limit, one reply, and what the
    // kernel's socket buffers took (a few MiB on loopback): far from all 200.
    expect(started).toBeLessThan(60);
    client.socket.resume();
    let length = GREETING.length;
    for (let i = 0; i < 200; i++) length += headLength("OK", String(i), reply.byteLength) + reply.byteLength;
    const replies = await repliesOfLength(client, length);
    expect(replies.filter((r) => r.status === "OK" && r.size === reply.byteLength).length).toBe(200);
    expect(started).toBe(200);
    expect(closes).toEqual([]);
  }, 30_000);
});

describe("one connection's turn", () => {
  test("a client that pipelines 100,000 requests in one write gets at most a turn's worth run before the loop moves on", async () => {
    // A tick counter on the event loop: how many PINGs run between two of its turns.
    let turn = 0;
    let running = true;
    const tick = () => {
      turn++;
      if (running) setImmediate(tick);
    };
    tick();
    const perTurn = new Map<number, number>();
    await using server = await startServer({}, (s) =>
      s.command("PING", () => {
        perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
        return "PONG";
      }),
    );
    await using burster = await connectAdmitted(server.port);
    await using other = await connectAdmitted(server.port);
    const burst = Array.from({ length: 100_000 }, (_, i) => request("PING", String(i % 1000))).join("");
    burster.write(burst);
    other.write(request("PING", "other"));
    const expected = GREETING.length + Array.from({ length: 100_000 }, (_, i) => okReply(String(i % 1000), "PONG").length).reduce((a, b) => a + b, 0);
    await burster.waitFor((text) => text.length >= expected);
    await other.waitFor(okReply("other", "PONG"));
    running = false;
    // Bun hands over up to 512 KiB per read, 15,000 of these PINGs: without turns, all in one go.
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(2 * TURN_REQUESTS);
    expect([...perTurn.values()].reduce((a, b) => a + b, 0)).toBe(100_001);
  }, 60_000);
});

describe("the loop's turn, shared by every connection", () => {
  test("a PING from another connection runs before a flood's later requests, though no flooding connection passes its own budget", async () => {
    const order: string[] = [];
    await using server = await startServer({}, (s) =>
      s.command("WORK", (req) => {
        order.push(req.sequence);
        return "";
      }),
    );
    // Forty connections of 100 requests each: each well inside one connection's budget, 4,000 together.
    const flood = await Promise.all(Array.from({ length: 40 }, () => connectAdmitted(server.port)));
    await using other = await connectAdmitted(server.port);
    try {
      flood.forEach((client, c) => client.write(Array.from({ length: 100 }, (_, i) => request("WORK", `f${c}-${i}`)).join("")));
      other.write(request("WORK", "other"));
      await other.waitFor(okReply("other"));
      await Promise.all(flood.map((client, c) => client.waitFor(okReply(`f${c}-99`))));
    } finally {
      for (const client of flood) await client[Symbol.asyncDispose]();
    }
    expect(order.length).toBe(4001);
    // Sent last, it waits for a turn's worth and a slice of each flood, not for all 4,000.
    expect(order.indexOf("other")).toBeLessThan(1024 + 40 * WAITING_SLICE);
  }, 30_000);

  test("a body larger than the slot whose rest arrives once the turn is spent is read whole when its connection's turn comes", async () => {
    await using server = await startServer({}, (s) => s.command("ECHO", (req) => req.body).command("WORK", () => "").command("PING", () => "PONG"));
    await using sender = await connectAdmitted(server.port);
    await using probe = await connectAdmitted(server.port);
    const flood = await Promise.all(Array.from({ length: 4 }, () => connectAdmitted(server.port)));
    try {
      for (let round = 0; round < 5; round++) {
        const body = Array.from({ length: 100_000 }, (_, i) => String.fromCharCode(97 + ((i * 7 + round) % 26))).join("");
        sender.write(`ECHO\r\nSequence: big${round}\r\nSize: ${body.length}\r\n\r\n${body.slice(0, 20_000)}`);
        // Once another connection's PING has been answered, the server has read the body's start.
        probe.write(request("PING", `p${round}`));
        await probe.waitFor(okReply(`p${round}`, "PONG"));
        // 2,400 requests spend the turn; the body's rest arrives behind them and waits.
        flood.forEach((client, c) => client.write(Array.from({ length: 600 }, (_, i) => request("WORK", `r${round}-${c}-${i}`)).join("")));
        sender.write(body.slice(20_000));
        await sender.waitFor(okReply(`big${round}`, body));
        await Promise.all(flood.map((client, c) => client.waitFor(okReply(`r${round}-${c}-599`))));
      }
    } finally {
      for (const client of flood) await client[Symbol.asyncDispose]();
    }
    expect(sender.received.length).toBe(GREETING.length + Array.from({ length: 5 }, (_, r) => okReply(`big${r}`, "x".repeat(100_000)).length).reduce((a, b) => a + b, 0));
  }, 30_000);
});

describe("a fault behind a pause", () => {
  test("a malformed head read after a pause, with the client's FIN behind it, still gets its ERR: line", async () => {
    const big = "b".repeat(256 * 1024);
    const closes: CloseInfo[] = [];
    await using server = await startServer({}, (s) => s.command("BIG", () => big).on("close", (_conn, info) => closes.push(info)));
    const client = await connectAdmitted(server.port);
    client.socket.pause();
    // 100 x 256 KiB of replies: the server stops reading long before the bad head.
    const pipeline = Array.from({ length: 100 }, (_, i) => request("BIG", String(i))).join("");
    client.write(`${pipeline}PING\r\nbroken header\r\n\r\n`);
    client.socket.shutdown();
    await Bun.sleep(100);
    client.socket.resume();
    const received = await client.untilClosed();
    const replies = Array.from({ length: 100 }, (_, i) => okReply(String(i), big)).join("");
    expect(received.length).toBe(GREETING.length + replies.length + errorLine(`header line without ':': "broken header"`).length);
    expect(received.endsWith(errorLine(`header line without ':': "broken header"`))).toBe(true);
    expect(received === GREETING + replies + errorLine(`header line without ':': "broken header"`)).toBe(true);
    expect(closes.map((info) => info?.code)).toEqual(["BAD_HEADER"]);
  }, 30_000);

  test("a client that closes its side right after a fault still gets the running command's reply and the ERR: line", async () => {
    await using server = await startServer({}, (s) =>
      s.command("SLOW", async () => {
        await Bun.sleep(50);
        return "late";
      }),
    );
    const client = await connectAdmitted(server.port);
    client.write(request("SLOW", "1") + "\r\n\r\n");
    client.socket.shutdown();
    expect(await client.untilClosed()).toBe(GREETING + okReply("1", "late") + errorLine("empty command line"));
  });
});
