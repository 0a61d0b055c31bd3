// How refusal reasons write what they quote. A reason travels as one wire line
// (`ERR: <reason>` CRLF, PROTOCOL.md section 1), so text taken from a certificate is made
// printable and bounded, and instants are ISO 8601 in UTC to the second.

/** An instant as ISO 8601 in UTC without milliseconds: `2026-01-31T00:00:00Z`. */
export function formatInstant(time: number | Date): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Control characters as `\xNN`, and at most 200 characters: a name may not break the line. */
export function printable(text: string): string {
  const clean = text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}
