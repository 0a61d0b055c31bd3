// Reads the fields path validation needs straight from a certificate's DER: serial, issuer
// and subject names (canonical, and their CN), validity, and the extensions gnp acts on with
// their critical flags. About a hundred times cheaper than a full parse by @peculiar/x509, so
// a client cannot make the server spend milliseconds per certificate it sends. Anything
// malformed, or an extension given twice, throws RangeError.
import { readElement, readOid, sequenceElements, type DerElement } from "./der.ts";

export type TbsFields = {
  /** Upper-case hex without leading zeros. */
  serial: string;
  subjectKey: string;
  issuerKey: string;
  /** The subject's first common name, if any. */
  commonName: string | undefined;
  notBefore: number;
  notAfter: number;
  extensions: ReadonlyMap<string, { critical: boolean; value: Uint8Array }>;
  ca: boolean | undefined;
  pathLength: number | undefined;
  /** keyUsage bits numbered as @peculiar/x509's KeyUsageFlags (digitalSignature = 1). */
  keyUsage: number | undefined;
  extendedKeyUsage: readonly string[] | undefined;
  keyId: string | undefined;
  authorityKeyId: string | undefined;
};

const COMMON_NAME = "2.5.4.3";

/** The fields of the DER certificate `der`. */
export function readTbs(der: Uint8Array): TbsFields {
  const [tbsElement] = sequenceElements(der);
  if (!tbsElement || tbsElement.tag !== 0x30) throw new RangeError("not a certificate: no tbsCertificate");
  const tbs = der.subarray(tbsElement.start, tbsElement.end);
  const fields = sequenceElements(tbs);
  let index = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version, when not v1
  const take = (): DerElement => {
    const element = fields[index++];
    if (!element) throw new RangeError("not a certificate: tbsCertificate is short");
    return element;
  };
  const serial = take();
  take(); // signature algorithm
  const issuer = take();
  const validity = take();
  const subject = take();
  take(); // subjectPublicKeyInfo
  const extensions = new Map<string, { critical: boolean; value: Uint8Array }>();
  for (const element of fields.slice(index)) {
    if (element.tag !== 0xa3) continue; // [1], [2] unique identifiers
    // [3] EXPLICIT: its one element is the SEQUENCE OF Extension.
    const list = tbs.subarray(element.contentStart, element.end);
    for (const item of sequenceElements(list)) {
      const body = list.subarray(item.start, item.end);
      const parts = sequenceElements(body);
      const [id, flag] = parts;
      const octets = parts[parts.length - 1];
      if (!id || !octets || octets.tag !== 0x04) throw new RangeError("invalid extension: no extnID or OCTET STRING value");
      const oid = readOid(body, id);
      const critical = parts.length === 3 && flag!.tag === 0x01 && body[flag!.contentStart] !== 0;
      if (extensions.has(oid)) throw new RangeError(`extension ${oid} appears twice`);
      extensions.set(oid, { critical, value: body.subarray(octets.contentStart, octets.end) });
    }
  }
  const times = tbs.subarray(validity.start, validity.end);
  const [notBefore, notAfter] = sequenceElements(times).map((time) => readTime(times, time));
  if (notBefore === undefined || notAfter === undefined) throw new RangeError("not a certificate: validity is short");
  const subjectName = readName(tbs.subarray(subject.start, subject.end));
  const constraints = decodeBasicConstraints(extensions.get("2.5.29.19")?.value);
  return {
    serial: hex(tbs.subarray(serial.contentStart, serial.end)).replace(/^0+(?=.)/, ""),
    subjectKey: subjectName.key,
    issuerKey: readName(tbs.subarray(issuer.start, issuer.end)).key,
    commonName: subjectName.commonName,
    notBefore,
    notAfter,
    extensions,
    ca: constraints?.ca,
    pathLength: constraints?.ca ? constraints.pathLength : undefined,
    keyUsage: decodeKeyUsage(extensions.get("2.5.29.15")?.value),
    extendedKeyUsage: decodeOids(extensions.get("2.5.29.37")?.value),
    keyId: decodeOctets(extensions.get("2.5.29.14")?.value),
    authorityKeyId: decodeAuthorityKeyId(extensions.get("2.5.29.35")?.value),
  };
}

/**
 * A Name as a string in which two encodings of one name are equal, as RFC 5280 section 7.1
 * and openssl compare them: values trimmed, inner spaces collapsed, case folded, string types
 * ignored, the attributes of one RDN in a fixed order. Also the first CN.
 */
export function readName(name: Uint8Array): { key: string; commonName: string | undefined } {
  let commonName: string | undefined;
  const rdns = sequenceElements(name).map((set) => {
    if (set.tag !== 0x31) throw new RangeError("invalid Name: an RDN is not a SET");
    const attributes: string[] = [];
    for (let offset = set.contentStart; offset < set.end; ) {
      const attribute = readElement(name, offset, set.end);
      const [type, value] = sequenceElements(name.subarray(attribute.start, attribute.end));
      const body = name.subarray(attribute.start, attribute.end);
      if (!type || !value) throw new RangeError("invalid Name: an attribute lacks its type or value");
      const oid = readOid(body, type);
      const text = decodeString(body, value);
      if (oid === COMMON_NAME && commonName === undefined) commonName = text;
      attributes.push(`${oid}=${text.trim().replace(/\s+/g, " ").toLowerCase()}`);
      offset = attribute.end;
    }
    return attributes.sort();
  });
  return { key: JSON.stringify(rdns), commonName };
}

function decodeString(bytes: Uint8Array, element: DerElement): string {
  const content = bytes.subarray(element.contentStart, element.end);
  switch (element.tag) {
    case 0x0c: // UTF8String
      return new TextDecoder("utf-8", { fatal: true }).decode(content);
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x12: // NumericString
    case 0x1a: // VisibleString
    case 0x14: // TeletexString, read as Latin-1 as openssl does
      return Buffer.from(content).toString("latin1");
    case 0x1e: // BMPString
      return new TextDecoder("utf-16be").decode(content);
    case 0x1c: // UniversalString
      return String.fromCodePoint(...Array.from({ length: content.length / 4 }, (_, i) => new DataView(content.buffer, content.byteOffset + i * 4, 4).getUint32(0)));
    default:
      // Other types (an OCTET STRING, say) compare by their bytes.
      return `#${hex(content)}`;
  }
}

function readTime(bytes: Uint8Array, element: DerElement): number {
  const text = Buffer.from(bytes.subarray(element.contentStart, element.end)).toString("latin1");
  const match = element.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : element.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null;
  if (!match) throw new RangeError(`invalid certificate time ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  // RFC 5280 4.1.2.5.1: a two-digit year below 50 is 20YY.
  const year = element.tag === 0x17 ? (y! < 50 ? 2000 + y! : 1900 + y!) : y!;
  return Date.UTC(year, mo! - 1, d!, h!, mi!, s!);
}

function decodeBasicConstraints(value: Uint8Array | undefined): { ca: boolean; pathLength: number | undefined } | undefined {
  if (!value) return undefined;
  let ca = false;
  let pathLength: number | undefined;
  for (const element of sequenceElements(value)) {
    if (element.tag === 0x01) ca = value[element.contentStart] !== 0;
    else if (element.tag === 0x02) pathLength = Number.parseInt(hex(value.subarray(element.contentStart, element.end)) || "0", 16);
  }
  return { ca, pathLength };
}

function decodeKeyUsage(value: Uint8Array | undefined): number | undefined {
  if (!value) return undefined;
  const bits = readElement(value, 0);
  if (bits.tag !== 0x03) throw new RangeError("invalid keyUsage: not a BIT STRING");
  let flags = 0;
  // Bit 0 is the first byte's high bit (digitalSignature); nine bits are defined.
  for (let i = 0; i < 9; i++) {
    const byte = value[bits.contentStart + 1 + (i >> 3)];
    if (byte !== undefined && bits.contentStart + 1 + (i >> 3) < bits.end && byte & (0x80 >> (i & 7))) flags |= 1 << i;
  }
  return flags;
}

function decodeOids(value: Uint8Array | undefined): string[] | undefined {
  return value ? sequenceElements(value).map((element) => readOid(value, element)) : undefined;
}

function decodeOctets(value: Uint8Array | undefined): string | undefined {
  if (!value) return undefined;
  const element = readElement(value, 0);
  if (element.tag !== 0x04) throw new RangeError("invalid subjectKeyIdentifier: not an OCTET STRING");
  return hex(value.subarray(element.contentStart, element.end));
}

function decodeAuthorityKeyId(value: Uint8Array | undefined): string | undefined {
  if (!value) return undefined;
  const keyId = sequenceElements(value).find((element) => element.tag === 0x80);
  return keyId ? hex(value.subarray(keyId.contentStart, keyId.end)) : undefined;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex").toUpperCase();
}
