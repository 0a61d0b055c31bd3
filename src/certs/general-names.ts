// GeneralNames (RFC 5280 section 4.2.1.6) read straight from DER, as the subjectAltName of a
// certificate and the subtrees of a nameConstraints extension carry them: DNS, e-mail, URI,
// IP address and directory names with their values, every other kind by its name only. Also
// how a name is written in a reason (`DNS:api.example.org`). Malformed input throws RangeError.
import { readElement, readOid, type DerElement } from "./der.ts";
import { readName } from "./distinguished-name.ts";

/** A name gnp can compare, or one of the kinds it does not (`other`, by its ASN.1 name). */
export type GeneralName =
  | { kind: "dns" | "email" | "uri"; value: string }
  | { kind: "ip"; bytes: Uint8Array }
  | { kind: "dirName"; rdns: readonly string[]; text: string }
  | { kind: "other"; type: OtherKind; oid?: string };

export type OtherKind = "otherName" | "x400Address" | "ediPartyName" | "registeredID";

const OTHER_KINDS: readonly (OtherKind | undefined)[] = ["otherName", undefined, undefined, "x400Address", undefined, "ediPartyName", undefined, undefined, "registeredID"];

/** The names in a GeneralNames SEQUENCE (a subjectAltName extension's value). */
export function readGeneralNames(der: Uint8Array): GeneralName[] {
  const outer = readElement(der, 0);
  if (outer.tag !== 0x30) throw new RangeError("invalid GeneralNames: not a SEQUENCE");
  return elementsIn(der, outer).map((element) => readGeneralName(der, element));
}

/** One GeneralName element: its context tag says the kind ([1] e-mail, [2] DNS, [4] directory, [6] URI, [7] IP). */
export function readGeneralName(bytes: Uint8Array, element: DerElement): GeneralName {
  const number = element.tag & 0x1f;
  if ((element.tag & 0xc0) !== 0x80 || number > 8) throw new RangeError(`invalid GeneralName: tag 0x${element.tag.toString(16)}`);
  const content = bytes.subarray(element.contentStart, element.end);
  switch (number) {
    case 1:
      return { kind: "email", value: ia5(content) };
    case 2:
      return { kind: "dns", value: ia5(content) };
    case 6:
      return { kind: "uri", value: ia5(content) };
    case 7:
      return { kind: "ip", bytes: content };
    case 4: {
      // [4] EXPLICIT Name: the element holds one SEQUENCE.
      const name = readElement(content, 0);
      const parsed = readName(content.subarray(name.start, name.end));
      return { kind: "dirName", rdns: parsed.rdns, text: parsed.text };
    }
    default: {
      const type = OTHER_KINDS[number]!;
      if (type === "otherName") {
        // otherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }, IMPLICIT [0].
        const id = readElement(content, 0);
        return { kind: "other", type, oid: readOid(content, id) };
      }
      return { kind: "other", type };
    }
  }
}

/** The elements directly inside `element` of `bytes`. */
export function elementsIn(bytes: Uint8Array, element: DerElement): DerElement[] {
  const elements: DerElement[] = [];
  for (let offset = element.contentStart; offset < element.end; ) {
    const inner = readElement(bytes, offset, element.end);
    elements.push(inner);
    offset = inner.end;
  }
  return elements;
}

/** How a reason writes a name: `DNS:api.example.org`, `email:a@b`, `URI:spiffe://...`, `IP:10.0.0.1`, `DirName:CN=x, O=y`. */
export function describeName(name: GeneralName): string {
  switch (name.kind) {
    case "dns":
      return `DNS:${name.value}`;
    case "email":
      return `email:${name.value}`;
    case "uri":
      return `URI:${name.value}`;
    case "ip":
      return `IP:${formatIp(name.bytes)}`;
    case "dirName":
      return `DirName:${name.text}`;
    case "other":
      return name.oid ? `${name.type} ${name.oid}` : name.type;
  }
}

/**
 * An IP address (4 or 16 bytes) in its usual text, or an address and mask (8 or 32 bytes, a
 * name constraint) as `10.0.0.0/255.0.0.0`.
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 8 || bytes.length === 32) {
    const half = bytes.length / 2;
    return `${formatIp(bytes.subarray(0, half))}/${formatIp(bytes.subarray(half))}`;
  }
  if (bytes.length === 4) return [...bytes].join(".");
  if (bytes.length !== 16) return `#${Buffer.from(bytes).toString("hex")}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.start < 0) return groups.join(":");
  return `${groups.slice(0, best.start).join(":")}::${groups.slice(best.start + best.length).join(":")}`;
}

function ia5(content: Uint8Array): string {
  return Buffer.from(content).toString("latin1");
}
