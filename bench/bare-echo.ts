// The floor for bench/server-cpu.ts: the least a Bun.listen server can do to answer gnp's
// PING and ECHO over mutual TLS on this machine. It greets after the handshake without checking
// the certificate, finds each head's CRLF CRLF, reads Sequence and Size, and replies in one
// write per read, echoing a body from the chunks Bun delivered, by reference. No flow control,
// time limits, metrics or contract checks: what gnp costs above this is what gnp's own code does.
//
//   bun bench/bare-echo.ts --data DIR     # the certificates of DIR/pki, made when missing

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Socket } from "bun";
import { ensureLocalPki } from "../src/certs/local-pki.ts";
import { pkiDir } from "../src/certs/pki-paths.ts";

const { values } = parseArgs({ args: process.argv.slice(2), options: { data: { type: "string" } } });
if (values.data === undefined) throw new TypeError("--data DIR is required: where the certificates are, as for gnp serve");
const pki = await ensureLocalPki(pkiDir(values.data));

const CRLFCRLF = Buffer.from("\r\n\r\n");
const SEQUENCE = Buffer.from("\r\nSequence: ");
const SIZE = Buffer.from("\r\nSize: ");
const CRLF = Buffer.from("\r\n");

/** One connection: bytes of a head not complete yet, a body being gathered, output not yet taken. */
type State = { head: Buffer | undefined; sequence: string; want: number; body: Uint8Array[]; unsent: Uint8Array[]; out: string };

function reply(state: State, sequence: string, body: Uint8Array[] | string, size: number): void {
  state.out += `OK\r\nSequence: ${sequence}\r\nSize: ${size}\r\n\r\n`;
  if (typeof body === "string") {
    state.out += body;
    return;
  }
  state.unsent.push(Buffer.from(state.out), ...body);
  state.out = "";
}

/** One write of the replies of a read when nothing waits (a string: Bun encodes it), else in order on drain. */
function flush(socket: Socket<State>): void {
  const state = socket.data;
  if (state.out !== "") {
    if (state.unsent.length === 0) {
      // ASCII replies (the bench's Sequences and arguments): bytes written are characters written.
      const written = socket.write(state.out);
      if (written >= 0 && written < state.out.length) state.unsent.push(Buffer.from(state.out.slice(written)));
      state.out = "";
      return;
    }
    state.unsent.push(Buffer.from(state.out));
    state.out = "";
  }
  while (state.unsent.length > 0) {
    const chunk = state.unsent[0]!;
    const written = socket.write(chunk);
    if (written < chunk.byteLength) {
      if (written >= 0) state.unsent[0] = chunk.subarray(written);
      return;
    }
    state.unsent.shift();
  }
}

/** The value of the header line that `name` (CRLF, name, ": ") begins in head[0, end), or undefined. */
function headerIn(head: Buffer, end: number, name: Buffer): string | undefined {
  const at = head.indexOf(name);
  if (at < 0 || at >= end) return undefined;
  const from = at + name.byteLength;
  const lineEnd = head.indexOf(CRLF, from);
  return head.toString("latin1", from, lineEnd < 0 || lineEnd > end ? end : lineEnd);
}

/** Reads what `chunk` holds: body bytes owed first, then heads (headers as gnp's client writes them); replies are queued in `state`. */
function read(state: State, chunk: Buffer): void {
  let at = 0;
  for (;;) {
    if (state.want > 0) {
      const take = Math.min(state.want, chunk.byteLength - at);
      if (take === 0) return;
      // Bun hands each read over in a buffer of its own: the body can stay in it.
      state.body.push(chunk.subarray(at, at + take));
      state.want -= take;
      at += take;
      if (state.want === 0) {
        const size = state.body.reduce((sum, part) => sum + part.byteLength, 0);
        reply(state, state.sequence, state.body, size);
        state.body = [];
      }
      continue;
    }
    if (at === chunk.byteLength) return;
    const held = state.head?.byteLength ?? 0;
    const bytes = held === 0 ? (at === 0 ? chunk : chunk.subarray(at)) : Buffer.concat([state.head!, chunk.subarray(at)]);
    const end = bytes.indexOf(CRLFCRLF);
    if (end < 0) {
      state.head = Buffer.from(bytes);
      return;
    }
    state.head = undefined;
    at += end + 4 - held;
    const sequence = headerIn(bytes, end + 2, SEQUENCE) ?? "";
    const size = Number(headerIn(bytes, end + 2, SIZE) ?? 0);
    const lineEnd = bytes.indexOf(CRLF);
    const space = bytes.indexOf(0x20);
    if (size > 0) {
      state.sequence = sequence;
      state.want = size;
    } else if (bytes[0] === 0x50 /* P */) reply(state, sequence, "PONG", 4);
    else {
      const text = space < 0 || space > lineEnd ? "" : bytes.toString("latin1", space + 1, lineEnd);
      reply(state, sequence, text, Buffer.byteLength(text));
    }
  }
}

const listener = Bun.listen<State>({
  hostname: "127.0.0.1",
  port: 0,
  tls: { cert: readFileSync(pki.serverCert, "utf8"), key: readFileSync(pki.serverKey, "utf8"), requestCert: true, rejectUnauthorized: false },
  socket: {
    open(socket) {
      socket.data = { head: undefined, sequence: "", want: 0, body: [], unsent: [], out: "" };
    },
    handshake(socket) {
      socket.write("OK\r\n");
    },
    data(socket, chunk) {
      read(socket.data, chunk);
      flush(socket);
    },
    drain(socket) {
      flush(socket);
    },
  },
});
// The line bench/child-servers.ts reads, as gnp's banner has it.
console.log(`bare echo listening on 127.0.0.1:${listener.port}`);
process.on("SIGTERM", () => {
  listener.stop(true);
  process.exit(0);
});
