// The baseline gnp is compared with: a minimal Node.js `tls` server speaking the gnp protocol
// for PING only (PROTOCOL.md: greeting "OK", pipelined requests, replies with Sequence and
// Size). It asks for a client certificate and accepts any (no allow-list), so it does less
// work per handshake than gnp, never more. Plain JavaScript so that `node` runs it as is:
//   node bench/node-tls-server.mjs --port 0 --cert server.crt --key server.key [--host 127.0.0.1]
// It prints "listening on HOST:PORT" on stdout once it accepts connections.

import { readFileSync } from "node:fs";
import { createServer } from "node:tls";

const args = parseArgs(process.argv.slice(2));
const server = createServer(
  {
    cert: readFileSync(required(args, "cert")),
    key: readFileSync(required(args, "key")),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2",
  },
  (socket) => serve(socket),
);
server.on("tlsClientError", () => {}); // a client that fails its handshake is its own problem
server.listen(Number(args.port ?? 0), args.host ?? "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`listening on ${address.address}:${address.port}\n`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));

const MAX_HEAD = 8064;
const CRLFCRLF = Buffer.from("\r\n\r\n");

function serve(socket) {
  socket.setNoDelay(true);
  socket.write("OK\r\n");
  let pending = null; // unparsed bytes carried over from the previous read
  socket.on("data", (chunk) => {
    let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
    pending = null;
    let at = 0;
    let out = "";
    for (;;) {
      const end = buf.indexOf(CRLFCRLF, at);
      if (end < 0) {
        if (buf.length - at > MAX_HEAD) return abort(socket, `message head exceeds ${MAX_HEAD} bytes`);
        break;
      }
      const head = buf.toString("latin1", at, end);
      const lines = head.split("\r\n");
      let sequence;
      let size = 0;
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i];
        const colon = line.indexOf(":");
        if (colon < 0) return abort(socket, "header line without ':'");
        const name = line.slice(0, colon).toLowerCase();
        if (name === "sequence") sequence = line.slice(colon + 1).trim();
        else if (name === "size") size = Number(line.slice(colon + 1).trim());
      }
      if (!sequence) return abort(socket, "missing Sequence header");
      if (end + 4 + size > buf.length) break; // the body has not all arrived
      at = end + 4 + size;
      const command = lines[0].split(" ", 1)[0].toUpperCase();
      if (command === "PING") out += `OK\r\nSequence: ${sequence}\r\nSize: 4\r\n\r\nPONG`;
      else {
        const message = `unknown command '${command}'`;
        out += `ERR\r\nSequence: ${sequence}\r\nSize: ${Buffer.byteLength(message)}\r\n\r\n${message}`;
      }
    }
    if (at < buf.length) pending = buf.subarray(at);
    if (out.length > 0) socket.write(out); // one write per read: replies of a pipeline go together
  });
  socket.on("error", () => socket.destroy());
}

function abort(socket, reason) {
  socket.end(`ERR: ${reason}\r\n`);
  socket.removeAllListeners("data");
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (!flag.startsWith("--")) throw new Error(`unexpected argument ${flag}`);
    out[flag.slice(2)] = argv[++i];
  }
  return out;
}

function required(options, name) {
  if (options[name] === undefined) {
    process.stderr.write(`node-tls-server: --${name} is required\n`);
    process.exit(2);
  }
  return options[name];
}
