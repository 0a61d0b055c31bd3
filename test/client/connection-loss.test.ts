// How a client connection ends, told precisely: refusals carry the server's reason, a server
// certificate that fails verification, a server that vanishes mid-call (killed), shuts down,
// kicks the client, or sends garbage. Every pending call rejects; nothing is left unhandled.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type GnpClient } from "../../src/client/index.ts";
import type { IssuedCertificate } from "../../src/certs/generate.ts";
import { startServer, type TestServer } from "../support/harness.ts";
import { makeTestPki, type TestPki } from "../support/pki.ts";
import { rejection } from "../support/rejection.ts";

let pki: TestPki;
let server: TestServer;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  pki = await makeTestPki();
  server = await startServer({}, (s) => {
    s.command("PING", () => "PONG");
    s.command("KICK", (_req, conn) => conn.close("kicked by the test"));
  });
});

afterAll(async () => {
  await server.close();
  process.off("unhandledRejection", onUnhandled);
});

function open(port: number, as: IssuedCertificate = pki.good, extra: Partial<Parameters<typeof connect>[0]> = {}): Promise<GnpClient> {
  return connect({ port, cert: as.certificatePem, key: as.privateKeyPem, ca: pki.ca.certificatePem, servername: "localhost", ...extra });
}

describe("connect", () => {
  test("rejects with REFUSED and the server's reason for each kind of bad certificate", async () => {
    const reasons: [string, string][] = [];
    for (const certificate of [pki.expired, pki.notYetValid, pki.unknown, pki.signedByOtherCa]) {
      const error = await rejection(open(server.port, certificate));
      reasons.push([error.code, error.message.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, "<date>").replace(/[0-9A-F]{40}/, "<sha1>")]);
    }
    expect(reasons).toEqual([
      ["REFUSED", "certificate CN=alice-old expired at <date>"],
      ["REFUSED", "certificate CN=bob is not valid before <date>"],
      ["REFUSED", "unknown certificate CN=eve, SHA-1 <sha1>"],
      ["REFUSED", "unknown certificate CN=mallory, SHA-1 <sha1>"],
    ]);
  });

  test("rejects with SERVER_CERT_INVALID when the server's certificate does not verify", async () => {
    const wrongCa = await rejection(open(server.port, pki.good, { ca: pki.otherCa.certificatePem }));
    const wrongName = await rejection(open(server.port, pki.good, { servername: "not-the-server.example" }));
    expect([wrongCa.code, wrongCa.message.startsWith("server certificate rejected: ")]).toEqual(["SERVER_CERT_INVALID", true]);
    expect([wrongName.code, wrongName.message.startsWith("server certificate rejected: ")]).toEqual(["SERVER_CERT_INVALID", true]);
  });

  test("connects without verifying the server when insecure is set", async () => {
    await using client = await open(server.port, pki.good, { ca: undefined, insecure: true });
    expect((await client.call("PING")).text()).toBe("PONG");
  });

  test("rejects with CONNECT_FAILED when nothing listens on the port", async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    const error = await rejection(open(port));
    expect([error.code, error.message.startsWith(`could not connect to 127.0.0.1:${port}`)]).toEqual(["CONNECT_FAILED", true]);
  });

  test("rejects with CONNECT_FAILED when the server never greets", async () => {
    await using silent = tlsDouble(() => {});
    const error = await rejection(open(silent.port, pki.good, { timeout: 50 }));
    expect([error.code, error.message]).toEqual(["CONNECT_FAILED", `no greeting from 127.0.0.1:${silent.port} within 50 ms`]);
  });
});

describe("a connection that ends", () => {
  test("rejects the pending call with CONNECTION_LOST and the reason when the server kicks the client", async () => {
    const client = await open(server.port);
    const error = await rejection(client.call("KICK"));
    expect([error.code, error.message]).toEqual(["CONNECTION_LOST", "kicked by the test"]);
    expect((await client.closed)?.message).toBe("kicked by the test");
    const after = await rejection(client.call("PING"));
    expect([after.code, after.message]).toEqual(["CONNECTION_LOST", "kicked by the test"]);
  });

  test("lets replies in flight arrive, then reports the server shutting down", async () => {
    const release = Promise.withResolvers<void>();
    const entered = Promise.withResolvers<void>();
    const closing = await startServer({}, (s) =>
      s.command("HANG", async () => {
        entered.resolve();
        await release.promise;
        return "done";
      }),
    );
    const client = await open(closing.port);
    const call = client.call("HANG");
    await entered.promise;
    const shutdown = closing.close();
    release.resolve();
    expect((await call).text()).toBe("done");
    const ended = await client.closed;
    expect([ended?.code, ended?.message]).toEqual(["CONNECTION_LOST", "server is shutting down"]);
    await shutdown;
  });

  test("rejects every pending call with CONNECTION_LOST when the server process is killed mid-call", async () => {
    await using child = await spawnServer(pki);
    const client = await open(child.port);
    expect((await client.call("PING")).text()).toBe("PONG");
    const calls = Array.from({ length: 5 }, () => rejection(client.call("HANG")));
    await client.call("PING"); // the HANGs were read before this reply: they are in flight
    child.process.kill("SIGKILL");
    const errors = await Promise.all(calls);
    expect(errors.map((error) => error.code)).toEqual(Array(5).fill("CONNECTION_LOST"));
    expect(errors[0]!.message).toStartWith(`connection to 127.0.0.1:${child.port} closed by the server`);
    expect(unhandled).toEqual([]);
  });

  test("rejects pending calls with BAD_REPLY when the server sends bytes that are not a reply", async () => {
    await using garbage = tlsDouble((socket) => socket.write("OK\r\n"), (socket) => socket.write("HTTP/1.1 400 Bad Request\r\n\r\n"));
    const client = await open(garbage.port);
    const error = await rejection(client.call("PING"));
    expect([error.code, error.message]).toEqual([
      "BAD_REPLY",
      `bad reply from 127.0.0.1:${garbage.port}: invalid status line "HTTP/1.1 400 Bad Request": expected OK, ERR or PUSH`,
    ]);
    expect(unhandled).toEqual([]);
  });
});

type Double = { port: number; [Symbol.asyncDispose](): Promise<void> };

/** A TLS server that is not gnp: it does what the test says on open and on data. */
function tlsDouble(onOpen: (socket: import("bun").Socket<undefined>) => void, onData?: (socket: import("bun").Socket<undefined>) => void): Double {
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
    socket: { open: onOpen, data: (socket) => onData?.(socket), error() {} },
  });
  return { port: listener.port, [Symbol.asyncDispose]: async () => listener.stop(true) };
}

/** The real server in a child process, so that the test can kill it outright. */
async function spawnServer(p: TestPki): Promise<{ port: number; process: import("bun").Subprocess; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "gnp-vanish-"));
  const files = { cert: join(dir, "server.crt"), key: join(dir, "server.key"), ca: join(dir, "ca.crt") };
  writeFileSync(files.cert, p.server.certificatePem);
  writeFileSync(files.key, p.server.privateKeyPem);
  writeFileSync(files.ca, p.ca.certificatePem);
  const code = `
    import { createServer } from ${JSON.stringify(join(import.meta.dir, "../../src/index.ts"))};
    const read = (f) => Bun.file(f).text();
    const server = createServer({ host: "127.0.0.1", port: 0, tls: { cert: await read(${JSON.stringify(files.cert)}), key: await read(${JSON.stringify(files.key)}) }, trustedCas: [await read(${JSON.stringify(files.ca)})] });
    server.command("PING", () => "PONG").command("HANG", () => new Promise(() => {}));
    await server.listen();
    console.log(server.port);
  `;
  const child = Bun.spawn([process.execPath, "-e", code], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server child exited: ${text}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return {
    port: Number(text.trim()),
    process: child,
    [Symbol.asyncDispose]: async () => {
      child.kill("SIGKILL");
      await child.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
