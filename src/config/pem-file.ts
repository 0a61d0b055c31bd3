// Files named by a setting (--cert, --key, --ca, --crl, and their variables and keys), read
// with one clear line for a missing, unreadable or non-PEM file, before anything listens or
// connects. A CRL may be DER as well as PEM, so it is read as bytes.

import { readFileSync } from "node:fs";
import { CliFailure } from "../io.ts";
import { systemReason } from "../wording.ts";

/**
 * Reads the PEM file that flag `flag` names. Throws CliFailure (exit 1) with one line.
 *
 * @example const cert = readPemFile("cert", settings.certFile);
 */
export function readPemFile(flag: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CliFailure(`cannot read --${flag} ${path}: ${systemReason(error)}`);
  }
  if (!text.includes("-----BEGIN ")) throw new CliFailure(`--${flag} ${path} is not a PEM file`);
  return text;
}

/**
 * Reads the file that flag `flag` names as bytes (a CRL: PEM or DER). Throws CliFailure (exit 1) with one line.
 *
 * @example const crl = readSettingBytes("crl", "/etc/gnp/ca.crl");
 */
export function readSettingBytes(flag: string, path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new CliFailure(`cannot read --${flag} ${path}: ${systemReason(error)}`);
  }
}
