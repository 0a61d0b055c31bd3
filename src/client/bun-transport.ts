// The client's transport on Bun's own TLS socket (Bun.connect), which Bun runs with less
// overhead per connect, read and write than its node:tls layer (bench/client-transport.ts
// measures both). Only Bun loads this file: the package's "#client-transport" import picks it
// under the "bun" condition, and the Node.js build (build-client.ts) never contains it.

import type { Socket } from "bun";
import { connectFailure, serverCertificateRejected, tlsFailure } from "./socket-errors.ts";
import type { OpenTransport, Transport } from "./transport.ts";

export const openTransport: OpenTransport = (options, events) => {
  const { host, port } = options;
  let socket: Socket<undefined> | undefined;
  let finished = false;
  let terminated = false;
  /** Why the socket ended, when Bun says (an `error` before `close`). */
  let socketError: Error | undefined;
  const fail = (error: Parameters<typeof events.failed>[0]) => {
    if (finished) return;
    finished = true;
    events.failed(error);
  };

  // Bun checks the client's own pair as it builds the TLS context, and throws at once.
  let connecting: Promise<Socket<undefined>>;
  try {
    connecting = Bun.connect({
      hostname: host,
      port,
      tls: {
        cert: options.cert,
        key: options.key,
        ca: options.ca as string | Uint8Array | (string | Uint8Array)[] | undefined,
        rejectUnauthorized: !options.insecure,
        serverName: options.servername,
      },
      socket: {
        open: (opened) => {
          socket = opened;
          opened.setNoDelay(true);
        },
        handshake: (shaken, _success, authorizationError) => {
          // Bun reports a peer that is no TLS server here too, whatever `insecure` says.
          const notTls = authorizationError === null ? undefined : tlsFailure(host, port, authorizationError);
          if (notTls !== undefined || (authorizationError !== null && !options.insecure)) {
            fail(notTls ?? serverCertificateRejected(authorizationError!));
            shaken.terminate();
          }
        },
        data: (_socket, chunk) => {
          if (!finished) events.data(chunk);
        },
        drain: () => {
          if (!finished) events.drain();
        },
        error: (_socket, error) => {
          socketError ??= error;
        },
        close: (_socket, error) => {
          if (finished) return;
          finished = true;
          events.closed(error ?? socketError);
        },
        connectError: (_socket, error) => fail(connectFailure(host, port, error)),
      },
    });
  } catch (error) {
    const thrown = error instanceof Error ? error : new Error(String(error));
    queueMicrotask(() => fail(tlsFailure(host, port, thrown) ?? connectFailure(host, port, thrown)));
    return { write: () => -1, end: () => {}, terminate: () => {} };
  }
  connecting.then(
    (connected) => {
      socket = connected;
      if (terminated) connected.terminate();
    },
    (error: Error) => fail(connectFailure(host, port, error)),
  );

  const transport: Transport = {
    // Before the socket exists nothing is written: the client waits for the greeting first.
    write: (data) => (socket === undefined || finished ? -1 : socket.write(data)),
    end: () => void socket?.end(),
    terminate: () => {
      terminated = true;
      if (socket !== undefined && socket.readyState > 0) socket.terminate();
    },
  };
  return transport;
};
