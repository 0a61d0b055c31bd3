// The configured trusted CAs and the walk from a client certificate up to
// them. A path ends at a self-signed configured CA, or at a configured CA whose
// own issuer is not configured (an intermediate trusted on its own); when the
// issuer is configured the path must go on through it, as openssl's would.
import { X509Certificate as NodeX509, createPublicKey, type KeyObject } from "node:crypto";
import { x509 } from "./x509.ts";
import type * as X509 from "@peculiar/x509";

/** The instants between which every CA on one path is valid, and who bounds them. */
export type TrustWindow = { from: number; fromCa: string; to: number; toCa: string };

type Anchor = {
  subject: string;
  issuer: string;
  keyId: string | undefined;
  authorityKeyId: string | undefined;
  key: KeyObject;
  node: NodeX509;
  notBefore: number;
  notAfter: number;
  selfSigned: boolean;
};

// Guards against pathological bundles; real deployments use 2 or 3 levels.
const MAX_DEPTH = 8;

export class TrustAnchors {
  readonly #bySubject = new Map<string, Anchor[]>();

  /** Parses every CERTIFICATE block of every PEM text; throws RangeError on a bad one. */
  constructor(pemTexts: readonly string[]) {
    for (const pem of pemTexts) {
      const blocks = x509.PemConverter.isPem(pem)
        ? x509.PemConverter.decodeWithHeaders(pem).filter((block) => block.type === "CERTIFICATE")
        : [];
      if (blocks.length === 0) {
        throw new RangeError(`invalid trusted CA: no "-----BEGIN CERTIFICATE-----" block found`);
      }
      for (const block of blocks) this.#add(new Uint8Array(block.rawData));
    }
  }

  get size(): number {
    let count = 0;
    for (const anchors of this.#bySubject.values()) count += anchors.length;
    return count;
  }

  /**
   * Every path from `leaf` to a trust anchor whose signatures verify, as the
   * window in which all CAs on it are valid. Empty when there is no path.
   * Signatures are checked with node:crypto because it is synchronous (WebCrypto,
   * behind @peculiar/x509's verify, is not) and admission is decided in one turn.
   */
  windowsFor(leaf: NodeX509, issuer: string, authorityKeyId: string | undefined): TrustWindow[] {
    const windows: TrustWindow[] = [];
    const open: TrustWindow = { from: -Infinity, fromCa: "", to: Infinity, toCa: "" };
    this.#walk(leaf, issuer, authorityKeyId, open, new Set(), windows);
    return windows;
  }

  #walk(
    cert: NodeX509,
    issuer: string,
    authorityKeyId: string | undefined,
    window: TrustWindow,
    path: Set<Anchor>,
    out: TrustWindow[],
  ): void {
    for (const anchor of this.#bySubject.get(issuer) ?? []) {
      if (path.has(anchor)) continue;
      if (authorityKeyId && anchor.keyId && authorityKeyId !== anchor.keyId) continue;
      if (!verifies(cert, anchor.key)) continue;
      const narrowed = narrow(window, anchor);
      const endsHere = anchor.selfSigned || !this.#bySubject.has(anchor.issuer);
      if (endsHere) {
        out.push(narrowed);
      } else if (path.size + 1 < MAX_DEPTH) {
        path.add(anchor);
        this.#walk(anchor.node, anchor.issuer, anchor.authorityKeyId, narrowed, path, out);
        path.delete(anchor);
      }
    }
  }

  #add(der: Uint8Array): void {
    let cert: X509.X509Certificate;
    let node: NodeX509;
    try {
      cert = new x509.X509Certificate(der);
      node = new NodeX509(der);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new RangeError(`invalid trusted CA certificate: ${detail}`, { cause: error });
    }
    const constraints = cert.getExtension(x509.BasicConstraintsExtension);
    if (constraints && !constraints.ca) {
      throw new RangeError(`invalid trusted CA ${cert.subject}: basicConstraints cA is false`);
    }
    const usage = cert.getExtension(x509.KeyUsagesExtension);
    if (usage && (usage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
      throw new RangeError(`invalid trusted CA ${cert.subject}: keyUsage lacks keyCertSign`);
    }
    const key = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: "der", type: "spki" });
    const anchor: Anchor = {
      subject: cert.subject,
      issuer: cert.issuer,
      keyId: cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
      authorityKeyId: cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId,
      key,
      node,
      notBefore: cert.notBefore.getTime(),
      notAfter: cert.notAfter.getTime(),
      selfSigned: cert.subject === cert.issuer && verifies(node, key),
    };
    const list = this.#bySubject.get(anchor.subject);
    if (list) list.push(anchor);
    else this.#bySubject.set(anchor.subject, [anchor]);
  }
}

function verifies(cert: NodeX509, key: KeyObject): boolean {
  try {
    return cert.verify(key);
  } catch {
    // A key of another type (RSA key, ECDSA signature) is a mismatch, not a fault.
    return false;
  }
}

function narrow(window: TrustWindow, anchor: Anchor): TrustWindow {
  const later = anchor.notBefore > window.from;
  const earlier = anchor.notAfter < window.to;
  return {
    from: later ? anchor.notBefore : window.from,
    fromCa: later ? anchor.subject : window.fromCa,
    to: earlier ? anchor.notAfter : window.to,
    toCa: earlier ? anchor.subject : window.toCa,
  };
}
