// Third-party clients against the real server: `openssl s_client -crlf`, driven as a person
// would type (greeting, a PING, an abort, a refusal), and Node.js's own `tls` module in a
// `node` child process, pipelining requests cut at odd places.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IssuedCertificate } from "../../src/certs/generate.ts";
import { startServer, type TestServer } from "../support/harness.ts";
import { makeTestPki, type TestPki } from "../support/pki.ts";

let pki: TestPki;
let server: TestServer;
let dir: string;

beforeAll(async () => {
  pki = await makeTestPki();
  server = await startServer({}, (s) => s.command("PING", () => "PONG"));
  dir = mkdtempSync(join(tmpdir(), "gnp-interop-"));
  writeFileSync(join(dir, "ca.crt"), pki.ca.certificatePem);
  for (const [name, cert] of [["good", pki.good], ["unknown", pki.unknown]] as const) {
    writeFileSync(join(dir, `${name}.crt`), cert.certificatePem);
    writeFileSync(join(dir, `${name}.key`), cert.privateKeyPem);
  }
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A running child whose stdout is collected, with a way to wait for some text. */
class Child {
  readonly process: import("bun").Subprocess<"pipe", "pipe", "pipe">;
  output = "";
  #waiters: { text: string; resolve: () => void }[] = [];

  constructor(argv: string[]) {
    this.process = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    void this.#read();
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder("latin1");
    for await (const chunk of this.process.stdout) {
      this.output += decoder.decode(chunk, { stream: true });
      this.#waiters = this.#waiters.filter((w) => (this.output.includes(w.text) ? (w.resolve(), false) : true));
    }
  }

  waitFor(text: string): Promise<void> {
    if (this.output.includes(text)) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ text, resolve });
    return promise;
  }

  write(text: string): void {
    this.process.stdin.write(text);
    this.process.stdin.flush();
  }
}

function sClient(cert: IssuedCertificate, version?: string): Child {
  const name = cert === pki.good ? "good" : "unknown";
  return new Child([
    "openssl", "s_client", "-connect", `127.0.0.1:${server.port}`, "-servername", "localhost",
    "-cert", join(dir, `${name}.crt`), "-key", join(dir, `${name}.key`), "-CAfile", join(dir, "ca.crt"),
    "-verify_return_error", "-crlf", "-quiet", ...(version ? [version] : []),
  ]);
}

describe("openssl s_client -crlf", () => {
  test.each(["-tls1_2", "-tls1_3"])("sees the greeting, gets PONG for a typed PING, and is aborted with a reason after a bad header (%s)", async (version) => {
    const child = sClient(pki.good, version);
    await child.waitFor("OK\r\n");
    child.write("PING\nSequence: 1\n\n"); // -crlf turns each LF into CRLF, as a person types it
    await child.waitFor("PONG");
    child.write("PING\nthis line has no colon\n\n");
    expect(await child.process.exited).toBe(0);
    expect(child.output).toBe("OK\r\nOK\r\nSequence: 1\r\nSize: 4\r\n\r\nPONGERR: header line without ':': \"this line has no colon\"\r\n");
  });

  test("is told why its certificate is refused, then closed", async () => {
    const child = sClient(pki.unknown);
    await child.process.exited;
    expect(child.output).toMatch(/^ERR: unknown certificate CN=eve, SHA-1 [0-9A-F]{40}\r\n$/);
  });
});

describe("Node.js tls module", () => {
  test("connects with a client certificate and gets every reply of a pipeline cut at odd places", async () => {
    const script = `
      const tls = require("node:tls");
      const fs = require("node:fs");
      const d = ${JSON.stringify(dir)};
      const socket = tls.connect({
        host: "127.0.0.1", port: ${server.port}, servername: "localhost",
        cert: fs.readFileSync(d + "/good.crt"), key: fs.readFileSync(d + "/good.key"), ca: fs.readFileSync(d + "/ca.crt"),
      });
      let received = "";
      const requests = "PING\\r\\nSequence: a\\r\\n\\r\\nping\\r\\nSequence: b\\r\\nSize: 3\\r\\n\\r\\nxyzPING\\r\\nSequence: c\\r\\n\\r\\n";
      socket.on("data", (chunk) => {
        const first = received.length === 0;
        received += chunk.toString("latin1");
        if (first) {
          // Cut the pipeline at 1, 7 and 30 bytes: the server must not care.
          for (const [from, to] of [[0, 1], [1, 7], [7, 30], [30, requests.length]]) socket.write(requests.slice(from, to));
        }
        if ((received.match(/PONG/g) || []).length === 3) {
          process.stdout.write(JSON.stringify({ protocol: socket.getProtocol(), authorized: socket.authorized, received }));
          socket.end();
        }
      });
      socket.on("error", (error) => { process.stdout.write(JSON.stringify({ error: error.message })); process.exit(1); });
    `;
    const child = Bun.spawn(["node", "-e", script], { stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
    expect(code).toBe(0);
    const result = JSON.parse(out) as { protocol: string; authorized: boolean; received: string };
    const reply = (seq: string) => `OK\r\nSequence: ${seq}\r\nSize: 4\r\n\r\nPONG`;
    expect(result.authorized).toBe(true);
    expect(["TLSv1.2", "TLSv1.3"]).toContain(result.protocol);
    expect(result.received.startsWith("OK\r\n")).toBe(true);
    expect(new Set(result.received.slice(4).split(/(?=OK\r\n)/))).toEqual(new Set([reply("a"), reply("b"), reply("c")]));
  });
});
