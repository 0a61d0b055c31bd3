// The client's transport on node:tls, for Node.js (20 and later). Node buffers whatever
// write() is given, so backpressure is told the other way round: while the socket wants a
// drain, write() takes nothing and the client's own queue holds the bytes until 'drain'.
// The server's certificate is verified by Node (CA and name); a failure there is
// SERVER_CERT_INVALID, a socket error before TCP is up CONNECT_FAILED, anything later a close.

import { connect as tlsConnect } from "node:tls";
import { connectFailure, serverCertificateRejected, tlsFailure } from "./socket-errors.ts";
import type { OpenTransport, Transport } from "./transport.ts";

export const openTransport: OpenTransport = (options, events) => {
  const { host, port } = options;
  let finished = false;
  let connected = false;
  let socketError: Error | undefined;
  const socket = tlsConnect({
    host,
    port,
    cert: pem(options.cert),
    key: pem(options.key),
    ca: options.ca === undefined ? undefined : Array.isArray(options.ca) ? options.ca.map(pem) : pem(options.ca as string | Uint8Array),
    rejectUnauthorized: !options.insecure,
    // Node sends no SNI for an IP address and checks the name against `host` then.
    ...(options.servername === undefined ? {} : { servername: options.servername }),
  });
  socket.setNoDelay(true);
  socket.once("connect", () => {
    connected = true;
  });
  socket.on("data", (chunk: Buffer) => {
    if (!finished) events.data(chunk);
  });
  socket.on("drain", () => {
    if (!finished) events.drain();
  });
  socket.on("error", (error: Error) => {
    if (finished) return;
    // Node sets authorizationError just before it destroys a socket whose server certificate
    // failed (chain or name): that is how this error is told apart from a handshake failure.
    const notTls = tlsFailure(host, port, error);
    if (notTls !== undefined) {
      finished = true;
      events.failed(notTls);
    } else if (socket.authorizationError !== undefined && socket.authorizationError !== null && !socket.authorized && !options.insecure) {
      finished = true;
      events.failed(serverCertificateRejected(error));
    } else if (!connected) {
      finished = true;
      events.failed(connectFailure(host, port, error));
    } else socketError ??= error;
  });
  socket.on("close", () => {
    if (finished) return;
    finished = true;
    events.closed(socketError);
  });

  const transport: Transport = {
    write: (data) => {
      if (socket.destroyed || !socket.writable) return -1;
      if (socket.writableNeedDrain) return 0;
      socket.write(data);
      return typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
    },
    end: () => void socket.end(),
    terminate: () => void socket.destroy(),
  };
  return transport;
};

/** PEM as node:tls is typed to take it: a string, or a Buffer over the same bytes (no copy). */
function pem(value: string | Uint8Array): string | Buffer {
  return typeof value === "string" ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
