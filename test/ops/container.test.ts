// gnp's FROM scratch image, really built and run: `npm run image`'s script prepares the context
// from this checkout, podman builds it (docker format, which keeps the HEALTHCHECK) and runs
// it configured by GNP_* variables alone. From the host, through ports published on 127.0.0.1:
// the greeting and PING, /readyz; the HEALTHCHECK healthy; the process uid 10001; SIGTERM
// exits 0 with the shutdown line, logs JSON only. Then a read-only pki mount the uid cannot
// read, and the same pki made readable. Skipped without podman, failed without it under CI.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CliProcess, cleanEnv, runCli } from "../cli/cli-process.ts";
import { containerEngineOrSkip, type ContainerEngine } from "../support/container-engine.ts";
import { GREETING, errorLine, okReply, request } from "../support/wire.ts";
import { PipelineClient } from "./pipeline-client.ts";

const ROOT = resolve(import.meta.dir, "../..");
const found = containerEngineOrSkip();
const ID = `gnp-test-${process.pid}`;
const TAG = `localhost/${ID}:latest`;
let engine: ContainerEngine;
let work = "";
const containers: string[] = [];
const volumes: string[] = [];
let built = false;

beforeAll(async () => {
  if (found.engine === undefined) return;
  engine = found.engine;
  work = mkdtempSync(join(tmpdir(), "gnp-image-"));
  const context = join(work, "context");
  const started = performance.now();
  const prepare = await runCli([process.execPath, join(ROOT, "container", "image-context.ts"), "--out", context], { cwd: ROOT, env: cleanEnv() });
  if (prepare.exitCode !== 0) throw new Error(`image-context.ts failed (${prepare.exitCode}):\n${prepare.stdout}${prepare.stderr}`);
  const prepared = performance.now();
  await engine.ok(["build", "--quiet", "--format", "docker", "--tag", TAG, context]);
  built = true;
  console.log(`container image: context ${((prepared - started) / 1000).toFixed(1)} s (build.ts included), podman build ${((performance.now() - prepared) / 1000).toFixed(1)} s`);
}, 600_000);

afterAll(async () => {
  // Nothing is left behind for the next run: CI checkouts are clean and so is the engine.
  if (engine !== undefined) {
    for (const name of containers) await engine.run(["rm", "--force", "--volumes", "--time", "0", name]);
    for (const name of volumes) await engine.run(["volume", "rm", "--force", name]);
    if (built) await engine.run(["rmi", "--force", TAG]);
  }
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

/** Fails the calling test with the reason when there is no engine (under CI), before it touches anything. */
function needImage(): void {
  if (found.engine === undefined) throw new Error(`no container engine: ${found.reason}`);
  if (!built) throw new Error("the image was not built (see beforeAll)");
}

/** Starts a container from the image and follows its log; `args` go before the image name. */
async function start(name: string, args: string[]): Promise<CliProcess> {
  containers.push(name);
  await engine.ok(["run", "--detach", "--name", name, ...engine.runFlags, ...args, TAG]);
  return new CliProcess([...engine.command, "logs", "--follow", name], { cwd: "/", env: cleanEnv() });
}

/** The host address a container port is published on, as [host, port]. */
async function published(name: string, port: number): Promise<number> {
  const text = (await engine.ok(["port", name, `${port}/tcp`])).trim().split("\n")[0]!;
  const match = /^127\.0\.0\.1:(\d+)$/.exec(text);
  if (match === null) throw new Error(`${name} ${port}/tcp is published on ${JSON.stringify(text)}, not 127.0.0.1`);
  return Number(match[1]);
}

/** A file copied out of a container. */
async function copyOut(name: string, path: string): Promise<string> {
  const target = join(work, `${name}-${path.split("/").pop()}`);
  await engine.ok(["cp", `${name}:${path}`, target]);
  return readFileSync(target, "utf8");
}

/** Every log line parsed; a plain line fails the test, naming it. */
function jsonLines(stdout: string): Record<string, unknown>[] {
  const lines = stdout.split("\n").filter((line) => line !== "");
  expect(lines.filter((line) => !line.startsWith("{"))).toEqual([]);
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe.skipIf(found.skip)("the FROM scratch image (container/Dockerfile) under podman", () => {
  test("a container engine runs here", () => {
    // Reached only when not skipped: under CI a missing engine fails here, with the reason.
    expect(found.reason).toBeUndefined();
  });

  test("built with its HEALTHCHECK, non-root user, volume and GNP_* defaults", async () => {
    needImage();
    const [image] = JSON.parse(await engine.ok(["image", "inspect", TAG])) as { Healthcheck?: { Test: string[] }; Config: { User: string; Volumes: Record<string, unknown>; Env: string[]; Entrypoint: string[]; Cmd: string[] } }[];
    expect(image!.Healthcheck?.Test).toEqual(["CMD", "/usr/local/bin/gnp", "health"]);
    expect(image!.Config).toMatchObject({ User: "10001:10001", Volumes: { "/data": {} }, Entrypoint: ["/usr/local/bin/gnp"], Cmd: ["serve"] });
    expect(image!.Config.Env).toEqual(expect.arrayContaining(["GNP_HOST=0.0.0.0", "GNP_DATA=/data", "GNP_ADMIN=127.0.0.1:9090", "GNP_LOG_FORMAT=json"]));
  });

  test("configured by GNP_* alone: greeting and PING from the host, /readyz, healthy, uid 10001, SIGTERM exits 0 with the shutdown line", async () => {
    needImage();
    const name = `${ID}-serve`;
    const volume = `${ID}-data`;
    volumes.push(volume);
    // The admin listener moved by GNP_ADMIN alone: the HEALTHCHECK follows it, 0.0.0.0 asked on loopback.
    const log = await start(name, ["--publish", "127.0.0.1::7443", "--publish", "127.0.0.1::9191", "--volume", `${volume}:/data`, "--env", "GNP_ADMIN=0.0.0.0:9191", "--env", "GNP_MAX_CONNECTIONS=64"]);
    await log.waitForStdout(/"event":"listening"/);
    const port = await published(name, 7443);
    const admin = await published(name, 9191);

    const tls = { cert: await copyOut(name, "/data/pki/client.crt"), key: await copyOut(name, "/data/pki/client.key"), ca: await copyOut(name, "/data/pki/ca.crt") };
    await using client = await PipelineClient.connect(port, tls);
    client.write(request("PING", "1"));
    await client.waitFor(okReply("1", "PONG"));
    expect(client.received).toBe(GREETING + okReply("1", "PONG"));
    const readyz = await fetch(`http://127.0.0.1:${admin}/readyz`);
    expect([readyz.status, await readyz.text()]).toEqual([200, "ready\n"]);

    const check = await engine.run(["healthcheck", "run", name]);
    expect(check.exitCode).toBe(0);
    expect((await engine.ok(["inspect", name, "--format", "{{.State.Health.Status}}"])).trim()).toBe("healthy");
    // The same command by hand, as `docker exec` would run it.
    expect((await engine.run(["exec", name, "/usr/local/bin/gnp", "health"])).stdout).toBe("ready (http://127.0.0.1:9191/readyz)\n");

    const pid = Number((await engine.ok(["inspect", name, "--format", "{{.State.Pid}}"])).trim());
    const ids = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").filter((line) => /^(Uid|Gid):/.test(line));
    expect(ids.map((line) => line.split(/\s+/).slice(1).join(" "))).toEqual(["10001 10001 10001 10001", "10001 10001 10001 10001"]);

    await engine.ok(["kill", "--signal", "TERM", name]);
    expect(await client.untilClosed()).toBe(GREETING + okReply("1", "PONG") + errorLine("server is shutting down"));
    expect((await engine.ok(["wait", name])).trim()).toBe("0");
    const logged = await log.done;
    expect(logged.stderr.replace(/^time=.*systemd.*\n/gm, "")).toBe("");
    const events = jsonLines(logged.stdout);
    expect(events.map((line) => line.event)).toEqual(["created certificates", "listening", "shutting down", "stopped"]);
    expect(events[1]).toMatchObject({ address: "0.0.0.0:7443", admin: "http://0.0.0.0:9191", slots: 64 });
    expect(events[2]).toMatchObject({ cause: "SIGTERM", timeout_s: 8 });
  }, 120_000);

  test("a read-only pki mount that uid 10001 cannot read: exit 1, one line naming GNP_CA, the file and the uid; readable, it serves", async () => {
    needImage();
    // The directory as `gnp certs init` makes it: mode 0700, keys 0600, owned by root.
    const pki = join(work, "pki");
    const init = await runCli([process.execPath, join(ROOT, "src", "cli.ts"), "certs", "init", pki], { cwd: work, env: cleanEnv() });
    expect(init.exitCode).toBe(0);
    const mount = ["--volume", `${pki}:/pki:ro`, "--env", "GNP_CA=/pki/ca.crt", "--env", "GNP_CERT=/pki/server.crt", "--env", "GNP_KEY=/pki/server.key"];
    const refused = `${ID}-refused`;
    containers.push(refused);
    const run = await engine.run(["run", "--name", refused, ...engine.runFlags, ...mount, TAG]);
    expect([run.exitCode, run.stderr.replace(/^time=.*systemd.*\n/gm, "")]).toEqual([1, "gnp: cannot read GNP_CA /pki/ca.crt: permission denied for uid 10001 (/pki is mode 0700, owner uid 0 gid 0)\n"]);

    // What the README says to do: the directory enterable, the server key readable by group 10001.
    chmodSync(pki, 0o755);
    chownSync(join(pki, "server.key"), 0, 10001);
    chmodSync(join(pki, "server.key"), 0o640);
    const name = `${ID}-own-pki`;
    const log = await start(name, ["--publish", "127.0.0.1::7443", ...mount, "--env", "GNP_STORE=memory:"]);
    await log.waitForStdout(/"event":"listening"/);
    const read = (file: string) => readFileSync(join(pki, file), "utf8");
    await using client = await PipelineClient.connect(await published(name, 7443), { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") });
    client.write(request("PING", "1"));
    await client.waitFor(okReply("1", "PONG"));
    await engine.ok(["stop", "--time", "20", name]);
    expect((await engine.ok(["wait", name])).trim()).toBe("0");
    expect(jsonLines((await log.done).stdout).map((line) => line.event)).toEqual(["listening", "shutting down", "stopped"]);
  }, 120_000);
});
