// What the `gnp certs` commands share: their flags' parsing (worded the certs way, a usage
// mistake exits 2), the directory a CA lives in and how an issuer in it is loaded (the root,
// or an intermediate made by `gnp certs intermediate`), reading certificates and CRLs from
// files, and writing files so that a server polling them never reads half of one.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { loadCertificateAuthority, type CertificateAuthority, type KeyAlgorithm } from "../certs/generate.ts";
import { localCrlPath, localPkiPaths } from "../certs/pki-paths.ts";
import { formatInstant } from "../certs/validator.ts";
import { x509 } from "../certs/x509.ts";
import { FlagReader, parseCommandLine, type FlagSpec, type FlagTexts } from "../config/flags.ts";
import { DEFAULT_DATA_DIR } from "../config/serve-flags.ts";
import { systemReason } from "../wording.ts";

export const DEFAULT_DIR = "./certs";
export const MAX_DAYS = 36_500;
/** A name that doubles as a file name (a client's, an intermediate's) unless --out is given. */
export const SAFE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;

/** A mistake in how the command was called: exit status 2. */
export class UsageError extends Error {}

// The flags several commands have; none reads a GNP_* variable (--server reads the server's, itself).
export const DAYS = { type: "string", arg: "DAYS", env: false, help: `days the certificate is valid (at most ${MAX_DAYS})` } as const;
export const RSA = { type: "boolean", env: false, help: "an RSA key instead of ECDSA P-256" } as const;
export const FORCE = { type: "boolean", env: false, help: "replace existing files" } as const;
export const DIR = {
  type: "string",
  arg: "DIR",
  env: false,
  help: `where the CA is (default ${DEFAULT_DIR}, or the first-run CA of gnp serve, ${DEFAULT_DATA_DIR}/pki, when only that exists)`,
} as const;

/**
 * The directory of the CA a command signs with: --dir, else ./certs (where `gnp certs init`
 * puts one), else the CA `gnp serve` created on its first run in its default data directory
 * (or GNP_DATA's), so that the first client after `gnp serve` needs no flag. When none has a
 * CA, ./certs, whose error says to run `gnp certs init` first.
 */
export function caDirOf(dir: string | undefined): string {
  if (dir !== undefined) return dir;
  if (existsSync(localPkiPaths(DEFAULT_DIR).caCert)) return DEFAULT_DIR;
  for (const data of [process.env.GNP_DATA, DEFAULT_DATA_DIR]) {
    if (data === undefined || data === "") continue;
    const firstRun = join(data, "pki");
    if (existsSync(localPkiPaths(firstRun).caCert)) return firstRun;
  }
  return DEFAULT_DIR;
}
export const ISSUER = { type: "string", arg: "NAME", env: false, help: "sign with the intermediate CA NAME (DIR/NAME.crt and DIR/NAME.key) instead of the root" } as const;
export const SAN = { type: "string", arg: "NAME", multiple: true, env: false, help: "a subjectAltName: a DNS name, an IP address, an e-mail address (with @) or a URI (with ://), e.g. a SPIFFE ID (repeatable)" } as const;
export const HELP_FLAG = { help: { type: "boolean", short: "h", env: false, help: "show this help" } } as const;

/** The flags of one `gnp certs` command (its --help is the whole usage, written per command). */
export function parse<T extends Record<string, FlagSpec>>(argv: string[], flags: T) {
  const table = { ...flags, ...HELP_FLAG };
  let parsed: { texts: FlagTexts; positionals: string[] };
  try {
    parsed = parseCommandLine(argv, table, { positionals: true });
  } catch (error) {
    // Said the certs way: after `gnp certs <command>: `, in lower case.
    const mistake = (error as Error).message;
    throw new UsageError(mistake.charAt(0).toLowerCase() + mistake.slice(1));
  }
  return { values: new FlagReader(table, { texts: parsed.texts, env: {} }).readAll(), positionals: parsed.positionals };
}

export function single(positionals: string[], expect: { what: string; required: boolean }): string | undefined {
  const { what, required } = expect;
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}: expected one ${what}`);
  }
  if (required && positionals.length === 0) throw new UsageError(`missing ${what}`);
  return positionals[0];
}

export function daysOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const days = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(days >= 1 && days <= MAX_DAYS)) {
    throw new UsageError(`invalid --days ${JSON.stringify(text)}: expected a whole number from 1 to ${MAX_DAYS}`);
  }
  return days;
}

export function algorithmOf(rsa: boolean | undefined): KeyAlgorithm {
  return rsa ? "rsa" : "ecdsa";
}

export function thumbprintLines(digests: { sha1: string; sha256: string }): string {
  return `SHA-1 ${digests.sha1}\nSHA-256 ${digests.sha256}\n`;
}

export async function readText(path: string, hint: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${resolve(path)}: ${systemReason(error)} (${hint})`);
  }
}

/** A CA that signs, with the files it came from and its CRL's path. */
export type Issuer = { ca: CertificateAuthority; certFile: string; crlFile: string; chainPem: string };

/**
 * The root CA of `dir` (ca.crt, ca.key, CRL ca.crl), or with `name` the intermediate made by
 * `gnp certs intermediate NAME` (NAME.crt, NAME.key, NAME.crl), refusing one that has expired.
 */
export async function loadIssuer(dir: string, name: string | undefined): Promise<Issuer> {
  if (name !== undefined && !SAFE_FILE_NAME.test(name)) throw new UsageError(`invalid --issuer ${JSON.stringify(name)}: use the NAME given to gnp certs intermediate`);
  const paths = localPkiPaths(dir);
  const certFile = name === undefined ? paths.caCert : join(resolve(dir), `${name}.crt`);
  const keyFile = name === undefined ? paths.caKey : join(resolve(dir), `${name}.key`);
  const certPem = await readText(certFile, name === undefined ? `run "gnp certs init ${dir}" first` : `run "gnp certs intermediate ${name} --dir ${dir}" first`);
  const ca = await loadCertificateAuthority(certPem, await readText(keyFile, "the CA private key is needed to sign"));
  if (ca.notAfter.getTime() < Date.now()) throw new Error(`CA ${ca.certificate.subject} expired at ${formatInstant(ca.notAfter)}`);
  const crlFile = name === undefined ? localCrlPath(dir) : join(resolve(dir), `${name}.crl`);
  // What a client certificate file carries after its own: the issuer, when it is an intermediate.
  return { ca, certFile, crlFile, chainPem: name === undefined ? "" : ca.certificatePem };
}

/** Every certificate of a PEM file, or the whole file when it is DER; the first one alone when `first`. */
export async function readCertificates(path: string): Promise<Uint8Array[]> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    throw new Error(`cannot read ${resolve(path)}: ${systemReason(error)}`);
  }
  const text = new TextDecoder().decode(bytes);
  let ders: Uint8Array[] = [];
  if (x509.PemConverter.isPem(text)) {
    ders = x509.PemConverter.decodeWithHeaders(text)
      .filter((b) => b.type === "CERTIFICATE")
      .map((b) => new Uint8Array(b.rawData));
  } else if (bytes[0] === 0x30) {
    ders = [bytes];
  }
  if (ders.length === 0) throw new Error(`no certificate in ${resolve(path)}: expected a PEM CERTIFICATE block or DER`);
  for (const der of ders) {
    try {
      new x509.X509Certificate(der);
    } catch (error) {
      throw new Error(`invalid certificate in ${resolve(path)}: ${error instanceof Error ? error.message : error}`);
    }
  }
  return ders;
}

/** The first certificate of a file. */
export async function readCertificate(path: string): Promise<Uint8Array> {
  return (await readCertificates(path))[0]!;
}

/**
 * Writes `text` to `path` by renaming a file written beside it, so that a reader (a server
 * polling its CRL or certificate) sees the old file or the new one, never a part.
 */
export async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const temporary = join(dirname(path), `.${randomBytes(6).toString("hex")}.tmp`);
  await writeFile(temporary, text, { mode, flag: "wx" });
  await chmod(temporary, mode);
  await rename(temporary, path);
}
