// A distinguished name (X.501 Name) read from DER as path validation compares it: each RDN in
// a canonical form in which two encodings of one name are equal (RFC 5280 section 7.1, as
// openssl compares them), the whole name as one key, its common names and e-mail attributes,
// and a readable text for reasons. Malformed input throws RangeError.
import { readElement, readOid, sequenceElements, type DerElement } from "./der.ts";

export type DistinguishedName = {
  /** The canonical name: equal for equal names. */
  key: string;
  /** Each RDN's canonical form, in order: a name is within a directoryName subtree when the subtree's RDNs begin it. */
  rdns: string[];
  /** The first common name, if any. */
  commonName: string | undefined;
  commonNames: string[];
  /** pkcs-9 emailAddress attributes (1.2.840.113549.1.9.1). */
  emails: string[];
  /** `CN=carol, O=Acme`, in the order of the encoding. */
  text: string;
};

const COMMON_NAME = "2.5.4.3";
const EMAIL_ADDRESS = "1.2.840.113549.1.9.1";
const SHORT_NAMES: ReadonlyMap<string, string> = new Map([
  [COMMON_NAME, "CN"],
  ["2.5.4.6", "C"],
  ["2.5.4.7", "L"],
  ["2.5.4.8", "ST"],
  ["2.5.4.10", "O"],
  ["2.5.4.11", "OU"],
  ["0.9.2342.19200300.100.1.25", "DC"],
  ["0.9.2342.19200300.100.1.1", "UID"],
  [EMAIL_ADDRESS, "emailAddress"],
]);

/**
 * Reads a Name: values trimmed, inner spaces collapsed, case folded and string types ignored
 * in the canonical forms, the attributes of one RDN in a fixed order.
 *
 * @example readName(der).text // "CN=Acme Root, O=Acme"
 */
export function readName(name: Uint8Array): DistinguishedName {
  const commonNames: string[] = [];
  const emails: string[] = [];
  const texts: string[] = [];
  const rdns = sequenceElements(name).map((set) => {
    if (set.tag !== 0x31) throw new RangeError("invalid Name: an RDN is not a SET");
    const attributes: string[] = [];
    const shown: string[] = [];
    for (let offset = set.contentStart; offset < set.end; ) {
      const attribute = readElement(name, offset, set.end);
      const [type, value] = sequenceElements(name.subarray(attribute.start, attribute.end));
      const body = name.subarray(attribute.start, attribute.end);
      if (!type || !value) throw new RangeError("invalid Name: an attribute lacks its type or value");
      const oid = readOid(body, type);
      const text = decodeString(body, value);
      if (oid === COMMON_NAME) commonNames.push(text);
      if (oid === EMAIL_ADDRESS) emails.push(text);
      attributes.push(`${oid}=${text.trim().replace(/\s+/g, " ").toLowerCase()}`);
      shown.push(`${SHORT_NAMES.get(oid) ?? oid}=${text}`);
      offset = attribute.end;
    }
    texts.push(shown.join("+"));
    return attributes.sort();
  });
  return { key: JSON.stringify(rdns), rdns: rdns.map((rdn) => JSON.stringify(rdn)), commonName: commonNames[0], commonNames, emails, text: texts.join(", ") };
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
      return `#${Buffer.from(content).toString("hex").toUpperCase()}`;
  }
}
