// Server memory per idle authenticated connection: starts `gnp serve` (zero-config, temp data
// dir) as one child and the clients as another, so the measured process runs no client code;
// reads the server's VmRSS from /proc before and after N connections have been greeted, then
// closes everything. With --against, this tree and another one in turn (A, B, A, B, ...), each
// --runs times, then medians with min..max. Bounded: N is capped and every run is cut after a deadline.
//   bun bench/idle-rss.ts [--connections 1000] [--max-connections 10000] [--binary dist/gnp | --tree ../other-checkout]
//   bun bench/idle-rss.ts --against ../other-checkout --runs 3 [--connections 2000] [--gc]
// --gc loads idle-gc-preload.ts into each server, which collects its garbage before each RSS
// reading and reports its JS heap (source trees only: not with --binary).

import type { Socket, Subprocess } from "bun";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const CLI = resolve(import.meta.dir, "../src/cli.ts");
const MAX_CONNECTIONS = 20_000;
const DEADLINE_MS = 120_000;
/** Handshakes in flight at once: enough to be quick, few enough that none hits the handshake timeout. */
const OPEN_BATCH = 50;

type Args = { connections: number; maxConnections: number; binary: string | undefined; cli: string; against: string | undefined; runs: number; gc: boolean };
const GC_PRELOAD = resolve(import.meta.dir, "idle-gc-preload.ts");
const MAX_RUNS = 20;

function parseArgs(argv: string[]): Args {
  const value = (flag: string, fallback: number) => {
    const index = argv.indexOf(flag);
    if (index < 0) return fallback;
    const number = Number(argv[index + 1]);
    if (!Number.isInteger(number) || number < 1 || number > MAX_CONNECTIONS) throw new Error(`${flag} expects a whole number from 1 to ${MAX_CONNECTIONS}`);
    return number;
  };
  const binaryIndex = argv.indexOf("--binary");
  const binary = binaryIndex < 0 ? undefined : resolve(argv[binaryIndex + 1] ?? "");
  // --tree: the server of another checkout (its src/cli.ts), measured by this script.
  const treeIndex = argv.indexOf("--tree");
  const cli = treeIndex < 0 ? CLI : resolve(argv[treeIndex + 1] ?? "", "src/cli.ts");
  // --against: another checkout's server, measured in turn with this one's (or --tree's).
  const againstIndex = argv.indexOf("--against");
  const against = againstIndex < 0 ? undefined : resolve(argv[againstIndex + 1] ?? "", "src/cli.ts");
  const runs = value("--runs", 1);
  if (runs > MAX_RUNS) throw new Error(`--runs expects a whole number from 1 to ${MAX_RUNS}`);
  if (against !== undefined && binary !== undefined) throw new Error("--against compares two checkouts' src/cli.ts: leave out --binary");
  const gc = argv.includes("--gc");
  if (gc && binary !== undefined) throw new Error("--gc preloads a script into bun: leave out --binary");
  return { connections: value("--connections", 1000), maxConnections: value("--max-connections", 10_000), binary, cli, against, runs, gc };
}

/** VmRSS and VmHWM of a process, in KiB. */
function memoryOf(pid: number): { rssKiB: number; hwmKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

/** Reads lines from a child's stdout and resolves the first that matches. */
function lineReader(stream: ReadableStream<Uint8Array>): (pattern: RegExp) => Promise<RegExpMatchArray> {
  let text = "";
  const waiters: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void }[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (let index = waiters.length - 1; index >= 0; index--) {
        const match = text.match(waiters[index]!.pattern);
        if (match) waiters.splice(index, 1)[0]!.resolve(match);
      }
    }
  })();
  return (pattern) => {
    const match = text.match(pattern);
    if (match) return Promise.resolve(match);
    const { promise, resolve } = Promise.withResolvers<RegExpMatchArray>();
    waiters.push({ pattern, resolve });
    return promise;
  };
}

/** RSS after it stops moving: the kernel and allocator settle within a few samples. */
async function settledRss(pid: number): Promise<number> {
  let last = memoryOf(pid).rssKiB;
  for (let sample = 0; sample < 10; sample++) {
    await Bun.sleep(200);
    const now = memoryOf(pid).rssKiB;
    if (Math.abs(now - last) < 64) return now;
    last = now;
  }
  return last;
}

// ── The client process ───────────────────────────────────────────────────────────────

/** Opens `count` connections, waits for each greeting, says "ready", holds them until stdin closes. */
async function runClients(port: number, count: number, pkiDir: string): Promise<void> {
  const read = (name: string) => readFileSync(join(pkiDir, name), "utf8");
  const tls = { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt"), serverName: "localhost" };
  const sockets: Socket<undefined>[] = [];
  const open = () => {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    let seen = "";
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      tls,
      socket: {
        data(_socket, chunk) {
          seen += Buffer.from(chunk).toString("latin1");
          if (seen.startsWith("OK\r\n")) resolve();
          else if (seen.includes("\r\n")) reject(new Error(`refused: ${seen.trim()}`));
        },
        close: () => reject(new Error(`closed before the greeting (${seen.trim() || "nothing received"})`)),
        error: (_socket, error) => reject(error),
      },
    }).then((socket) => sockets.push(socket), reject);
    return promise;
  };
  for (let opened = 0; opened < count; opened += OPEN_BATCH) {
    await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, count - opened) }, open));
  }
  console.log(`ready ${sockets.length}`);
  for await (const _ of Bun.stdin.stream()) {
    // Nothing is sent on stdin; its end is the signal to close.
  }
  for (const socket of sockets) socket.end();
}

// ── The orchestrator ────────────────────────────────────────────────────────────────

/** One run: the server's KiB per idle connection, printed with what it was measured from. */
async function measure(args: Args): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), "gnp-idle-rss-"));
  const children: Subprocess[] = [];
  const deadline = setTimeout(() => {
    console.error(`idle-rss: gave up after ${DEADLINE_MS / 1000} s`);
    for (const child of children) child.kill("SIGKILL");
    process.exit(1);
  }, DEADLINE_MS);
  try {
    const program = args.binary !== undefined ? [args.binary] : args.gc ? [process.execPath, "--preload", GC_PRELOAD, args.cli] : [process.execPath, args.cli];
    // Text logs: the "listening on" line read below is the text banner (logs are JSON when stdout is not a terminal).
    const server = Bun.spawn([...program, "serve", "--port", "0", "--data", dataDir, "--max-connections", String(args.maxConnections), "--log-format", "text"], {
      stdout: "pipe",
      stderr: "inherit",
    });
    children.push(server);
    const serverLine = lineReader(server.stdout);
    const port = Number((await serverLine(/gnp listening on 127\.0\.0\.1:(\d+)/))[1]);
    const pkiDir = join(dataDir, "pki");

    // With --gc: a full collection in the server, then its RSS; the JS heap in bytes.
    let samples = 0;
    const collected = async () => {
      server.kill("SIGUSR2");
      const [, heap, extra] = (await serverLine(new RegExp(`idle-rss heap sample ${++samples}: (\\d+) (\\d+)`))).map(Number);
      return { rssKiB: await settledRss(server.pid), heap: heap! + extra! };
    };
    const sample = async () => (args.gc ? collected() : { rssKiB: await settledRss(server.pid), heap: NaN });

    // Warm-up: the first connections pay one-time costs (TLS context, certificate cache, JIT).
    await connectClients(port, 20, pkiDir, children, async () => {});
    const start = await sample();
    const before = start.rssKiB;

    let after = 0;
    let heapPerConnection = NaN;
    const startedAt = performance.now();
    await connectClients(port, args.connections, pkiDir, children, async () => {
      const openMs = performance.now() - startedAt;
      const end = await sample();
      after = end.rssKiB;
      heapPerConnection = (end.heap - start.heap) / args.connections;
      console.log(`opened ${args.connections} authenticated connections in ${openMs.toFixed(0)} ms`);
    });
    const { hwmKiB } = memoryOf(server.pid);

    server.kill("SIGTERM");
    await server.exited;
    const perConnection = ((after - before) * 1024) / args.connections;
    const name = args.binary === undefined ? `bun ${args.cli} serve` : `${args.binary} serve`;
    console.log(`server (${name}, --max-connections ${args.maxConnections}): VmRSS ${mib(before)} before, ${mib(after)} with ${args.connections} idle connections, peak ${mib(hwmKiB)}`);
    // The slab is reserved whole at start, but pages no connection touched are not resident,
    // so its share of this figure is the columns and whatever message bytes were written.
    console.log(`per idle connection: ${(perConnection / 1024).toFixed(1)} KiB (slab reserved: ${args.maxConnections} x 8 KiB of address space)`);
    if (args.gc) console.log(`after a full collection; JS heap and its outside buffers per connection: ${(heapPerConnection / 1024).toFixed(2)} KiB`);
    return perConnection / 1024;
  } finally {
    clearTimeout(deadline);
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Runs the client role in a child process; `whileOpen` runs while all its connections are up. */
async function connectClients(port: number, count: number, pkiDir: string, children: Subprocess[], whileOpen: () => Promise<void>): Promise<void> {
  const client = Bun.spawn([process.execPath, import.meta.path, "--client", String(port), String(count), pkiDir], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  children.push(client);
  let greeted = false;
  const ready = lineReader(client.stdout)(/ready (\d+)/).then(() => void (greeted = true));
  const exitedEarly = client.exited.then((code) => {
    if (!greeted) throw new Error(`the client process exited (${code}) before all ${count} connections were greeted`);
  });
  await Promise.race([ready, exitedEarly]);
  await whileOpen();
  client.stdin.end();
  await client.exited;
}

/** Every run of this tree (A) and, with --against, of the other (B), alternating; then the medians. */
async function main(args: Args): Promise<void> {
  const trees = args.against === undefined ? [{ name: "A", args }] : [{ name: "A", args }, { name: "B", args: { ...args, cli: args.against } }];
  const figures = new Map<string, number[]>(trees.map((tree) => [tree.name, []]));
  for (let run = 0; run < args.runs; run++) {
    for (const tree of trees) {
      if (trees.length > 1 || args.runs > 1) console.log(`-- ${tree.name}, run ${run + 1} of ${args.runs}`);
      figures.get(tree.name)!.push(await measure(tree.args));
    }
  }
  if (trees.length === 1 && args.runs === 1) return;
  console.log("");
  for (const tree of trees) {
    const kib = figures.get(tree.name)!;
    const sorted = [...kib].sort((x, y) => x - y);
    const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
    console.log(`${tree.name} (${tree.args.cli}): ${median.toFixed(1)} KiB per idle connection, median of ${kib.length} (${sorted[0]!.toFixed(1)}..${sorted.at(-1)!.toFixed(1)}); runs: ${kib.map((x) => x.toFixed(1)).join(", ")}`);
  }
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

const argv = process.argv.slice(2);
if (argv[0] === "--client") {
  await runClients(Number(argv[1]), Number(argv[2]), argv[3]!);
  process.exit(0);
} else {
  try {
    await main(parseArgs(argv));
  } catch (error) {
    console.error(`idle-rss: ${(error as Error).message}`);
    process.exit(1);
  }
}
