// Graceful shutdown with clients mid-pipeline: every request either gets its reply or its
// connection gets `ERR: server is shutting down`, nothing is silently lost, and `gnp serve`
// exits 0. Library servers show it with slow async handlers; the real CLI with pipelines of
// thousands of PINGs cut by SIGTERM, and with a held command while /readyz is watched.

import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { GREETING, errorLine, okReply, request } from "../support/wire.ts";
import { CliProcess, cleanupCli, freshDir } from "../cli/cli-process.ts";
import { PipelineClient, parseStream } from "./pipeline-client.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
afterEach(cleanupCli);

function localTls(cwd: string) {
  const read = (name: string) => readFileSync(join(cwd, "d", "pki", name), "utf8");
  return { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") };
}

describe("close() with requests in flight", () => {
  test("every request that reached a handler is answered before the shutdown line; later ones are not run", async () => {
    const gates: PromiseWithResolvers<string>[] = [];
    const ran: string[] = [];
    const allSlowStarted = Promise.withResolvers<void>();
    const CLIENTS = 3;
    await using server = await startServer({}, (s) =>
      s
        .command("SLOW", (req) => {
          ran.push(req.sequence);
          const gate = Promise.withResolvers<string>();
          gates.push(gate);
          if (gates.length === CLIENTS * 2) allSlowStarted.resolve();
          return gate.promise;
        })
        .command("PING", (req) => {
          ran.push(req.sequence);
          return "PONG";
        }),
    );
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connectAdmitted(server.port)));
    clients.forEach((client, c) => client.write(request("SLOW", `${c}-1`) + request("PING", `${c}-2`) + request("SLOW", `${c}-3`) + request("PING", `${c}-4`)));
    await allSlowStarted.promise;

    const closing = server.close();
    // Sent after the drain began: discarded unread, never run.
    clients.forEach((client, c) => client.write(request("PING", `${c}-5`)));
    for (const [i, gate] of gates.entries()) gate.resolve(`slow ${i}`);
    await closing;

    for (const [c, client] of clients.entries()) {
      const parsed = parseStream(await client.untilClosed());
      expect(parsed.replies.map((r) => r.sequence).sort()).toEqual([`${c}-1`, `${c}-2`, `${c}-3`, `${c}-4`]);
      expect([parsed.errorLine, parsed.rest]).toEqual(["ERR: server is shutting down", ""]);
    }
    expect(ran.filter((sequence) => sequence.endsWith("-5"))).toEqual([]);
  });

  test("requests received but waiting for their turn are answered before the line", async () => {
    // One connection's requests run for about 2 ms per turn; the rest of what it sent waits
    // for the next turn of the loop. MARK takes longer than that, so the PINGs behind it in
    // the same read wait, and close() lands in between (a microtask after MARK's turn). They
    // were received before the shutdown: they are run and answered, not dropped with the line.
    const marked = Promise.withResolvers<void>();
    const TOTAL = 200; // about 5 KB: one TLS record, so one read on the server
    let closing: Promise<void> | undefined;
    await using server = await startServer({}, (s) =>
      s.command("MARK", () => {
        const until = performance.now() + 10;
        while (performance.now() < until); // a handler that uses up its connection's turn
        marked.resolve();
        return "marked";
      }),
    );
    marked.promise.then(() => {
      closing = server.close();
    });
    const client = await connectAdmitted(server.port);
    let batch = request("MARK", "0");
    for (let i = 1; i < TOTAL; i++) batch += request("PING", String(i));
    client.write(batch);
    const parsed = parseStream(await client.untilClosed());
    await closing;
    expect(parsed.replies.map((r) => Number(r.sequence))).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    expect([parsed.errorLine, parsed.rest]).toEqual(["ERR: server is shutting down", ""]);
  });

  test("a command still running at the shutdown timeout is cut with its connection, and close() resolves", async () => {
    const started = Promise.withResolvers<void>();
    await using server = await startServer({ shutdownTimeout: 0.2 }, (s) =>
      s.command("NEVER", () => {
        started.resolve();
        return new Promise<string>(() => {});
      }),
    );
    await using client = await connectAdmitted(server.port);
    client.write(request("NEVER", "1"));
    await started.promise;
    await server.close();
    expect(await client.untilClosed()).toBe(GREETING);
  });
});

describe("gnp serve and SIGTERM", () => {
  test("three clients streaming pipelined PINGs get a gap-free prefix of replies, then the shutdown line; exit 0", async () => {
    const cwd = freshDir();
    const server = new CliProcess([process.execPath, CLI, "serve", "--port", "0", "--data", "d", "--store", "memory:", "--log-format", "json"], { cwd });
    const port = await server.listeningPort();
    const tls = localTls(cwd);
    const BATCH = 500;
    const MAX_BATCHES = 400; // 200,000 requests per client at most: the loop always ends
    const replyBytes = (sequence: number) => okReply(String(sequence), "PONG").length;
    const clients = await Promise.all([1, 2, 3].map(() => PipelineClient.connect(port, tls)));
    // Each client keeps up to two batches in flight, sending the next when half of the last is answered,
    // until the server closes: the signal always lands with requests on the wire.
    const feeds = clients.map(async (client) => {
      await client.waitFor(GREETING);
      let sent = 0;
      let expected = GREETING.length;
      for (let b = 0; b < MAX_BATCHES; b++) {
        let batch = "";
        for (let i = 0; i < BATCH; i++) batch += request("PING", String(++sent));
        client.write(batch);
        for (let i = sent - BATCH + 1; i <= sent - BATCH / 2; i++) expected += replyBytes(i);
        const target = expected;
        try {
          await client.waitFor((text) => text.length >= target);
        } catch {
          return sent; // closed by the server
        }
        for (let i = sent - BATCH / 2 + 1; i <= sent; i++) expected += replyBytes(i);
      }
      return sent;
    });
    await Promise.all(clients.map((client) => client.waitFor(okReply("1", "PONG"))));
    server.kill("SIGTERM");

    const run = await server.done;
    const sent = await Promise.all(feeds);
    const answered: number[] = [];
    for (const client of clients) {
      const parsed = parseStream(await client.untilClosed());
      const sequences = parsed.replies.map((r) => Number(r.sequence));
      // Replies of sync handlers come in order: 1..k with no gap, each a PONG, then the line.
      expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => i + 1));
      expect(parsed.replies.every((r) => r.status === "OK" && r.body === "PONG")).toBe(true);
      expect([parsed.errorLine, parsed.rest]).toEqual(["ERR: server is shutting down", ""]);
      answered.push(sequences.length);
    }
    expect(answered.every((k, i) => k <= sent[i]!)).toBe(true);
    expect(run.exitCode).toBe(0);
    const events = run.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line).event);
    expect(events).toEqual(["created certificates", "listening", "shutting down", "stopped"]);
  });

  test("/readyz is 503 from the signal on while a held command finishes; the client gets its reply, then the line", async () => {
    const cwd = freshDir();
    const release = join(cwd, "release");
    // HOLD returns once the test creates the release file: the drain lasts as long as the test needs.
    writeFileSync(
      join(cwd, "hold.ts"),
      `import { existsSync } from "node:fs";
export default {
  async HOLD() {
    for (let i = 0; i < 1000 && !existsSync(${JSON.stringify(release)}); i++) await Bun.sleep(10);
    return "held";
  },
};
`,
    );
    const server = new CliProcess(
      [process.execPath, CLI, "serve", "--port", "0", "--data", "d", "--store", "memory:", "--handlers", "hold.ts", "--admin", "127.0.0.1:0"],
      { cwd },
    );
    const port = await server.listeningPort();
    const admin = await server.adminUrl();
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    await using client = await PipelineClient.connect(port, localTls(cwd));
    client.write(request("HOLD", "1") + request("PING", "2"));
    await client.waitFor(okReply("2", "PONG"));

    server.kill("SIGTERM");
    await server.waitForStdout(/"event":"shutting down"/);
    // Sent after the drain began: never run, and the shutdown line says so.
    client.write(request("PING", "3") + request("PING", "4"));
    const readyz = await fetch(`${admin}/readyz`);
    const healthz = await fetch(`${admin}/healthz`);
    expect([readyz.status, await readyz.text(), healthz.status]).toEqual([503, "not ready: shutting down\n", 200]);
    writeFileSync(release, "");

    expect(await client.untilClosed()).toBe(GREETING + okReply("2", "PONG") + okReply("1", "held") + errorLine("server is shutting down"));
    expect((await server.done).exitCode).toBe(0);
  });
});
