// A throwaway PostgreSQL server for tests: Debian's binaries (/usr/lib/postgresql/*/bin), a
// fresh data directory, 127.0.0.1 on a free port, trust authentication, released with
// `await using`. As root it runs as the `postgres` system user, because PostgreSQL refuses root.
// Without PostgreSQL, tests are skipped with a printed reason, except under CI, where they
// run and fail: CI installs PostgreSQL (.ci/run), so its absence there is a fault.

import { SQL } from "bun";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type TestPostgres = AsyncDisposable & {
  /** postgres://postgres@127.0.0.1:PORT/gnp — the database every test may use. */
  readonly url: string;
  readonly port: number;
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
};

export type StartOptions = {
  /** fsync and synchronous commits; off by default, since tests check logic and not PostgreSQL's own durability. */
  durable?: boolean;
};

/** The newest Debian PostgreSQL bin directory, or undefined when none is installed. */
export function findPostgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, "bin", "postgres")) && existsSync(join(root, name, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

/**
 * True when the PostgreSQL tests should be skipped (no PostgreSQL, not in CI); prints why.
 *
 * @example
 * describe.skipIf(skipWithoutPostgres())("postgres store", () => { ... });
 */
export function skipWithoutPostgres(): boolean {
  if (findPostgresBin() !== undefined || process.env.CI) return false;
  console.warn("skipping PostgreSQL tests: no PostgreSQL under /usr/lib/postgresql/*/bin (apt-get install postgresql)");
  return true;
}

/** Starts a server; resolves once it accepts connections and the database `gnp` exists. */
export async function startPostgres(options: StartOptions = {}): Promise<TestPostgres> {
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error("PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/postgres (apt-get install postgresql)");
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  const dir = mkdtempSync(join(tmpdir(), "gnp-pg-"));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, "data");
  const spawnAs = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C", LC_ALL: "C" };

  const init = Bun.spawnSync([join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"], {
    ...spawnAs,
    cwd: dir,
    env,
    stdout: "ignore",
    stderr: "pipe",
  });
  if (init.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr.toString().trim()}`);
  }

  const port = await freePort();
  const durability = options.durable ? [] : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];
  const server = Bun.spawn(
    [join(bin, "postgres"), "-D", data, "-h", "127.0.0.1", "-p", String(port), "-k", dir, "-c", "max_connections=200", ...durability],
    { ...spawnAs, cwd: dir, env, stdout: "ignore", stderr: "pipe" },
  );
  // Should the test process end without stop() (a failed run), take the server with it.
  const onExit = () => server.kill("SIGQUIT");
  process.once("exit", onExit);
  const log = await readUntilReady(server.stderr);
  const url = `postgres://postgres@127.0.0.1:${port}/gnp`;
  const admin = new SQL(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1 });
  let databases = 0;
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      process.off("exit", onExit);
      await admin.close().catch(() => {});
      // SIGINT is PostgreSQL's "fast" shutdown: it ends sessions and exits promptly.
      server.kill("SIGINT");
      await server.exited;
      rmSync(dir, { recursive: true, force: true });
    })());

  try {
    if (!log.ready) throw new Error(`postgres did not start: ${log.text.trim()}`);
    await admin`CREATE DATABASE gnp`;
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    port,
    async createDatabase() {
      const name = `gnp_${++databases}`;
      await admin.unsafe(`CREATE DATABASE ${name}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("postgres:"));
  const fields = line?.split(":");
  if (fields === undefined || fields.length < 4) throw new Error("running as root, but there is no postgres user to run PostgreSQL as");
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** A port that was free a moment ago: bind 127.0.0.1:0, read the port, release it. */
function freePort(): Promise<number> {
  const { promise, resolve, reject } = Promise.withResolvers<number>();
  const probe = createServer();
  probe.once("error", reject);
  probe.listen(0, "127.0.0.1", () => {
    const address = probe.address();
    probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
  });
  return promise;
}

/** Reads the server's log until it says it accepts connections, or until it exits. */
async function readUntilReady(stream: ReadableStream<Uint8Array>): Promise<{ ready: boolean; text: string }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  // Bounded: the log of a starting server is a handful of lines; the stream ends if it exits.
  for (let reads = 0; reads < 1000; reads++) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (text.includes("database system is ready to accept connections")) {
      // Keep draining, so a chatty server never blocks on a full pipe.
      void drain(reader);
      return { ready: true, text };
    }
  }
  return { ready: false, text };
}

async function drain(reader: { read(): Promise<{ done: boolean }> }): Promise<void> {
  try {
    // Ends with the server: its stderr closes when it exits.
    for (;;) if ((await reader.read()).done) return;
  } catch {
    // The server is gone; nothing left to read.
  }
}
