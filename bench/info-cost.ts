// What INFO costs as the store grows: gnp serve on a SQLite store holding no documents and one
// holding --documents (default 200,000, written straight into the file before the start), the
// median round trip of INFO one at a time, and how long another client's PING waits while
// 200 INFOs arrive pipelined on one connection. INFO should cost the same at both sizes.
//
//   bun bench/info-cost.ts
//   bun bench/info-cost.ts --documents 500000 --compare ../gnp-before   # beside another checkout

import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { connect } from "../src/client/index.ts";
import { listeningPort } from "./child-servers.ts";

const root = join(import.meta.dir, "..");
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    documents: { type: "string", default: "200000" },
    compare: { type: "string" },
    "no-pin": { type: "boolean", default: false },
  },
});
const documents = Number(values.documents);
if (!Number.isInteger(documents) || documents < 1) throw new RangeError("--documents must be a whole number from 1");
const canPin = !values["no-pin"] && cpus().length >= 2 && Bun.which("taskset") !== null;
if (canPin) Bun.spawnSync(["taskset", "-cp", "1", String(process.pid)], { stdout: "ignore" });
const PIPELINED = 200;
const ONE_AT_A_TIME = 200;

console.log(`bun ${Bun.version}; ${canPin ? "server on CPU 0, clients on CPU 1" : "not pinned"}; ${documents.toLocaleString("en-US")} documents of 100 bytes\n`);
console.log("| server | documents | INFO median ms | INFO p99 ms | PING wait during 200 pipelined INFOs, ms |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [name, checkout] of [["gnp", root], ...(values.compare ? [[`gnp ${values.compare}`, values.compare]] : [])] as [string, string][]) {
  for (const count of [0, documents]) console.log(await measure(name, checkout, count));
}

async function measure(name: string, checkout: string, count: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "gnp-info-"));
  try {
    if (count > 0) fill(join(dir, "data", "gnp.db"), count);
    const argv = [process.execPath, join(checkout, "src/cli.ts"), "serve", "--port", "0", "--data", join(dir, "data"), "--log-format", "text", "--log-level", "error"];
    const server = Bun.spawn(canPin ? ["taskset", "-c", "0", ...argv] : argv, { cwd: dir, stdout: "pipe", stderr: "inherit" });
    const port = await listeningPort(server.stdout, { name: "gnp serve" });
    const read = (file: string) => readFileSync(join(dir, "data", "pki", file), "utf8");
    const options = { port, cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt"), timeout: 120_000 };
    const [info, pinger] = [await connect(options), await connect(options)];
    const times: number[] = [];
    for (let i = 0; i < ONE_AT_A_TIME; i++) {
      const started = performance.now();
      await info.call("INFO");
      times.push(performance.now() - started);
    }
    await pinger.call("PING");
    const flood = Promise.all(Array.from({ length: PIPELINED }, () => info.call("INFO")));
    const pingStarted = performance.now();
    await pinger.call("PING");
    const pingWait = performance.now() - pingStarted;
    await flood;
    await Promise.all([info.close(), pinger.close()]);
    server.kill("SIGTERM");
    await server.exited;
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))]!.toFixed(3);
    return `| ${name} | ${count.toLocaleString("en-US")} | ${at(0.5)} | ${at(0.99)} | ${pingWait.toFixed(1)} |`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A store file as gnp would leave it, with `count` documents (and no counters: gnp fills them once at open). */
function fill(path: string, count: number): void {
  mkdirSync(join(path, ".."), { recursive: true });
  const db = new Database(path, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("CREATE TABLE documents (key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID");
  const insert = db.prepare("INSERT INTO documents (key, value, version) VALUES (?, ?, 1)");
  const value = new Uint8Array(100).fill(120);
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(`doc/${i}`, value);
  })();
  db.close();
}
