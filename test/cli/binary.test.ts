// The single executable, dist/gnp, as someone who downloaded it runs it: copied alone into an
// empty directory, with no bun on PATH, it prints its version, starts with zero
// configuration and serves the greeting / PING / abort cycle over real TLS. The build is
// reused when it is newer than every source; the startup time is printed, never asserted.

import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "../../src/version.ts";
import { GREETING, errorLine, okReply, request } from "../support/wire.ts";
import { CliProcess, cleanEnv, cleanupCli, freshDir, isOneLine, runCli } from "./cli-process.ts";
import { RawClient } from "../support/harness.ts";
import { BINARY, ensureBinary } from "../support/binary.ts";

/** The binary must not lean on a bun (or anything else) from the repository's node_modules. */
const BARE_ENV = () => {
  const { PATH: _path, ...rest } = cleanEnv();
  return { ...rest, PATH: "/usr/local/bin:/usr/bin:/bin" };
};


let dir = "";

beforeAll(async () => {
  await ensureBinary();
}, 120_000);

afterEach(cleanupCli);

/** A fresh directory holding nothing but a copy of the binary. */
function installAlone(): string {
  dir = freshDir("gnp-binary-");
  copyFileSync(BINARY, join(dir, "gnp"));
  return dir;
}

describe("the compiled gnp binary, alone in an empty directory", () => {
  test("embeds its entry under its own name, not a per-build temporary one, so two builds of one checkout are identical", () => {
    const text = readFileSync(BINARY).toString("latin1");
    const entries = new Set([...text.matchAll(/\$bunfs\/root\/(gnp[\w.-]*)/g)].map((match) => match[1]));
    expect([...entries]).toEqual(["gnp"]);
  });

  test("./gnp version prints the version, the Bun version and the target", async () => {
    const cwd = installAlone();
    const run = await runCli(["./gnp", "version"], { cwd, env: BARE_ENV() });
    expect(run).toMatchObject({ exitCode: 0, stderr: "" });
    expect(run.stdout).toBe(`gnp ${VERSION} (bun ${Bun.version}, ${process.platform}-${process.arch})\n`);
  });

  test("a second ./gnp serve on the same data directory refuses: the data directory's lock works inside the executable", async () => {
    const cwd = installAlone();
    const first = new CliProcess(["./gnp", "serve", "--port", "0", "--data", "./d", "--store", "memory:", "--log-format", "text"], { cwd, env: BARE_ENV() });
    await first.listeningPort();
    const second = await runCli(["./gnp", "serve", "--port", "0", "--data", "./d", "--store", "memory:"], { cwd, env: BARE_ENV() });
    expect([second.exitCode, second.stderr]).toEqual([1, `gnp: data directory ./d is in use by gnp serve pid ${first.pid} (d/gnp.lock): stop it first, or give this server its own --data\n`]);
    first.kill("SIGTERM");
    expect((await first.done).exitCode).toBe(0);
  });

  test("./gnp serve --bogus is one line on stderr and exit 2", async () => {
    const cwd = installAlone();
    const run = await runCli(["./gnp", "serve", "--bogus"], { cwd, env: BARE_ENV() });
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toStartWith("gnp: ");
    expect(isOneLine(run.stderr)).toBe(true);
  });

  test("./gnp serve --port 0 --data ./d greets, answers PING, aborts a head without Sequence, and exits 0 on SIGTERM", async () => {
    const cwd = installAlone();
    const started = performance.now();
    const first = new CliProcess(["./gnp", "serve", "--port", "0", "--data", "./d", "--log-format", "text"], { cwd, env: BARE_ENV() });
    await first.listeningPort();
    const firstMs = performance.now() - started;
    expect(first.stdout).toContain("created a local CA");
    // Stopped at once: its exit code on a signal is checked below, after real traffic.
    first.kill("SIGTERM");
    await first.done;

    // The second start reuses the certificates: this is the startup a restart pays.
    const restarted = performance.now();
    const server = new CliProcess(["./gnp", "serve", "--port", "0", "--data", "./d"], { cwd, env: BARE_ENV() });
    const port = await server.listeningPort();
    const restartMs = performance.now() - restarted;
    console.log(`dist/gnp startup to listening: ${firstMs.toFixed(0)} ms first run (creates certificates), ${restartMs.toFixed(0)} ms with existing certificates`);
    expect(readdirSync(cwd).sort()).toEqual(["d", "gnp"]);

    const pki = join(cwd, "d", "pki");
    const read = (name: string) => readFileSync(join(pki, name), "utf8");
    await using peer = await RawClient.connect({ port, pem: { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") } });
    await peer.waitFor(GREETING);
    peer.write(request("PING", "1"));
    await peer.waitFor(okReply("1", "PONG"));
    // A head without Sequence condemns the connection; the PING glued behind it never runs.
    peer.write("PING\r\n\r\n" + request("PING", "2"));
    expect(await peer.untilClosed()).toBe(GREETING + okReply("1", "PONG") + errorLine("missing Sequence header"));

    server.kill("SIGTERM");
    const run = await server.done;
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toBe("");
  });

  test("./gnp serve --handlers commands.ts loads a TypeScript module with no build step", async () => {
    const cwd = installAlone();
    writeFileSync(
      join(cwd, "commands.ts"),
      `type Req = { args: string[] };
       export default function setup(server: { command(name: string, handler: (req: Req, conn: { identity: string }) => string): void }, gnp: { GnpError: new (code: string, message: string) => Error }) {
         server.command("HELLO", (req, conn) => \`hello \${req.args[0] ?? conn.identity}\`);
         server.command("ODD", (req) => { if (Number(req.args[0]) % 2 === 0) throw new gnp.GnpError("BAD_ARGUMENTS", "even"); return "odd"; });
       }`,
    );
    const server = new CliProcess(["./gnp", "serve", "--port", "0", "--data", "./d", "--handlers", "commands.ts", "--log-format", "text"], { cwd, env: BARE_ENV() });
    const port = await server.listeningPort();
    expect(server.stdout).toContain("loaded 2 command(s) from commands.ts: HELLO, ODD");
    const pki = join(cwd, "d", "pki");
    const read = (name: string) => readFileSync(join(pki, name), "utf8");
    await using peer = await RawClient.connect({ port, pem: { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") } });
    peer.write(request("HELLO", "1") + request("ODD 3", "2") + request("ODD 4", "3"));
    await peer.waitFor("Sequence: 3");
    await peer.waitFor("even");
    expect(peer.received).toBe(GREETING + okReply("1", "hello admin") + okReply("2", "odd") + "ERR\r\nSequence: 3\r\nSize: 4\r\n\r\neven");
    server.kill("SIGTERM");
    expect((await server.done).exitCode).toBe(0);
  });
});
