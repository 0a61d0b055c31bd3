// A real server on 127.0.0.1:0 with the test PKI, and a raw TLS client that records what the
// server sends, for tests that speak the wire themselves. Both are released with `await using`.

import { ReceivedText } from "./received-text.ts";
import type { Socket } from "bun";
import { createServer, type GnpServer, type ServerOptions } from "../../src/index.ts";
import type { IssuedCertificate } from "../../src/certs/generate.ts";
import { makeTestPki, type TestPki } from "./pki.ts";

export type TestServer = GnpServer & AsyncDisposable;

/** Starts a server trusting the test CA (and allow-listing `selfSignedAllowed`). */
export async function startServer(options: Partial<ServerOptions> = {}, setup?: (server: GnpServer) => void): Promise<TestServer> {
  const pki = await makeTestPki();
  const server = createServer({
    host: "127.0.0.1",
    port: 0,
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
    trustedCas: [pki.ca.certificatePem],
    allow: [pki.selfSignedAllowed.sha256],
    ...options,
  });
  setup?.(server);
  await server.listen();
  return server as TestServer;
}

export type RawClientOptions = {
  port: number;
  /** The client certificate; `null` sends none. Default: the test PKI's `good` (CN=alice). */
  certificate?: IssuedCertificate | null;
  /** PEM texts instead of the test PKI, e.g. the DATA/pki files of a real `gnp serve`. */
  pem?: { cert: string; key: string; ca: string };
  /** "TLSv1.2" or "TLSv1.3" to pin the version; default lets them negotiate. */
  tlsVersion?: "TLSv1.2" | "TLSv1.3";
};

/** A TLS client that keeps every byte the server sent and says when it closed. */
export class RawClient implements AsyncDisposable {
  readonly socket: Socket<undefined>;
  readonly #received = new ReceivedText();
  readonly closed: Promise<void>;

  private constructor(socket: Socket<undefined>, closed: Promise<void>) {
    this.socket = socket;
    this.closed = closed;
  }

  static async connect(options: RawClientOptions): Promise<RawClient> {
    const pki: TestPki = await makeTestPki();
    const certificate = options.certificate === undefined ? pki.good : options.certificate;
    const credentials = options.pem
      ? { cert: options.pem.cert, key: options.pem.key, ca: options.pem.ca }
      : { ...(certificate ? { cert: certificate.certificatePem, key: certificate.privateKeyPem } : {}), ca: pki.ca.certificatePem };
    const { promise: closed, resolve: onClosed } = Promise.withResolvers<void>();
    // Bun.connect resolves once TCP is up, before the TLS handshake, and a write before the
    // handshake is dropped (it returns 0): wait for the handshake (or a close) first.
    const { promise: handshaken, resolve: onHandshake } = Promise.withResolvers<void>();
    let client: RawClient | undefined;
    const pending: Uint8Array[] = [];
    let closedEarly = false;
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: options.port,
      tls: {
        ...credentials,
        serverName: "localhost",
        ...(options.tlsVersion ? { secureOptions: versionMask(options.tlsVersion) } : {}),
      },
      socket: {
        data(_socket, chunk) {
          if (client) client.#onData(chunk);
          else pending.push(new Uint8Array(chunk));
        },
        handshake() {
          onHandshake();
        },
        close() {
          if (client) client.#onClose();
          else closedEarly = true;
          onClosed();
          onHandshake();
        },
        error() {},
      },
    });
    await handshaken;
    client = new RawClient(socket, closed);
    for (const chunk of pending) client.#onData(chunk);
    if (closedEarly) client.#onClose();
    return client;
  }

  /** Everything received so far, decoded as latin1 so byte counts equal string lengths. */
  get received(): string {
    return this.#received.text;
  }

  get receivedBytes(): number {
    return this.#received.bytes;
  }

  get isClosed(): boolean {
    return this.#received.isClosed;
  }

  /** Writes everything or throws: a test must never lose bytes silently. */
  write(data: string | Uint8Array): number {
    const written = this.socket.write(data);
    const length = typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
    if (written !== length && !this.isClosed) throw new Error(`socket.write took ${written} of ${length} bytes`);
    return written;
  }

  /** Resolves once the received text satisfies `predicate` (or contains the string); rejects, with what did arrive, if the connection closes first. */
  waitFor(predicate: string | ((text: string) => boolean)): Promise<void> {
    return this.#received.waitFor(predicate);
  }

  /** Resolves with everything received once the server closed the connection. */
  async untilClosed(): Promise<string> {
    await this.closed;
    return this.#received.text;
  }

  close(): void {
    this.socket.end();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.isClosed) this.socket.terminate();
    await this.closed;
  }

  #onClose(): void {
    this.#received.close();
  }

  #onData(chunk: Uint8Array): void {
    this.#received.append(chunk);
  }
}

function versionMask(version: "TLSv1.2" | "TLSv1.3"): number {
  // OpenSSL's SSL_OP_NO_TLSv1_2 / SSL_OP_NO_TLSv1_3 bits.
  const { constants } = require("node:crypto") as typeof import("node:crypto");
  return version === "TLSv1.2" ? constants.SSL_OP_NO_TLSv1_3 : constants.SSL_OP_NO_TLSv1_2;
}

/** Connects, waits for the greeting, and returns the client. */
export async function connectAdmitted(port: number, options: Omit<RawClientOptions, "port"> = {}): Promise<RawClient> {
  const client = await RawClient.connect({ port, ...options });
  await client.waitFor((text) => text.startsWith("OK\r\n") || text.startsWith("ERR:"));
  if (!client.received.startsWith("OK\r\n")) throw new Error(`not admitted: ${client.received}`);
  return client;
}
