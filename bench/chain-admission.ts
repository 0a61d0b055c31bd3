// What client certificate chains cost at admission: a gnp server (library, child process,
// pinned to CPU 0 when taskset exists) admits clients that send a leaf alone (issued by the
// root) or a leaf with two intermediates (root only configured), with the same certificate
// every time (validation cache warm) or a new one per connection (cold). Prints per case the
// median connect-to-greeting time, handshakes per second and the server's CPU (utime+stime
// from /proc) per handshake. With --baseline SRC, a second server built from another source
// tree (e.g. an export of main) runs beside it, cases alternating, for a side-by-side ratio.
//
//   bun bench/chain-admission.ts                       # 300 handshakes per case
//   bun bench/chain-admission.ts --count 500 --baseline /tmp/main/src

import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    count: { type: "string", default: "300" },
    conns: { type: "string", default: "8" },
    baseline: { type: "string" },
    serve: { type: "string" },
  },
});

if (values.serve !== undefined) await serve(values.serve);
else await main();

/** Child mode: a server from the source tree `src`, trusting the root PEM read from stdin. */
async function serve(src: string): Promise<void> {
  const input = JSON.parse(await new Response(Bun.stdin.stream()).text()) as { root: string; cert: string; key: string };
  const { createServer } = (await import(join(src, "index.ts"))) as typeof import("../src/index.ts");
  const server = createServer({ host: "127.0.0.1", port: 0, tls: { cert: input.cert, key: input.key }, trustedCas: [input.root] });
  await server.listen();
  console.log(JSON.stringify({ port: server.port }));
}

async function main(): Promise<void> {
  const { createCertificateAuthority, issueClientCertificate, issueServerCertificate } = await import("../src/certs/generate.ts");
  const count = Number(values.count);
  const conns = Number(values.conns);
  const root = await createCertificateAuthority({ commonName: "bench root" });
  const int1 = await createCertificateAuthority({ commonName: "bench int 1", issuer: root });
  const int2 = await createCertificateAuthority({ commonName: "bench int 2", issuer: int1 });
  const serverCert = await issueServerCertificate(root, { names: ["localhost", "127.0.0.1"] });
  const many = (issuer: typeof root, n: number) => Promise.all(Array.from({ length: n }, (_, i) => issueClientCertificate(issuer, { commonName: `c${i}` })));
  const chain = `${int2.certificatePem}${int1.certificatePem}`;
  const [flatOne] = await many(root, 1);
  const [chainOne] = await many(int2, 1);
  const flatMany = await many(root, count);
  const chainMany = await many(int2, count);
  const cases = [
    { label: "leaf alone, warm", certs: [flatOne!], extra: "" },
    { label: "leaf + 2 intermediates, warm", certs: [chainOne!], extra: chain },
    { label: "leaf alone, cold", certs: flatMany, extra: "" },
    { label: "leaf + 2 intermediates, cold", certs: chainMany, extra: chain },
  ];
  const pin = !!Bun.which("taskset") && cpus().length >= 2;
  const trees = [{ name: "this", src: resolve(import.meta.dir, "../src") }, ...(values.baseline ? [{ name: "baseline", src: resolve(values.baseline) }] : [])];
  const servers = await Promise.all(trees.map(async (tree) => ({ ...tree, ...(await start(tree.src, pin, { root: root.certificatePem, cert: serverCert.certificatePem, key: serverCert.privateKeyPem })) })));
  console.log(`${count} handshakes per case, ${conns} at a time, TLS 1.3, ECDSA P-256${pin ? ", server on CPU 0, client on CPU 1" : ""}`);
  console.log(`${"case".padEnd(30)} ${"server".padEnd(9)} ${"verdict".padEnd(8)} ${"p50 ms".padStart(7)} ${"hs/s".padStart(7)} ${"CPU us/hs".padStart(10)}`);
  try {
    for (const c of cases) {
      for (const server of servers) {
        const before = cpuMicros(server.pid);
        const run = await handshakes(server.port, c.certs, c.extra, count, conns, root.certificatePem);
        const cpu = (cpuMicros(server.pid) - before) / count;
        console.log(`${c.label.padEnd(30)} ${server.name.padEnd(9)} ${run.verdict.padEnd(8)} ${run.p50.toFixed(2).padStart(7)} ${run.rate.toFixed(0).padStart(7)} ${cpu.toFixed(0).padStart(10)}`);
      }
    }
  } finally {
    for (const server of servers) server.process.kill();
  }
}

async function start(src: string, pin: boolean, input: object) {
  const argv = [process.execPath, import.meta.path, "--serve", src];
  const child = Bun.spawn(pin ? ["taskset", "-c", "0", ...argv] : argv, { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  child.stdin.write(JSON.stringify(input));
  await child.stdin.end();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the server from ${src} exited before listening`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { port: (JSON.parse(text) as { port: number }).port, pid: child.pid, process: child };
}

/** utime + stime of a process, in microseconds (Linux /proc; clock ticks are 100 Hz). */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** `count` connections, `conns` at a time: connect, wait for the first line, close. */
async function handshakes(port: number, certs: { certificatePem: string; privateKeyPem: string }[], extra: string, count: number, conns: number, ca: string) {
  const times: number[] = [];
  let next = 0;
  let verdict = "";
  const started = performance.now();
  const one = async (i: number) => {
    const cert = certs[i % certs.length]!;
    const t0 = performance.now();
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    let text = "";
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      tls: { cert: cert.certificatePem + extra, key: cert.privateKeyPem, ca, serverName: "localhost" },
      socket: {
        data(_s, chunk) {
          text += chunk.toString();
          if (text.includes("\r\n")) resolve(text);
        },
        close: () => resolve(text),
        error: (_s, error) => reject(error),
      },
    });
    const line = (await promise).split("\r\n")[0]!;
    times.push(performance.now() - t0);
    verdict = line === "OK" ? "admitted" : "refused";
    socket.end();
  };
  const workers = Array.from({ length: conns }, async () => {
    while (next < count) await one(next++);
  });
  await Promise.all(workers);
  const seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)]!, rate: count / seconds, verdict };
}
