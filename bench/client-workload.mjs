// One measured phase of the client library, run in a process of its own so that each client
// is measured alone (one transport per process, as in real use: a process that ran two
// transports through the same core would make the JIT's job harder for both). Plain
// JavaScript, so that `node` runs it as is; bench/client-transport.ts starts it:
//
//   bun  bench/client-workload.mjs '{"client":"bun-socket","phase":"pipelined","port":7443,"pem":{...},"count":40000}'
//   node bench/client-workload.mjs '{"client":"dist",...}'
//
// Clients: dist (the built dist/client: node:tls), bun-socket (the source under Bun),
// node-tls-in-bun (the source's core on node:tls, under Bun), checkout:DIR (DIR's client).
// Phases: connect (connect, PING, close; one after another), sequential (await each PING on
// one connection), pipelined (rounds of 1,000 PINGs in flight on one connection).

import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** Runs one phase with `connect` and returns { ops, seconds, clientCpuSeconds, samplesMs }. */
export async function runPhase(connect, { phase, port, pem, count }) {
  const options = { host: "127.0.0.1", port, cert: pem.cert, key: pem.key, ca: pem.ca, servername: "localhost" };
  // One connection first, outside the clock: the first TLS context and code paths are warm.
  await (await connect(options)).close();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const samplesMs = [];
  if (phase === "connect") {
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      const client = await connect(options);
      await client.call("PING");
      await client.close();
      samplesMs.push(performance.now() - t);
    }
  } else if (phase === "sequential") {
    const client = await connect(options);
    for (let i = 0; i < count; i++) await client.call("PING");
    await client.close();
  } else if (phase === "pipelined") {
    const client = await connect(options);
    const round = 1000;
    for (let done = 0; done < count; done += round) {
      const t = performance.now();
      await Promise.all(Array.from({ length: Math.min(round, count - done) }, () => client.call("PING")));
      samplesMs.push(performance.now() - t);
    }
    await client.close();
  } else throw new RangeError(`unknown phase ${JSON.stringify(phase)}`);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { ops: count, seconds, clientCpuSeconds: (used.user + used.system) / 1e6, samplesMs };
}

async function loadConnect(client) {
  const here = new URL(".", import.meta.url);
  if (client === "dist") return (await import(new URL("../dist/client/index.js", here).href)).connect;
  if (client === "bun-socket") return (await import(new URL("../src/client/index.ts", here).href)).connect;
  if (client === "node-tls-in-bun") {
    const { GnpClient } = await import(new URL("../src/client/client.ts", here).href);
    const { openTransport } = await import(new URL("../src/client/node-transport.ts", here).href);
    return (options) => GnpClient.connect(options, openTransport);
  }
  if (client.startsWith("checkout:")) return (await import(pathToFileURL(join(client.slice("checkout:".length), "src/client/client.ts")).href)).connect;
  throw new RangeError(`unknown client ${JSON.stringify(client)}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const config = JSON.parse(process.argv[2]);
  process.stdout.write(JSON.stringify(await runPhase(await loadConnect(config.client), config)));
}
