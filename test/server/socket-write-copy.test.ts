// What the output queue's freeing of reply bodies rests on: Bun's socket.write, over TLS, has
// copied (or sent) the bytes it reports taken by the time it returns, and keeps no reference to
// the rest of the buffer after a partial write. Checked by scribbling over the whole buffer the
// moment write() returns and then detaching it: a peer that reads slowly must still receive the
// original bytes, exactly.

import { expect, test } from "bun:test";
import type { Socket } from "bun";
import { makeTestPki } from "../support/pki.ts";

const SIZE = 8 * 1024 * 1024;

for (const version of ["TLSv1.2", "TLSv1.3"] as const) {
  test(`Bun's TLS socket.write keeps no reference to a buffer after a partial write (${version})`, async () => {
    const pki = await makeTestPki();
    const original = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i++) original[i] = (i * 7 + (i >>> 13)) & 0xff;
    let rest: Uint8Array | undefined;
    const partials: number[] = [];
    const server = Bun.listen<undefined>({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
      socket: {
        handshake(socket) {
          // A buffer of its own, which the server scribbles over and then frees.
          const given = original.slice();
          const written = socket.write(given);
          partials.push(written);
          given.fill(0xee);
          given.buffer.transfer(0);
          rest = original.subarray(written);
          drainRest(socket);
        },
        drain(socket) {
          drainRest(socket);
        },
        data() {},
      },
    });
    function drainRest(socket: Socket<undefined>): void {
      // Bounded: each turn writes a part of the rest or stops to wait for drain.
      while (rest !== undefined && rest.byteLength > 0) {
        // A fresh buffer each time, scribbled over and freed as the first was.
        const given = rest.slice();
        const written = socket.write(given);
        given.fill(0xee);
        given.buffer.transfer(0);
        if (written <= 0) return;
        partials.push(written);
        rest = rest.subarray(written);
        if (written < given.byteLength) return;
      }
      if (rest !== undefined) socket.end();
    }
    const received: Uint8Array[] = [];
    let receivedBytes = 0;
    const { promise: closed, resolve: onClose } = Promise.withResolvers<void>();
    const client = await Bun.connect<undefined>({
      hostname: "127.0.0.1",
      port: server.port,
      tls: { ca: pki.ca.certificatePem, serverName: "localhost", secureOptions: versionMask(version) },
      socket: {
        data(socket, chunk) {
          received.push(new Uint8Array(chunk));
          receivedBytes += chunk.byteLength;
          // A slow reader: stop reading for a moment now and then, so the server's writes stay partial.
          if (received.length % 16 === 0) {
            socket.pause();
            setTimeout(() => socket.resume(), 2);
          }
        },
        close() {
          onClose();
        },
        error() {},
      },
    });
    await closed;
    client.terminate();
    server.stop(true);
    expect(receivedBytes).toBe(SIZE);
    const joined = Buffer.concat(received);
    expect(joined.equals(Buffer.from(original.buffer))).toBe(true);
    // The case is only a case if some writes were partial.
    expect(partials.length).toBeGreaterThan(1);
    expect(partials[0]!).toBeLessThan(SIZE);
  });
}

function versionMask(version: "TLSv1.2" | "TLSv1.3"): number {
  const { constants } = require("node:crypto") as typeof import("node:crypto");
  return version === "TLSv1.2" ? constants.SSL_OP_NO_TLSv1_3 : constants.SSL_OP_NO_TLSv1_2;
}
