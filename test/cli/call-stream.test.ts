// `gnp call WATCH PREFIX` and the prompt's pushes, as a person and a script meet them: the
// real program against a real server (memory store, WATCH) on 127.0.0.1. A stream prints one
// line per push (Key Op Version value) or one JSON object per push, ends at --count, Ctrl-C or
// a lost connection with the matching exit code, and survives the server's idle timeout by
// its keepalive. At a terminal (a pty made by script(1)) a push redraws the prompt and the
// text being typed.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MemoryStore, registerBuiltinCommands, registerWatchCommands } from "../../src/index.ts";
import { startServer, type TestServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { CLI } from "../config/fixture.ts";
import { CliProcess, cleanEnv, cleanupCli, freshDir, runCli } from "./cli-process.ts";

let server: TestServer;
let quiet: TestServer;
let cwd: string;

const pki = await makeTestPki();
const setup = (s: Parameters<NonNullable<Parameters<typeof startServer>[1]>>[0]) => {
  const store = new MemoryStore();
  registerBuiltinCommands(s, store);
  registerWatchCommands(s, store);
};

beforeAll(async () => {
  server = await startServer({}, setup);
  // The idle timeout a quiet stream must outlive.
  quiet = await startServer({ idleTimeout: 1 }, setup);
  cwd = freshDir("gnp-stream-");
  mkdirSync(join(cwd, ".gnp", "pki"), { recursive: true });
  writeFileSync(join(cwd, ".gnp/pki/client.crt"), pki.good.certificatePem);
  writeFileSync(join(cwd, ".gnp/pki/client.key"), pki.good.privateKeyPem);
  writeFileSync(join(cwd, ".gnp/pki/ca.crt"), pki.ca.certificatePem);
});

afterAll(async () => {
  await server.close();
  await quiet.close();
  await cleanupCli();
});

const env = (port = server.port) => cleanEnv({ GNP_PORT: String(port), HOME: cwd });
const call = (args: string[], port = server.port) => runCli([process.execPath, CLI, "call", ...args], { cwd, env: env(port) });

/** A stream started with -v, resolved once the server has answered its WATCH. */
async function stream(args: string[], port = server.port): Promise<CliProcess> {
  const watcher = new CliProcess([process.execPath, CLI, "call", "-v", ...args], { cwd, env: env(port) });
  await watcher.waitForStderr(/OK; streaming its pushes/);
  return watcher;
}

describe("gnp call WATCH PREFIX", () => {
  test("one line per push, Key Op Version value, then exit 0 at --count", async () => {
    const watcher = await stream(["WATCH", "a/", "--count", "3"]);
    await call(["PUT", "a/1", "--body", '{"name":"Jo"}']);
    await call(["PUT", "b/1", "--body", "elsewhere"]);
    await call(["PUT", "a/2", "--body", "two\nlines"]);
    await call(["DEL", "a/1"]);
    const run = await watcher.done;
    expect([run.exitCode, run.stdout]).toEqual([0, 'a/1 PUT 1 {"name":"Jo"}\na/2 PUT 1 "two\\nlines"\na/1 DEL 2\n']);
  });

  test("Ctrl-C (SIGINT) ends it with exit 0 and what came so far", async () => {
    const watcher = await stream(["WATCH", "c/"]);
    await call(["PUT", "c/1", "--body", "x"]);
    await watcher.waitForStdout(/c\/1 PUT 1 x\n/);
    watcher.kill("SIGINT");
    const run = await watcher.done;
    expect([run.exitCode, run.stdout]).toEqual([0, "c/1 PUT 1 x\n"]);
  });

  test("--json: one JSON object per push, with status, headers and body", async () => {
    const watcher = await stream(["WATCH", "j/", "--count", "1", "--json"]);
    await call(["PUT", "j/1", "--body", "v"]);
    const run = await watcher.done;
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ status: "PUSH", headers: { Sequence: "1", Size: "1", Key: "j/1", Op: "PUT", Version: "1" }, body: "v" });
  });

  test("an ERR answer ends it at once with exit 1", async () => {
    const run = await call(["NOPE", "--count", "1"]);
    expect([run.exitCode, run.stdout, run.stderr]).toEqual([1, "", "ERR unknown command 'NOPE'\n"]);
  });

  test("a quiet stream outlives the server's idle timeout by its keepalive; without one it is cut, exit 2", async () => {
    const kept = await stream(["WATCH", "q/", "--keepalive", "0.2"], quiet.port);
    const unkept = await stream(["WATCH", "q/", "--keepalive", "0"], quiet.port);
    const cut = await unkept.done;
    expect([cut.exitCode, cut.stderr.split("\n").at(-2)]).toEqual([2, "gnp: connection was idle for more than 1 s"]);
    // The kept one saw the same silence, and more by now; it still gets the next change.
    await call(["PUT", "q/1", "--body", "still here"], quiet.port);
    await kept.waitForStdout(/q\/1 PUT 1 still here\n/);
    kept.kill("SIGTERM");
    expect((await kept.done).exitCode).toBe(0);
  });
});

describe("gnp call --json", () => {
  test("an OK reply and an ERR reply are one JSON object each, the exit code as without it", async () => {
    const ok = await call(["PING", "--json"]);
    const err = await call(["GET", "none", "--json"]);
    expect([ok.exitCode, JSON.parse(ok.stdout)]).toEqual([0, { status: "OK", headers: { Sequence: "1", Size: "4" }, body: "PONG" }]);
    expect([err.exitCode, JSON.parse(err.stdout), err.stderr]).toEqual([1, { status: "ERR", headers: { Sequence: "1", Size: "15" }, body: "not found: none" }, ""]);
  });

  test("a body that is not UTF-8 comes as base64", async () => {
    writeFileSync(join(cwd, "bytes.bin"), Uint8Array.of(0xff, 0x00, 0xfe));
    await call(["PUT", "bin", "--body", "@bytes.bin"]);
    const got = await call(["GET", "bin", "--json"]);
    expect(JSON.parse(got.stdout)).toEqual({ status: "OK", headers: { Sequence: "1", Size: "3", Version: "1" }, body: "/wD+", bodyEncoding: "base64" });
  });
});

describe("the prompt's pushes", () => {
  test("piped: a push prints as one line with its headers named", async () => {
    const child = Bun.spawn([process.execPath, CLI, "call"], { cwd, env: env(), stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    child.stdin.write("WATCH p/\nPUT p/1 --body hello\n");
    await child.stdin.end();
    const stdout = await new Response(child.stdout).text();
    expect([await child.exited, stdout]).toEqual([0, "PUSH 1 Key=p/1 Op=PUT Version=1 hello\n"]);
  });

  test.skipIf(Bun.which("script") === null)("at a terminal a push clears the line being typed, prints, and draws the prompt and the typed text again", async () => {
    const child = Bun.spawn(["script", "-qfec", `${process.execPath} ${CLI} call`, "/dev/null"], {
      cwd,
      env: { ...env(), TERM: "xterm" },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    let screen = "";
    const waiters: { pattern: RegExp; resolve: () => void }[] = [];
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stdout) {
        screen += decoder.decode(chunk, { stream: true });
        for (const waiter of waiters.splice(0)) if (waiter.pattern.test(screen)) waiter.resolve();
        else waiters.push(waiter);
      }
    })();
    const until = (pattern: RegExp) => {
      if (pattern.test(screen)) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      waiters.push({ pattern, resolve });
      return promise;
    };
    const type = (text: string) => {
      child.stdin.write(text);
      child.stdin.flush();
    };
    await until(/gnp> /);
    type("WATCH t/\r");
    await until(/\(OK, empty body\)/);
    type("GET t");
    await until(/GET t$/);
    await call(["PUT", "t/1", "--body", "v"]);
    await until(/PUSH 1 Key=t\/1 Op=PUT Version=1 v\r\n[^\n]*gnp> GET t/);
    const push = screen.slice(screen.indexOf("GET t") + "GET t".length);
    // Cleared from the start of the line, the push, then the prompt with the typed text again.
    expect(push).toStartWith("\r\x1b[2KPUSH 1 Key=t/1 Op=PUT Version=1 v\r\n");
    expect(push).toMatch(/gnp> GET t/);
    type("/1\r");
    await until(/\r\nv\r\n/);
    type("quit\r");
    expect(await child.exited).toBe(0);
  });
});
