// `gnp call` as a person uses it: the real program in a child process against a real server
// on 127.0.0.1, judged by stdout (raw body bytes), stderr (one line) and the exit code
// (0 OK, 1 ERR reply, 2 could not connect or refused). The prompt is driven through a pipe.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { splitWords } from "../../src/cli/call-prompt.ts";
import { clientPkiPaths } from "../../src/cli/connection-flags.ts";
import { localPkiPaths } from "../../src/certs/local-pki.ts";
import { MemoryStore, registerBuiltinCommands } from "../../src/index.ts";
import { startServer, type TestServer } from "../support/harness.ts";
import { makeTestPki, type TestPki } from "../support/pki.ts";
import { cleanEnv, cleanupCli, freshDir, isOneLine, runCli } from "./cli-process.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
let pki: TestPki;
let server: TestServer;
let data: string;
let cwd: string;

beforeAll(async () => {
  pki = await makeTestPki();
  server = await startServer({}, (s) => {
    registerBuiltinCommands(s, new MemoryStore());
    s.command("HEADER", (req) => req.header(req.args[0] ?? "") ?? "(none)");
    s.command("KICK", (_req, conn) => conn.close("kicked by the test"));
  });
  // The files a local `gnp serve` would have created, so that no connection flag is needed.
  cwd = freshDir("gnp-call-");
  data = join(cwd, ".gnp");
  mkdirSync(join(data, "pki"), { recursive: true });
  writeFileSync(join(data, "pki/client.crt"), pki.good.certificatePem);
  writeFileSync(join(data, "pki/client.key"), pki.good.privateKeyPem);
  writeFileSync(join(data, "pki/ca.crt"), pki.ca.certificatePem);
  writeFileSync(join(cwd, "eve.crt"), pki.unknown.certificatePem);
  writeFileSync(join(cwd, "eve.key"), pki.unknown.privateKeyPem);
});

afterAll(async () => {
  await server.close();
  await cleanupCli();
});

/** Runs `gnp call ...` in the directory holding .gnp, with GNP_PORT pointing at the server. */
function call(args: string[], env: Record<string, string> = {}) {
  return runCli([process.execPath, CLI, "call", ...args], { cwd, env: cleanEnv({ GNP_PORT: String(server.port), ...env }) });
}

/** Runs `gnp call ...` with `input` on its standard input; stdout as bytes. */
async function callWithInput(args: string[], input: string | Uint8Array) {
  const child = Bun.spawn([process.execPath, CLI, "call", ...args], {
    cwd,
    env: cleanEnv({ GNP_PORT: String(server.port) }),
    stdin: typeof input === "string" ? Buffer.from(input) : input,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).arrayBuffer(), new Response(child.stderr).text(), child.exited]);
  return { stdout: new Uint8Array(stdout), stderr, exitCode };
}

describe("gnp call", () => {
  test("PING prints PONG and exits 0 with nothing but the default files of a local server", async () => {
    expect(await call(["PING"])).toEqual({ exitCode: 0, signalCode: null, stdout: "PONG", stderr: "" });
  });

  test("PUT with --body then GET prints the stored body", async () => {
    expect((await call(["PUT", "users/1", "--body", '{"a":1}'])).exitCode).toBe(0);
    const got = await call(["GET", "users/1"]);
    expect([got.exitCode, got.stdout, got.stderr]).toEqual([0, '{"a":1}', ""]);
  });

  test("--body @file sends the file, and the body comes back on stdout as raw bytes", async () => {
    const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 13 + 7) % 256);
    writeFileSync(join(cwd, "blob.bin"), bytes);
    expect((await call(["PUT", "blob", "--body", "@blob.bin"])).exitCode).toBe(0);
    const got = await callWithInput(["GET", "blob"], "");
    expect(got.exitCode).toBe(0);
    expect(got.stdout).toEqual(bytes);
  });

  test("--body @- reads the body from standard input", async () => {
    const got = await callWithInput(["ECHO", "--body", "@-"], "from stdin\n");
    expect([got.exitCode, Buffer.from(got.stdout).toString()]).toEqual([0, "from stdin\n"]);
  });

  test("--header NAME=VALUE reaches the handler, and -v shows the reply head on stderr", async () => {
    const got = await call(["HEADER", "x-trace", "--header", "X-Trace=abc=1", "-v"]);
    expect([got.exitCode, got.stdout, got.stderr]).toEqual([0, "abc=1", "OK\nSequence: 1\nSize: 5\n\n"]);
  });

  test("an ERR reply prints its message on stderr and exits 1", async () => {
    expect(await call(["GET", "users/404"])).toEqual({ exitCode: 1, signalCode: null, stdout: "", stderr: "ERR not found: users/404\n" });
  });

  test("a refused certificate exits 2 with the server's reason on one line", async () => {
    const got = await call(["PING", "--cert", "eve.crt", "--key", "eve.key", "--ca", join(data, "pki/ca.crt")]);
    expect(got.exitCode).toBe(2);
    expect(got.stderr).toMatch(/^gnp: unknown certificate CN=eve, SHA-1 [0-9A-F]{40}\n$/);
  });

  test("a port nobody listens on exits 2 with why", async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    const got = await call(["PING", "--port", String(port)]);
    expect([got.exitCode, got.stderr]).toEqual([2, `gnp: could not connect to 127.0.0.1:${port}: connection refused (is the server running?) (ECONNREFUSED)\n`]);
  });

  test("honours GNP_DATA and says what to do when there is no certificate", async () => {
    const empty = freshDir();
    const got = await call(["PING"], { GNP_DATA: empty });
    expect(got.exitCode).toBe(2);
    expect(isOneLine(got.stderr)).toBe(true);
    expect(got.stderr).toContain("no client certificate: pass --cert FILE --key FILE, or run `gnp serve` here first");
  });

  test("finds the port, host and data directory in the server's gnp.toml", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "gnp.toml"), `host = "0.0.0.0"\nport = ${server.port}\ndata = ${JSON.stringify(data)}\nmax-body = 1024\n`);
    const run = (args: string[], runCwd: string) => runCli([process.execPath, CLI, "call", ...args], { cwd: runCwd, env: cleanEnv() });
    expect(await run(["PING"], dir)).toEqual({ exitCode: 0, signalCode: null, stdout: "PONG", stderr: "" });
    expect((await run(["PING", "--config", join(dir, "gnp.toml")], freshDir())).stdout).toBe("PONG");
    writeFileSync(join(dir, "gnp.toml"), "prot = 1\n");
    const bad = await run(["PING"], dir);
    expect([bad.exitCode, bad.stderr]).toEqual([2, 'gnp: gnp.toml: unknown key "prot" (did you mean "port"?)\n']);
  });

  test("a mistake in the flags is one line and exit 2", async () => {
    for (const args of [["PING", "--nope"], ["PING", "--port", "x"], ["PING", "--header", "novalue"], ["PING", "--timeout", "-1"], ["PUT", "k", "--body", "@missing.bin"]]) {
      const got = await call(args);
      expect([args.join(" "), got.exitCode, isOneLine(got.stderr)]).toEqual([args.join(" "), 2, true]);
    }
  });

  test("--help prints the usage and exits 0", async () => {
    const got = await call(["--help"]);
    expect([got.exitCode, got.stdout.startsWith("usage: gnp call"), got.stdout.includes("--insecure")]).toEqual([0, true, true]);
  });
});

describe("gnp call without a command", () => {
  test("runs each line typed as a call: replies on stdout, ERR on stderr, exit 1 after an ERR", async () => {
    const lines = ["PING", "PUT notes/1 --body 'hello world'", "GET notes/1", "", "GET notes/404", 'ECHO --body "a \\"quoted\\" word"', "quit", "PING"];
    const got = await callWithInput([], `${lines.join("\n")}\n`);
    expect(Buffer.from(got.stdout).toString()).toBe('PONG\nhello world\na "quoted" word\n');
    expect(got.stderr).toBe("ERR not found: notes/404\n");
    expect(got.exitCode).toBe(1);
  });

  test("stops with exit 2 and the server's reason when the connection is lost", async () => {
    const got = await callWithInput([], "PING\nKICK\nPING\n");
    expect([Buffer.from(got.stdout).toString(), got.stderr, got.exitCode]).toEqual(["PONG\n", "gnp: kicked by the test\n", 2]);
  });

  test("ends with exit 0 at the end of its input when every call succeeded", async () => {
    const got = await callWithInput([], "PING\nPING\n");
    expect([Buffer.from(got.stdout).toString(), got.stderr, got.exitCode]).toEqual(["PONG\nPONG\n", "", 0]);
  });
});

describe("clientPkiPaths", () => {
  test("names the files `gnp serve` creates under DATA/pki", () => {
    const { clientCert, clientKey, caCert } = localPkiPaths(join("some/data", "pki"));
    expect(clientPkiPaths("some/data")).toEqual({ clientCert, clientKey, caCert });
  });
});

describe("splitWords", () => {
  test("splits a prompt line the way a shell would for the cases people type", () => {
    expect(splitWords(`PUT users/1 --body '{"a": 1}'`)).toEqual(["PUT", "users/1", "--body", '{"a": 1}']);
    expect(splitWords(`  GET   a\\ b "c d" '' x"y"z  `)).toEqual(["GET", "a b", "c d", "", "xyz"]);
    expect(splitWords("")).toEqual([]);
  });

  test("throws on an unterminated quote", () => {
    expect(() => splitWords(`GET "users`)).toThrow('unterminated " quote');
  });
});
