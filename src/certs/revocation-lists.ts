// Certificate revocation lists from the trusted CAs, checked once when loaded: each CRL
// (PEM or DER) must be signed by a configured CA of the same name whose key usage allows
// cRLSign, and carry no critical extension gnp does not process (delta and indirect CRLs,
// issuing distribution points); anything else is one RangeError. Of several CRLs from one CA
// the newest (latest thisUpdate) is used. Lookups are by the CA's SHA-256 and a serial.
import { verify as verifySignature, constants, type KeyObject } from "node:crypto";
import { describeExtension, normalizeSerial } from "./certificate-facts.ts";
import { printable } from "./reason-text.ts";
import { readName } from "./distinguished-name.ts";
import { readOid, sequenceElements } from "./der.ts";
import { keyIdsAgree, type TrustAnchor, type TrustAnchors } from "./trust-anchors.ts";
import { x509 } from "./x509.ts";
import type * as X509 from "@peculiar/x509";

/** One CA's revocation list, as path checks use it. */
export type RevocationList = Readonly<{
  /** The CA that signed it, as reasons name it. */
  issuer: string;
  issuerSha256: string;
  thisUpdate: number;
  /** Infinity when the CRL gives no nextUpdate (it never goes stale). */
  nextUpdate: number;
  /** Revoked serials (upper-case hex, no leading zeros) and when each was revoked. */
  revoked: ReadonlyMap<string, number>;
}>;

/** A CRL given as PEM text (one or more "X509 CRL" blocks) or as DER bytes. */
export type CrlInput = string | Uint8Array;

export class RevocationLists {
  readonly #byIssuer = new Map<string, RevocationList>();

  constructor(inputs: readonly CrlInput[], anchors: TrustAnchors) {
    for (const input of inputs) {
      for (const der of crlBlocks(input)) this.#add(der, anchors);
    }
  }

  get size(): number {
    return this.#byIssuer.size;
  }

  /** The CRL of the CA with this SHA-256, if one was loaded. */
  of(caSha256: string): RevocationList | undefined {
    return this.#byIssuer.get(caSha256);
  }

  /** Every CRL in use, one per CA. */
  get all(): readonly RevocationList[] {
    return [...this.#byIssuer.values()];
  }

  #add(der: Uint8Array, anchors: TrustAnchors): void {
    let crl: X509.X509Crl;
    try {
      crl = new x509.X509Crl(der);
      // Reading entries parses every one of them: a malformed entry fails now, not at use.
      void crl.entries;
    } catch (error) {
      throw new RangeError(`invalid CRL: it could not be parsed: ${messageOf(error)}`, { cause: error });
    }
    const name = printable(crl.issuer || "(empty issuer)");
    const critical = crl.extensions.find((extension) => extension.critical);
    if (critical) {
      throw new RangeError(`invalid CRL from ${name}: it has a critical extension gnp does not process, ${describeExtension(critical.type)}`);
    }
    const issuer = signerOf(der, crl, anchors);
    if (!issuer) {
      throw new RangeError(`invalid CRL from ${name}: it is not signed by a trusted CA of that name`);
    }
    if (issuer.keyUsage !== undefined && (issuer.keyUsage & x509.KeyUsageFlags.cRLSign) === 0) {
      throw new RangeError(`invalid CRL from ${name}: the CA's keyUsage lacks cRLSign`);
    }
    const revoked = new Map<string, number>();
    for (const entry of crl.entries) {
      const entryCritical = entry.extensions.find((extension) => extension.critical);
      if (entryCritical) {
        throw new RangeError(`invalid CRL from ${name}: an entry has a critical extension gnp does not process, ${describeExtension(entryCritical.type)}`);
      }
      revoked.set(normalizeSerial(entry.serialNumber), entry.revocationDate.getTime());
    }
    const list: RevocationList = Object.freeze({
      issuer: issuer.name,
      issuerSha256: issuer.sha256,
      thisUpdate: crl.thisUpdate.getTime(),
      nextUpdate: crl.nextUpdate?.getTime() ?? Infinity,
      revoked,
    });
    const current = this.#byIssuer.get(issuer.sha256);
    if (!current || current.thisUpdate < list.thisUpdate) this.#byIssuer.set(issuer.sha256, list);
  }
}

/** The configured CA of the CRL's issuer name whose key verifies its signature. */
function signerOf(der: Uint8Array, crl: X509.X509Crl, anchors: TrustAnchors): TrustAnchor | undefined {
  const issuerKey = crlIssuerKey(der);
  // Upper-case hex, as tbs-reader.ts writes the CAs' key identifiers.
  const authorityKeyId = crl.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId?.toUpperCase();
  const signed = signedParts(der);
  return anchors.all.find((anchor) => anchor.subjectKey === issuerKey && keyIdsAgree(authorityKeyId, anchor) && verifies(signed, anchor.key));
}

/** The canonical issuer name of a DER CRL, as certificates' names are compared (tbs-reader.ts). */
export function crlIssuerKey(der: Uint8Array): string {
  const [tbs] = sequenceElements(der);
  if (!tbs) throw new RangeError("invalid CRL: not a CertificateList");
  const body = der.subarray(tbs.start, tbs.end);
  const fields = sequenceElements(body);
  // tbsCertList: version INTEGER OPTIONAL, signature AlgorithmIdentifier, issuer Name, ...
  const issuer = fields[fields[0]?.tag === 0x02 ? 2 : 1];
  if (!issuer) throw new RangeError("invalid CRL: no issuer");
  return readName(body.subarray(issuer.start, issuer.end)).key;
}

type SignedParts = { tbs: Uint8Array; algorithm: string; signature: Uint8Array };

// CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
function signedParts(der: Uint8Array): SignedParts {
  const [tbs, algorithm, signature] = sequenceElements(der);
  if (!tbs || !algorithm || !signature || signature.tag !== 0x03) throw new RangeError("invalid CRL: not a CertificateList");
  const algorithmElements = sequenceElements(der.subarray(algorithm.start, algorithm.end));
  const oid = algorithmElements[0];
  if (!oid) throw new RangeError("invalid CRL: empty signature algorithm");
  return {
    tbs: der.subarray(tbs.start, tbs.end),
    algorithm: readOid(der.subarray(algorithm.start, algorithm.end), oid),
    // The first content byte of a BIT STRING counts its unused bits; signatures use whole bytes.
    signature: der.subarray(signature.contentStart + 1, signature.end),
  };
}

// Signature algorithms of certificates and CRLs, as node:crypto names their digests
// (null: the algorithm has its own, as Ed25519 and Ed448 do).
const DIGESTS: ReadonlyMap<string, string | null> = new Map([
  ["1.2.840.113549.1.1.5", "sha1"],
  ["1.2.840.113549.1.1.14", "sha224"],
  ["1.2.840.113549.1.1.11", "sha256"],
  ["1.2.840.113549.1.1.12", "sha384"],
  ["1.2.840.113549.1.1.13", "sha512"],
  ["1.2.840.10045.4.1", "sha1"],
  ["1.2.840.10045.4.3.1", "sha224"],
  ["1.2.840.10045.4.3.2", "sha256"],
  ["1.2.840.10045.4.3.3", "sha384"],
  ["1.2.840.10045.4.3.4", "sha512"],
  ["1.3.101.112", null],
  ["1.3.101.113", null],
]);

function verifies(signed: SignedParts, key: KeyObject): boolean {
  const digest = DIGESTS.get(signed.algorithm);
  if (digest === undefined) {
    throw new RangeError(`invalid CRL: its signature algorithm ${signed.algorithm} is not supported (RSA PKCS#1 v1.5, ECDSA, Ed25519 and Ed448 are)`);
  }
  try {
    const padding = key.asymmetricKeyType === "rsa" ? { padding: constants.RSA_PKCS1_PADDING } : {};
    return verifySignature(digest, signed.tbs, { key, ...padding }, signed.signature);
  } catch {
    // A key of another type than the signature's is a mismatch, not a fault.
    return false;
  }
}

/** The DER CRLs in one input: every "X509 CRL" block of a PEM text, or the bytes as they are. */
function crlBlocks(input: CrlInput): Uint8Array[] {
  if (typeof input !== "string") {
    if (input[0] === 0x30) return [new Uint8Array(input)];
    // DER read from a file that is in fact PEM text.
    return crlBlocks(new TextDecoder().decode(input));
  }
  const blocks = x509.PemConverter.isPem(input)
    ? x509.PemConverter.decodeWithHeaders(input).filter((block) => block.type === "X509 CRL" || block.type === "CRL")
    : [];
  if (blocks.length === 0) throw new RangeError(`invalid CRL: no "-----BEGIN X509 CRL-----" block found and not DER`);
  return blocks.map((block) => new Uint8Array(block.rawData));
}

function messageOf(error: unknown): string {
  return printable(error instanceof Error ? error.message : String(error));
}
