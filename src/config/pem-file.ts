// Files named by a setting (--cert, --key, --ca, --crl, and their variables and keys), read
// with one clear line for a missing, unreadable or non-PEM file, before anything listens or
// connects. A CRL may be DER as well as PEM, so it is read as bytes. The line names the
// setting as the user wrote it (GNP_CA in a container, not --ca) and, for a refused access,
// the uid and the directory or file that refused it.

import { readFileSync } from "node:fs";
import { CliFailure } from "../io.ts";
import { describeFileError } from "./file-errors.ts";

/**
 * Reads the PEM file that a setting names; `origin` is how the user wrote that setting
 * (`--ca`, `GNP_CA`, `ca (from gnp.toml)`). Throws CliFailure (exit 1) with one line.
 *
 * @example const ca = readPemFile(originOf(config, "ca"), "/pki/ca.crt");
 */
export function readPemFile(origin: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new CliFailure(`cannot read ${origin} ${path}: ${describeFileError(error, path)}`);
  }
  if (!text.includes("-----BEGIN ")) throw new CliFailure(`${origin} ${path} is not a PEM file`);
  return text;
}

/**
 * Reads the file that a setting names as bytes (a CRL: PEM or DER); `origin` as for
 * readPemFile. Throws CliFailure (exit 1) with one line.
 *
 * @example const crl = readSettingBytes(originOf(config, "crl"), "/etc/gnp/ca.crl");
 */
export function readSettingBytes(origin: string, path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new CliFailure(`cannot read ${origin} ${path}: ${describeFileError(error, path)}`);
  }
}
