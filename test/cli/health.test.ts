// `gnp health` as a container runtime runs it: the real CLI against a real `gnp serve` with an
// admin listener. Exit 0 and one stdout line while /readyz says ready; exit 1 and one stderr
// line for everything else (not ready, nothing listening, no answer, no address, a flag
// mistake), since Docker reserves exit 2 of a health check.

import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliProcess, cleanEnv, cleanupCli, freshDir, isOneLine, runCli } from "./cli-process.ts";
import { PipelineClient } from "../ops/pipeline-client.ts";
import { okReply, request } from "../support/wire.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
const health = (cwd: string, args: string[], env: Record<string, string> = {}) => runCli([process.execPath, CLI, "health", ...args], { cwd, env: cleanEnv(env) });

afterEach(cleanupCli);

/** A zero-config server with an admin listener on a free port; resolves with both ports. */
async function startServer(cwd: string, extra: string[] = []): Promise<{ server: CliProcess; port: number; admin: number }> {
  const server = new CliProcess([process.execPath, CLI, "serve", "--port", "0", "--data", "d", "--store", "memory:", "--admin", "127.0.0.1:0", ...extra], { cwd });
  const port = await server.listeningPort();
  const admin = Number(new URL(await server.adminUrl()).port);
  return { server, port, admin };
}

/** A port nothing listens on (the probe listener is closed before returning). */
function closedPort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

describe("gnp health", () => {
  test("exits 0 with one line while the server's /readyz says ready: --admin, GNP_ADMIN (0.0.0.0 asked on loopback) and the settings file", async () => {
    const cwd = freshDir();
    const { admin } = await startServer(cwd);
    const ready = [0, `ready (http://127.0.0.1:${admin}/readyz)\n`, ""];
    const byFlag = await health(cwd, ["--admin", `127.0.0.1:${admin}`]);
    const byEnv = await health(cwd, [], { GNP_ADMIN: `0.0.0.0:${admin}` });
    const fileDir = freshDir();
    writeFileSync(join(fileDir, "gnp.toml"), `admin = "127.0.0.1:${admin}"\n`);
    const byFile = await health(fileDir, []);
    expect([byFlag, byEnv, byFile].map((run) => [run.exitCode, run.stdout, run.stderr])).toEqual([ready, ready, ready]);
  });

  test("exits 1 saying not ready while the server drains after SIGTERM", async () => {
    const cwd = freshDir();
    const release = join(cwd, "release");
    // HOLD keeps the drain going until the test creates the release file.
    writeFileSync(
      join(cwd, "hold.ts"),
      `import { existsSync } from "node:fs";
export default { async HOLD() { for (let i = 0; i < 1000 && !existsSync(${JSON.stringify(release)}); i++) await Bun.sleep(10); return "held"; } };
`,
    );
    const { server, port, admin } = await startServer(cwd, ["--handlers", "hold.ts", "--log-format", "json"]);
    const read = (name: string) => readFileSync(join(cwd, "d", "pki", name), "utf8");
    await using client = await PipelineClient.connect(port, { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") });
    client.write(request("HOLD", "1") + request("PING", "2"));
    await client.waitFor(okReply("2", "PONG"));
    server.kill("SIGTERM");
    await server.waitForStdout(/"event":"shutting down"/);
    const run = await health(cwd, ["--admin", `127.0.0.1:${admin}`]);
    writeFileSync(release, "");
    expect([run.exitCode, run.stdout, run.stderr]).toEqual([1, "", `gnp: not ready: shutting down (http://127.0.0.1:${admin}/readyz answered 503)\n`]);
    expect((await server.done).exitCode).toBe(0);
  });

  test("exits 1 naming the address and where it came from when nothing listens there", async () => {
    const cwd = freshDir();
    const port = closedPort();
    const run = await health(cwd, [], { GNP_ADMIN: `127.0.0.1:${port}` });
    expect([run.exitCode, run.stdout, run.stderr]).toEqual([
      1,
      "",
      `gnp: cannot ask the admin listener at 127.0.0.1:${port} (GNP_ADMIN): connection refused (is gnp serve running with this --admin address?)\n`,
    ]);
  });

  test("exits 1 after --timeout when the listener accepts but never answers", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const run = await health(freshDir(), ["--admin", `127.0.0.1:${silent.port}`, "--timeout", "0.2"]);
      expect([run.exitCode, run.stderr]).toEqual([1, `gnp: cannot ask the admin listener at 127.0.0.1:${silent.port} (--admin): no answer within 0.2 s\n`]);
    } finally {
      silent.stop(true);
    }
  });

  test("exits 1 when the address answers something that is not /readyz of gnp serve", async () => {
    const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("no such page\n", { status: 404 }) });
    try {
      const run = await health(freshDir(), ["--admin", `127.0.0.1:${other.port}`]);
      expect([run.exitCode, run.stderr]).toEqual([1, `gnp: http://127.0.0.1:${other.port}/readyz answered 404: no such page; is 127.0.0.1:${other.port} the admin address of gnp serve?\n`]);
    } finally {
      await other.stop(true);
    }
  });

  test.each([
    ["no address anywhere", [], "gnp: no admin address: give --admin HOST:PORT or set GNP_ADMIN, the address gnp serve was started with\n"],
    ["port 0", ["--admin", "127.0.0.1:0"], 'gnp: invalid --admin "127.0.0.1:0": port 0 is chosen when the server starts; give the port it printed\n'],
    ["a malformed address", ["--admin", "localhost"], 'gnp: invalid --admin "localhost": expected HOST:PORT, e.g. 127.0.0.1:9090\n'],
    ["an unknown flag", ["--bogus"], "gnp: health: Unknown option '--bogus'\n"],
    ["a bad --timeout", ["--timeout", "soon"], 'gnp: invalid --timeout "soon": expected seconds above 0, at most 300\n'],
  ])("exits 1, not Docker's reserved 2, with one line for %s", async (_name, args, stderr) => {
    const run = await health(freshDir(), args as string[]);
    expect([run.exitCode, run.stdout, run.stderr]).toEqual([1, "", stderr]);
    expect(isOneLine(run.stderr)).toBe(true);
  });
});
