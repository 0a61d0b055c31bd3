// What a client presented at its handshake, read so that the TLS library keeps nothing for it:
// the client's certificate from getPeerX509Certificate(), and those it sent after it out of the
// TLS session's serialized form. Bun's getPeerCertificate(false) decodes every certificate into
// objects whose native parts BoringSSL then holds for the connection's life (about 1 KiB per idle
// connection, BENCHMARKS.md); it is still the answer whenever the session does not say the same.

import { readElement } from "../certs/der.ts";
import type { PeerCertificate } from "../certs/validator.ts";

/**
 * The socket calls readPresented makes: Bun's TLS socket has all three; a socket with only
 * getPeerCertificate (the in-memory transport's) is read through it.
 */
export type PresentingSocket = {
  getPeerCertificate(abbreviated: false): PeerCertificate | null | undefined;
  getPeerX509Certificate?(): { readonly fingerprint256: string } | undefined;
  /** Bun types it `void`; it returns the session as i2d_SSL_SESSION writes it. */
  getSession?(): unknown;
};

// BoringSSL's SSL_SESSION encoding (ssl_asn1.cc): a SEQUENCE whose fields come in tag order;
// [3] holds the client's certificate, [19] the certificates it sent after it, in the order sent.
const PEER = 0xa3;
const CHAIN = 0xb3;
const CHAIN_NUMBER = 19;
const CONTEXT = 0x80;
/** The validator reads no further than this many (validator.ts COUNT_LIMIT). */
const COUNT_LIMIT = 1000;

/**
 * The certificates the client sent, leaf first, in the shape of getPeerCertificate(false): what
 * the validator judges. Read again from the socket for every re-check, so nothing is kept.
 *
 * @example validator.validate(readPresented(socket), Date.now())
 */
export function readPresented(socket: PresentingSocket): PeerCertificate | null | undefined {
  return fromSession(socket) ?? socket.getPeerCertificate(false);
}

/**
 * The chain out of the session, or undefined when there is no session or its first certificate
 * is not the leaf the TLS layer reports (compared by SHA-256 with the TLS layer's own digest;
 * its `raw` would cost a copy more than the whole session read).
 */
function fromSession(socket: PresentingSocket): PeerCertificate | undefined {
  const leaf = socket.getPeerX509Certificate?.();
  if (leaf === undefined) return undefined;
  const session = socket.getSession?.();
  if (!(session instanceof Uint8Array)) return undefined;
  try {
    const sent = certificatesOf(session);
    const digests = sent.map((der) => Bun.CryptoHasher.hash("sha256", der, "hex").toUpperCase());
    if (sent.length === 0 || digests[0] !== leaf.fingerprint256.replaceAll(":", "").toUpperCase()) return undefined;
    let chain: PeerCertificate | undefined;
    for (let i = sent.length - 1; i >= 0; i--) chain = { raw: sent[i], fingerprint256: digests[i], ...(chain ? { issuerCertificate: chain } : {}) };
    return chain;
  } catch {
    return undefined;
  } finally {
    // The session carries the connection's secret: it is not left for the collector to find.
    session.fill(0);
  }
}

/** Copies of the certificates in the session: its [3], then those in its [19]. Throws RangeError on malformed DER. */
function certificatesOf(session: Uint8Array): Uint8Array[] {
  const outer = readElement(session, 0);
  if (outer.tag !== 0x30) throw new RangeError("not a DER SEQUENCE");
  const certificates: Uint8Array[] = [];
  for (let offset = outer.contentStart; offset < outer.end; ) {
    // Fields come in tag order: a context tag past [19] (the multi-byte ones from [31] too) ends the search.
    const tag = session[offset]!;
    if ((tag & 0xc0) === CONTEXT && (tag & 0x1f) > CHAIN_NUMBER) break;
    const field = readElement(session, offset, outer.end);
    if (field.tag === PEER) addCertificates(certificates, session, { start: field.contentStart, end: field.end, most: 1 });
    else if (field.tag === CHAIN && certificates.length === 1) addCertificates(certificates, session, { start: field.contentStart, end: field.end, most: COUNT_LIMIT });
    offset = field.end;
  }
  return certificates;
}

function addCertificates(into: Uint8Array[], session: Uint8Array, range: { start: number; end: number; most: number }): void {
  for (let offset = range.start, added = 0; offset < range.end && added < range.most; added++) {
    const certificate = readElement(session, offset, range.end);
    if (certificate.tag !== 0x30) throw new RangeError("not a DER SEQUENCE");
    // A copy (Bun's session is a Buffer, whose slice() is a view): the session is wiped after.
    into.push(new Uint8Array(session.subarray(certificate.start, certificate.end)));
    offset = certificate.end;
  }
}
