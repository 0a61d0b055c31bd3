// Command tests without a socket: a server with the test PKI that never listens, and an
// in-memory client with RawClient's manners (received text, waitFor, untilClosed), so that a
// test of what commands answer reads the same as one over TLS (harness.ts).

import { createServer, type GnpServer, type InMemoryConnection, type ServerOptions } from "../../src/index.ts";
import type { IssuedCertificate } from "../../src/certs/generate.ts";
import { makeTestPki } from "./pki.ts";
import { ReceivedText } from "./received-text.ts";

export type MemoryServer = GnpServer & AsyncDisposable;

/** A server trusting the test CA (and allow-listing `selfSignedAllowed`) that only in-memory clients reach. */
export async function memoryServer(options: Partial<ServerOptions> = {}): Promise<MemoryServer> {
  const pki = await makeTestPki();
  return createServer({
    tls: { cert: pki.server.certificatePem, key: pki.server.privateKeyPem },
    trustedCas: [pki.ca.certificatePem],
    allow: [pki.selfSignedAllowed.sha256],
    ...options,
  }) as MemoryServer;
}

export type MemoryClientOptions = {
  /** The certificate the client presents; default the test PKI's `good` (CN=alice). */
  certificate?: IssuedCertificate;
  /** Instead of a certificate: an identity the server takes on the test's word. */
  identity?: string;
};

/** An in-memory client that keeps every byte the server wrote, as text, and says when it closed. */
export class MemoryClient implements AsyncDisposable {
  readonly connection: InMemoryConnection;
  readonly #received = new ReceivedText();
  readonly closed: Promise<void>;

  constructor(connection: InMemoryConnection) {
    this.connection = connection;
    connection.onData((chunk) => this.#received.append(chunk));
    this.closed = connection.closed.then(() => this.#received.close());
  }

  /** Everything received so far, decoded as latin1 so byte counts equal string lengths. */
  get received(): string {
    return this.#received.text;
  }

  get isClosed(): boolean {
    return this.#received.isClosed;
  }

  write(data: string | Uint8Array): void {
    this.connection.write(data);
  }

  /** Resolves once the received text satisfies `predicate` (or contains the string); rejects if the connection closes first. */
  waitFor(predicate: string | ((text: string) => boolean)): Promise<void> {
    return this.#received.waitFor(predicate);
  }

  /** Resolves with everything received once the server closed the connection. */
  async untilClosed(): Promise<string> {
    await this.closed;
    return this.#received.text;
  }

  /** The client closes its side. */
  close(): void {
    this.connection.end();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.connection[Symbol.asyncDispose]();
    await this.closed;
  }
}

/** Opens an in-memory connection and waits for its greeting, as connectAdmitted does over TLS. */
export async function connectInMemory(server: GnpServer, options: MemoryClientOptions = {}): Promise<MemoryClient> {
  const pki = await makeTestPki();
  const connection = options.identity !== undefined ? server.connectInMemory({ identity: options.identity }) : server.connectInMemory({ certificate: (options.certificate ?? pki.good).certificatePem });
  const client = new MemoryClient(connection);
  await client.waitFor((text) => text.startsWith("OK\r\n") || text.startsWith("ERR:")).catch(() => {});
  if (!client.received.startsWith("OK\r\n")) throw new Error(`not admitted: ${client.received}`);
  return client;
}

/** What inject() gives, as latin1 text. */
export async function injectText(server: GnpServer, input: string, options: MemoryClientOptions = {}): Promise<string> {
  const pki = await makeTestPki();
  const who = options.identity !== undefined ? { identity: options.identity } : { certificate: (options.certificate ?? pki.good).certificatePem };
  return Buffer.from(await server.inject(input, who)).toString("latin1");
}
