// Wire builders for tests: requests and replies as the bytes PROTOCOL.md describes, so a
// test states what goes over the wire without hand-writing CRLFs.

export type WireRequest = { command: string; sequence?: string; headers?: [string, string][]; body?: string | Uint8Array };

const encoder = new TextEncoder();

export function request(command: string, sequence: string | undefined, body?: string | Uint8Array, headers: [string, string][] = []): string {
  let head = `${command}\r\n`;
  if (sequence !== undefined) head += `Sequence: ${sequence}\r\n`;
  const bytes = body === undefined ? undefined : typeof body === "string" ? encoder.encode(body) : body;
  if (bytes !== undefined) head += `Size: ${bytes.byteLength}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  head += "\r\n";
  return bytes === undefined ? head : head + new TextDecoder().decode(bytes);
}

export function okReply(sequence: string, body = "", headers: [string, string][] = []): string {
  return reply("OK", sequence, body, headers);
}

export function errReply(sequence: string, message: string): string {
  return reply("ERR", sequence, message, []);
}

export function reply(status: "OK" | "ERR" | "PUSH", sequence: string, body: string, headers: [string, string][]): string {
  let head = `${status}\r\nSequence: ${sequence}\r\nSize: ${encoder.encode(body).byteLength}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  return `${head}\r\n${body}`;
}

export const GREETING = "OK\r\n";

export function errorLine(reason: string): string {
  return `ERR: ${reason}\r\n`;
}

export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}
