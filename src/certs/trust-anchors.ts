// The configured trusted CAs, indexed by canonical subject for path building. A configured CA
// ends a path when it is self-signed or when its own issuer is not configured (an
// intermediate trusted on its own); when its issuer is configured the path goes on through
// it, as openssl's would. Each is checked once, when loaded: a CA that may not sign
// certificates, or that carries a critical extension gnp does not process, is a RangeError.
import { parseCertificate, describeExtension, type CertificateFacts } from "./certificate-facts.ts";
import { x509 } from "./x509.ts";

export type TrustAnchor = CertificateFacts & { selfSigned: boolean };

export class TrustAnchors {
  readonly #bySubject = new Map<string, TrustAnchor[]>();
  readonly #all: TrustAnchor[] = [];
  readonly #digests = new Set<string>();

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
    return this.#all.length;
  }

  /** Every configured CA, in the order given. */
  get all(): readonly TrustAnchor[] {
    return this.#all;
  }

  /** Configured CAs whose subject is `cert`'s issuer and whose key id does not contradict its AKI. */
  issuersOf(cert: CertificateFacts): readonly TrustAnchor[] {
    const candidates = this.#bySubject.get(cert.issuerKey);
    if (!candidates) return NONE;
    return candidates.filter((anchor) => keyIdsAgree(cert.authorityKeyId, anchor));
  }

  /** True when the certificate with this SHA-256 is a configured CA. */
  has(sha256: string): boolean {
    return this.#digests.has(sha256);
  }

  /** True when a path that reaches `anchor` ends there (see the header). */
  endsPath(anchor: TrustAnchor): boolean {
    return anchor.selfSigned || !this.#bySubject.has(anchor.issuerKey);
  }

  #add(der: Uint8Array): void {
    let anchor: CertificateFacts;
    try {
      anchor = parseCertificate(der, { identity: true });
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new RangeError(`invalid trusted CA certificate: ${detail}`, { cause: error });
    }
    if (anchor.ca === false) {
      throw new RangeError(`invalid trusted CA ${anchor.subject}: basicConstraints cA is false`);
    }
    if (anchor.keyUsage !== undefined && (anchor.keyUsage & x509.KeyUsageFlags.keyCertSign) === 0) {
      throw new RangeError(`invalid trusted CA ${anchor.subject}: keyUsage lacks keyCertSign`);
    }
    const unknown = anchor.unknownCritical[0];
    if (unknown !== undefined) {
      throw new RangeError(`invalid trusted CA ${anchor.subject}: it has a critical extension gnp does not process, ${describeExtension(unknown)}`);
    }
    if (this.#digests.has(anchor.sha256)) return;
    const entry: TrustAnchor = Object.freeze({
      ...anchor,
      selfSigned: anchor.subjectKey === anchor.issuerKey && signedBy(anchor, anchor),
    });
    this.#all.push(entry);
    this.#digests.add(entry.sha256);
    const list = this.#bySubject.get(entry.subjectKey);
    if (list) list.push(entry);
    else this.#bySubject.set(entry.subjectKey, [entry]);
  }
}

const NONE: readonly TrustAnchor[] = Object.freeze([]);

/** False when both key identifiers are present and differ: not this issuer (CAs may share a name). */
export function keyIdsAgree(authorityKeyId: string | undefined, issuer: Pick<CertificateFacts, "keyId">): boolean {
  return !authorityKeyId || !issuer.keyId || authorityKeyId === issuer.keyId;
}

/**
 * True when `issuer`'s key verifies `cert`'s signature. node:crypto, because it is
 * synchronous (WebCrypto, behind @peculiar/x509's verify, is not) and admission is decided
 * in one turn of the event loop.
 */
export function signedBy(cert: CertificateFacts, issuer: CertificateFacts): boolean {
  try {
    return cert.node.verify(issuer.key);
  } catch {
    // A key of another type (RSA key, ECDSA signature) is a mismatch, not a fault.
    return false;
  }
}
