// `gnp call` errors that say what to do, from the real program against real listeners on
// 127.0.0.1: the admin port (plain HTTP) instead of the TLS port, a client certificate given
// without --ca to verify the server, and a CA certificate given as the client certificate.
// Each is one line on stderr and exit 2.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { MemoryStore, registerBuiltinCommands } from "../../src/index.ts";
import { startServer, type TestServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { CLI } from "../config/fixture.ts";
import { cleanEnv, cleanupCli, freshDir, isOneLine, runCli } from "./cli-process.ts";

const pki = await makeTestPki();
let server: TestServer;
let plainHttp: ReturnType<typeof Bun.serve>;
let cwd: string;

beforeAll(async () => {
  server = await startServer({}, (s) => registerBuiltinCommands(s, new MemoryStore()));
  plainHttp = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok\n") });
  cwd = freshDir("gnp-advice-");
  for (const [name, text] of Object.entries({ "alice.crt": pki.good.certificatePem, "alice.key": pki.good.privateKeyPem, "ca.crt": pki.ca.certificatePem, "ca.key": pki.ca.privateKeyPem })) {
    writeFileSync(join(cwd, name), text);
  }
});

afterAll(async () => {
  await server.close();
  await plainHttp.stop(true);
  await cleanupCli();
});

const call = (...args: string[]) => runCli([process.execPath, CLI, "call", "PING", ...args], { cwd, env: cleanEnv() });

describe("gnp call says what to do", () => {
  test("the admin port (plain HTTP): that port does not speak TLS", async () => {
    const run = await call("--port", String(plainHttp.port), "--cert", "alice.crt", "--key", "alice.key", "--ca", "ca.crt");
    expect([run.exitCode, run.stderr]).toEqual([2, `gnp: could not connect to 127.0.0.1:${plainHttp.port}: that port does not speak TLS; is it the admin port? (WRONG_VERSION_NUMBER)\n`]);
  });

  test("--cert without --ca: pass --ca to verify the server, or --insecure", async () => {
    const run = await call("--port", String(server.port), "--cert", "alice.crt", "--key", "alice.key");
    expect(run.exitCode).toBe(2);
    expect(isOneLine(run.stderr)).toBe(true);
    expect(run.stderr).toStartWith("gnp: server certificate rejected: ");
    expect(run.stderr).toEndWith(": pass --ca FILE (the CA that issued the server's certificate) to verify the server, or --insecure\n");
    const verified = await call("--port", String(server.port), "--cert", "alice.crt", "--key", "alice.key", "--ca", "ca.crt");
    expect([verified.exitCode, verified.stdout]).toEqual([0, "PONG"]);
  });

  test("a CA certificate as the client certificate is named as such, before connecting", async () => {
    const run = await call("--port", String(server.port), "--cert", "ca.crt", "--key", "ca.key", "--ca", "ca.crt");
    expect([run.exitCode, run.stderr]).toEqual([
      2,
      "gnp: --cert ca.crt is a CA certificate (CN=gnp test CA), not a client certificate: pass a client's own certificate and key (gnp certs client NAME makes one)\n",
    ]);
  });
});
