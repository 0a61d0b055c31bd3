// The TLS mistakes people make when they point the client somewhere, said in words that tell
// what to do, under Bun against real listeners on 127.0.0.1: a port that speaks plain HTTP (the
// admin port) instead of TLS, and a CA certificate given as the client's own. (The same words
// under Node.js: test/client/node.test.ts.)

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, GnpError, MemoryStore, registerBuiltinCommands } from "../../src/index.ts";
import { startServer, type TestServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";

const pki = await makeTestPki();
let server: TestServer;
let plainHttp: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  server = await startServer({}, (s) => registerBuiltinCommands(s, new MemoryStore()));
  plainHttp = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok\n") });
});

afterAll(async () => {
  await server.close();
  await plainHttp.stop(true);
});

async function failure(attempt: Promise<unknown>): Promise<[string, string]> {
  try {
    await attempt;
  } catch (error) {
    if (error instanceof GnpError) return [error.code, error.message];
    throw error;
  }
  throw new Error("expected a failure");
}

describe("connect() to the wrong kind of place", () => {
  test("a plain-HTTP port is CONNECT_FAILED saying it does not speak TLS", async () => {
    const port = plainHttp.port!;
    const attempt = connect({ port, cert: pki.good.certificatePem, key: pki.good.privateKeyPem, ca: pki.ca.certificatePem });
    expect(await failure(attempt)).toEqual(["CONNECT_FAILED", `could not connect to 127.0.0.1:${port}: that port does not speak TLS; is it the admin port? (WRONG_VERSION_NUMBER)`]);
  });

  test("the same with insecure, which skips only the server's certificate", async () => {
    const port = plainHttp.port!;
    const attempt = connect({ port, cert: pki.good.certificatePem, key: pki.good.privateKeyPem, insecure: true });
    expect((await failure(attempt))[0]).toBe("CONNECT_FAILED");
  });

  test("a CA certificate as the client's own is CONFIG_INVALID naming the key usage", async () => {
    const attempt = connect({ port: server.port, cert: pki.ca.certificatePem, key: pki.ca.privateKeyPem, ca: pki.ca.certificatePem });
    expect(await failure(attempt)).toEqual([
      "CONFIG_INVALID",
      "the client certificate's key usage does not allow signing a TLS handshake (KEY_USAGE_BIT_INCORRECT): is it a CA certificate? use a client certificate",
    ]);
  });
});
