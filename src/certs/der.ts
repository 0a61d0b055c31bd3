// The few DER facts gnp reads itself: the elements of a SEQUENCE, as exact byte ranges, and
// an OBJECT IDENTIFIER as dotted text. A signature covers the bytes as they were sent, so a
// CRL's tbsCertList must be sliced out, never re-encoded. Malformed input throws RangeError;
// nothing here allocates more than a slice of what it was given.

/** One DER element: its tag and where its content lies in the buffer it was read from. */
export type DerElement = { tag: number; start: number; contentStart: number; end: number };

/** Reads the element at `offset`; throws RangeError when it runs past `limit`. */
export function readElement(bytes: Uint8Array, offset: number, limit: number = bytes.length): DerElement {
  if (offset + 2 > limit) throw new RangeError("truncated DER element");
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new RangeError("multi-byte DER tags are not supported");
  let length = bytes[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // Four length bytes describe 4 GiB: anything longer is not a certificate or a CRL.
    if (count === 0 || count > 4 || contentStart + count > limit) throw new RangeError("invalid DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[contentStart + i]!;
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > limit) throw new RangeError("DER element runs past its container");
  return { tag, start: offset, contentStart, end };
}

/** The elements directly inside the SEQUENCE that fills `bytes`. */
export function sequenceElements(bytes: Uint8Array): DerElement[] {
  const outer = readElement(bytes, 0);
  if (outer.tag !== 0x30) throw new RangeError("not a DER SEQUENCE");
  const elements: DerElement[] = [];
  for (let offset = outer.contentStart; offset < outer.end; ) {
    const element = readElement(bytes, offset, outer.end);
    elements.push(element);
    offset = element.end;
  }
  return elements;
}

/** The dotted form of the OBJECT IDENTIFIER element `element` of `bytes`. */
export function readOid(bytes: Uint8Array, element: DerElement): string {
  if (element.tag !== 0x06 || element.end === element.contentStart) throw new RangeError("not an OBJECT IDENTIFIER");
  const parts: number[] = [];
  let value = 0;
  for (let i = element.contentStart; i < element.end; i++) {
    const byte = bytes[i]!;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw new RangeError("OBJECT IDENTIFIER arc too large");
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    }
  }
  if (bytes[element.end - 1]! & 0x80) throw new RangeError("OBJECT IDENTIFIER ends inside an arc");
  return parts.join(".");
}
