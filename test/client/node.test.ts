// The client library in real `node` processes, imported from the packed package as a Node.js
// project imports it, against real servers on 127.0.0.1: calls, pipelining past the socket's
// buffer, pushes, refusals, CA and name mistakes, connect failures, timeouts, a server that
// closes or dies with calls pending. Also what `npm pack` ships, and the README's Node.js
// example, type-checked by tsc against the packed declarations and run against `gnp serve`.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { registerBuiltinCommands } from "../../src/app/builtin-commands.ts";
import { MemoryStore } from "../../src/app/memory-store.ts";
import { registerWatchCommands } from "../../src/app/watch-commands.ts";
import { CliProcess, cleanEnv, runCli } from "../cli/cli-process.ts";
import { packInto, type PackedProject } from "../support/client-package.ts";
import { startServer, type TestServer } from "../support/harness.ts";
import { makeTestPki, type TestPki } from "../support/pki.ts";

const ROOT = resolve(import.meta.dir, "../..");
let pki: TestPki;
let projectDir: string | undefined;
let project: PackedProject;
let server: TestServer;
let doubles: { port: number; stop(): void }[] = [];
let config: Record<string, unknown>;
/** Each case starts a `node` process; on a busy machine that alone can take a few seconds. */
const NODE_CASE_MS = 30_000;

beforeAll(async () => {
  pki = await makeTestPki();
  projectDir = mkdtempSync(join(tmpdir(), "gnp-node-project-"));
  project = await packInto(projectDir);
  copyFileSync(join(import.meta.dir, "../support/node-client-scenarios.mjs"), join(project.dir, "scenarios.mjs"));
  // Room for 14 MB of echoes in flight: the default 4 MiB of unsent output would cut it off.
  server = await startServer({ maxOutput: 32 * 1024 * 1024 }, (s) => {
    const store = new MemoryStore();
    registerBuiltinCommands(s, store);
    registerWatchCommands(s, store);
    s.command("HANG", () => new Promise(() => {}));
    s.command("KICK", (_req, conn) => conn.close("kicked by the test"));
  });
  const silent = tlsDouble(() => {});
  const garbage = tlsDouble((socket) => socket.write("OK\r\n"), (socket) => socket.write("HTTP/1.1 400 Bad Request\r\n\r\n"));
  const closed = tlsDouble(() => {});
  closed.stop();
  // A plain-HTTP listener, as the admin port is: no TLS at all.
  const plainHttp = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok\n") });
  doubles = [silent, garbage, { port: plainHttp.port!, stop: () => void plainHttp.stop(true) }];
  const pem = (c: TestPki["good"]) => ({ cert: c.certificatePem, key: c.privateKeyPem });
  config = {
    port: server.port,
    pem: { good: pem(pki.good), unknown: pem(pki.unknown), expired: pem(pki.expired), ca: pki.ca.certificatePem, otherCa: pki.otherCa.certificatePem },
    silentPort: silent.port,
    garbagePort: garbage.port,
    closedPort: closed.port,
    plainHttpPort: plainHttp.port,
  };
}, 120_000);

afterAll(async () => {
  for (const double of doubles) double.stop();
  await server?.close();
  if (projectDir !== undefined) rmSync(projectDir, { recursive: true, force: true });
});

/** Runs one scenario of node-client-scenarios.mjs under `node` and returns what it printed. */
async function scenario(name: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const run = await runCli(["node", "scenarios.mjs", name, JSON.stringify({ ...config, ...extra })], { cwd: project.dir });
  if (run.exitCode !== 0) throw new Error(`node scenarios.mjs ${name} exited ${run.exitCode}:\n${run.stdout}${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

describe("the package for Node.js", () => {
  test("npm pack ships the built client, its declarations and the sources Bun runs, and not the executable", () => {
    const files = project.files;
    for (const file of ["package.json", "README.md", "dist/client/index.js", "dist/client/types/client/index.d.ts", "src/index.ts", "src/client/bun-transport.ts"]) {
      expect(files).toContain(file);
    }
    expect(files.filter((file) => file.startsWith("test/") || file === "dist/gnp" || file.startsWith("dist/.") || file.startsWith("node_modules/"))).toEqual([]);
  });

  test("the Node.js bundle is node:tls only: no Bun global, no bun: import", () => {
    const bundle = readFileSync(join(project.dir, "node_modules/gnp/dist/client/index.js"), "utf8");
    expect(bundle).toContain('from "node:tls"');
    expect([bundle.match(/\bBun\.\w+/g), bundle.match(/["']bun(:\w+)?["']/g)]).toEqual([null, null]);
  });
});

describe("the client under Node.js", () => {
  test("calls: replies with headers and bodies, an ERR reply as REPLY_ERROR, misuse thrown, close", async () => {
    expect(await scenario("calls")).toEqual({
      pong: ["OK", "PONG", "Sequence", "4"],
      version: "1",
      get: [{ name: "Jö" }, "1"],
      echoed: true,
      missing: ["REPLY_ERROR", "not found: node/none"],
      stillOpen: "mine-1",
      misuse: ["TypeError", "RangeError", "RangeError"],
      closed: "undefined",
      afterClose: ["STALE_CONNECTION", "the client was closed: open a new connection"],
      sameRoot: true,
      errorClass: "GnpError",
      unhandled: [],
    });
  }, NODE_CASE_MS);

  test("10,000 pipelined calls each get their own reply, and 14 MB of calls wait for the socket's drain", async () => {
    expect(await scenario("pipelining")).toEqual({
      inOrder: true,
      sequences: 10_000,
      large: Array.from({ length: 16 }, (_, i) => i + 1),
      pending: 0,
      unhandled: [],
    });
  }, NODE_CASE_MS);

  test("WATCH pushes reach the subscriber with Key, Op and Version until it unsubscribes", async () => {
    expect(await scenario("pushes")).toEqual({
      ok: "OK",
      seen: [
        ["PUSH", true, "node/w/a", "PUT", "1", "one"],
        ["PUSH", true, "node/w/a", "DEL", "2", ""],
      ],
      unwatched: "OK",
      unhandled: [],
    });
  }, NODE_CASE_MS);

  test("a refused certificate rejects connect with REFUSED and the server's reason", async () => {
    expect(await scenario("refusal")).toEqual({
      reasons: [
        ["REFUSED", "unknown certificate CN=eve, SHA-1 <sha1>"],
        ["REFUSED", "certificate CN=alice-old expired at <date>"],
      ],
      unhandled: [],
    });
  }, NODE_CASE_MS);

  test("a wrong CA, a wrong name or no CA at all is SERVER_CERT_INVALID; insecure skips the check", async () => {
    expect(await scenario("certificateMistakes")).toEqual({
      wrongCa: ["SERVER_CERT_INVALID", true],
      wrongName: ["SERVER_CERT_INVALID", true],
      systemRoots: ["SERVER_CERT_INVALID", true],
      insecure: "PONG",
      bothCaAndInsecure: "TypeError",
      unhandled: [],
    });
  }, NODE_CASE_MS);

  test("nothing listening and no greeting are CONNECT_FAILED; bytes that are not a reply are BAD_REPLY", async () => {
    const { silentPort, garbagePort, plainHttpPort } = config as { silentPort: number; garbagePort: number; plainHttpPort: number };
    expect(await scenario("connectFailures")).toEqual({
      closed: ["CONNECT_FAILED", true],
      silent: ["CONNECT_FAILED", `no greeting from 127.0.0.1:${silentPort} within 50 ms`],
      badReply: ["BAD_REPLY", `bad reply from 127.0.0.1:${garbagePort}: invalid status line "HTTP/1.1 400 Bad Request": expected OK, ERR or PUSH`],
      plainHttp: ["CONNECT_FAILED", `could not connect to 127.0.0.1:${plainHttpPort}: that port does not speak TLS; is it the admin port? (WRONG_VERSION_NUMBER)`],
      unhandled: [],
    });
  }, NODE_CASE_MS);

  test("a call without a reply in time is CALL_TIMEOUT and the connection stays usable", async () => {
    expect(await scenario("timeout")).toEqual({ code: "CALL_TIMEOUT", named: true, after: "PONG", unhandled: [] });
  }, NODE_CASE_MS);

  test("a server that closes the connection rejects every pending call with CONNECTION_LOST and its reason", async () => {
    const lost = ["CONNECTION_LOST", "kicked by the test"];
    expect(await scenario("serverCloses")).toEqual({ kick: lost, calls: [lost, lost, lost], closed: lost, after: lost, unhandled: [] });
  }, NODE_CASE_MS);
});

describe("against gnp serve", () => {
  let serve: CliProcess;
  let port: number;

  beforeAll(async () => {
    writeFileSync(join(project.dir, "hang.mjs"), "export function HANG() { return new Promise(() => {}); }\n");
    // As the README has it: `gnp serve` in the project's directory creates .gnp/pki there.
    serve = new CliProcess([process.execPath, join(ROOT, "src/cli.ts"), "serve", "--port", "0", "--store", "memory:", "--handlers", "hang.mjs"], { cwd: project.dir });
    port = await serve.listeningPort();
  }, 60_000);

  afterAll(async () => {
    await serve?.[Symbol.asyncDispose]();
  });

  test("the README's Node.js example type-checks against the packed declarations and prints what the README shows", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### From Node.js"));
    const [, code, shown] = /```ts\n([\s\S]*?)```[\s\S]*?```\n([\s\S]*?)```/.exec(section) ?? [];
    expect(code).toContain('from "gnp/client"');
    writeFileSync(join(project.dir, "hello.ts"), code!);
    // Misuse the types must catch: were the declarations not found, everything would be `any`
    // and each @ts-expect-error below would itself be the error.
    writeFileSync(
      join(project.dir, "misuse.ts"),
      [
        'import { connect, type ErrorCode } from "gnp/client";',
        "// @ts-expect-error: the port is a number",
        'void connect({ port: "7443", cert: "", key: "" });',
        "// @ts-expect-error: not an error code",
        'export const code: ErrorCode = "NO_SUCH_CODE";',
      ].join("\n"),
    );
    // As `tsc --init` sets it up (skipLibCheck on), for Node.js modules.
    const compilerOptions = { module: "nodenext", target: "es2022", strict: true, skipLibCheck: true, outDir: "out", types: ["node"], typeRoots: [join(ROOT, "node_modules/@types")] };
    writeFileSync(join(project.dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["hello.ts", "misuse.ts"] }));
    const tsc = await runCli([process.execPath, join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: project.dir });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.exitCode).toBe(0);
    const run = await runCli(["node", "out/hello.js"], { cwd: project.dir, env: cleanEnv({ GNP_PORT: String(port) }) });
    expect([run.exitCode, run.stderr, run.stdout]).toEqual([0, "", shown ?? "(no output block in the README)"]);
  }, 60_000);

  test("a server process killed with calls pending rejects every one with CONNECTION_LOST", async () => {
    const read = (name: string) => readFileSync(join(project.dir, ".gnp/pki", name), "utf8");
    const node = new CliProcess(["node", "scenarios.mjs", "serverKilled", JSON.stringify({ port, pem: { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") } })], {
      cwd: project.dir,
    });
    await node.waitForStdout(/kill me\n/);
    serve.kill("SIGKILL");
    const run = await node.done;
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout.trim().split("\n").pop()!)).toEqual({
      codes: Array(5).fill("CONNECTION_LOST"),
      message: "connection to 127.0.0.1:PORT closed by the server",
      unhandled: [],
    });
  }, NODE_CASE_MS);
});

/** A TLS server that is not gnp: it does what the test says on open and on data. */
function tlsDouble(onOpen: (socket: import("bun").Socket<undefined>) => void, onData?: (socket: import("bun").Socket<undefined>) => void): { port: number; stop(): void } {
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
    socket: { open: onOpen, data: (socket) => onData?.(socket), error() {} },
  });
  return { port: listener.port, stop: () => listener.stop(true) };
}
