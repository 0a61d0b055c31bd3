// The server's TLS listeners: the one that accepts, bound with the TLS settings every gnp
// connection gets (a client certificate asked for, every handshake let through so that gnp can
// say what is wrong), and those a certificate change retired, which accept no more while
// their connections live on. It also says what the certificate new connections get is.

import { X509Certificate, constants } from "node:crypto";
import type { SocketHandler, TCPSocketListener } from "bun";
import { GnpError } from "../errors.ts";
import { formatHostPort, systemReason } from "../wording.ts";

export type KeyPair = Readonly<{ cert: string; key: string }>;

export class TlsListeners {
  readonly #host: string;
  /** --workers share the port on purpose: no probe for a port another process holds. */
  readonly #sharePort: boolean;
  /** The certificate and key new connections get. */
  #tls: KeyPair;
  #current: TCPSocketListener<number> | undefined;
  /** Listeners replaced by replaceCertificate: no longer accepting, their connections live on. */
  readonly #retired: TCPSocketListener<number>[] = [];
  #served: { cert: string; notAfter: Date; subject: string } | undefined;

  constructor(tls: KeyPair, options: { host: string; reusePort: boolean }) {
    this.#tls = tls;
    this.#host = options.host;
    this.#sharePort = options.reusePort;
  }

  get isListening(): boolean {
    return this.#current !== undefined;
  }

  /** The port listened on (the real one when it was 0); undefined before listen(). */
  get port(): number | undefined {
    return this.#current?.port;
  }

  /** Binds `port`. Throws LISTEN_FAILED when the address cannot be bound. */
  listen(port: number, socket: SocketHandler<number, "buffer">): void {
    try {
      this.#current = this.#bind(port, this.#tls, { socket, probe: true });
    } catch (error) {
      throw new GnpError("LISTEN_FAILED", `cannot listen on ${formatHostPort(this.#host, port)}: ${systemReason(error)}`, { cause: error });
    }
  }

  /**
   * New connections get `tls`: before listen() it is simply kept; after, a listener with it
   * (and `socket`, the engine's handler) binds beside the current one (both set SO_REUSEPORT),
   * then the current one stops accepting. Throws LISTEN_FAILED, leaving the old pair in place.
   */
  replaceCertificate(tls: KeyPair, socket: SocketHandler<number, "buffer"> | undefined): void {
    const current = this.#current;
    if (current === undefined || socket === undefined) {
      this.#tls = tls;
      return;
    }
    let next: TCPSocketListener<number>;
    try {
      next = this.#bind(current.port, tls, { socket, probe: false });
    } catch (error) {
      throw new GnpError("LISTEN_FAILED", `cannot listen on ${formatHostPort(this.#host, current.port)} with the new certificate: ${systemReason(error)}`, { cause: error });
    }
    this.#tls = tls;
    this.#current = next;
    current.stop(false);
    this.#retired.push(current);
  }

  /** The certificate new connections get: when it expires, and its subject (`CN=localhost` style). */
  get served(): { notAfter: Date; subject: string } {
    const cert = this.#tls.cert;
    if (this.#served?.cert !== cert) {
      const parsed = new X509Certificate(cert);
      this.#served = { cert, notAfter: new Date(parsed.validTo), subject: parsed.subject.split("\n").join(", ") };
    }
    return this.#served;
  }

  /** No new connections; those open carry on. */
  stopAccepting(): void {
    this.#current?.stop(false);
  }

  /** Closes every listener, the retired ones too. */
  stopAll(): void {
    this.#current?.stop(true);
    for (const retired of this.#retired.splice(0)) retired.stop(true);
  }

  /**
   * A TLS listener on host:port. SO_REUSEPORT is always set, so that replaceCertificate can
   * bind a second one beside it; with `probe`, a plain bind first keeps "address already in
   * use" for a port another process holds, which reusePort alone would silently share.
   */
  #bind(port: number, tls: KeyPair, how: { socket: SocketHandler<number, "buffer">; probe: boolean }): TCPSocketListener<number> {
    const hostname = this.#host;
    if (how.probe && !this.#sharePort) {
      const probeListener = Bun.listen({ hostname, port, socket: { data() {} } });
      port = probeListener.port;
      probeListener.stop(true);
    }
    return Bun.listen<number>({
      hostname,
      port,
      // Declared on Bun's connect options only, but Bun.listen honours it (SO_REUSEPORT).
      ...({ reusePort: true } as {}),
      // A client that closes its side after its requests still gets their replies (see the
      // engine's end handler); the engine ends the socket itself.
      allowHalfOpen: true,
      tls: {
        cert: tls.cert,
        key: tls.key,
        // Ask every client for a certificate but let every handshake finish: the server
        // validates the certificate itself so that it can say what is wrong (PROTOCOL.md 1).
        requestCert: true,
        rejectUnauthorized: false,
        // No session tickets: a TLS 1.3 ticket holds the client's certificate chain, and with a
        // chain past about 32 KB BoringSSL fails the connection's first write (so not even an
        // ERR: line could go out). Every connection makes a full handshake instead.
        secureOptions: constants.SSL_OP_NO_SSLv3 | constants.SSL_OP_NO_TLSv1 | constants.SSL_OP_NO_TLSv1_1 | constants.SSL_OP_NO_TICKET,
      },
      socket: how.socket,
    });
  }
}
