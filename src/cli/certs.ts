// `gnp certs`: create a small PKI, sign client certificates, print thumbprints
// and inspect a certificate against --ca/--allow settings. Arguments and
// output only: the work is in src/certs. Exit 0 on success, 1 on failure,
// 2 on bad usage; every failure is one line on stderr, never a stack trace.
import { X509Certificate as NodeX509 } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { issueClientCertificate, loadCertificateAuthority, type KeyAlgorithm } from "../certs/generate.ts";
import { existingFiles, localPkiPaths, PKI_FILES, writeLocalPki, writePem } from "../certs/local-pki.ts";
import { thumbprints } from "../certs/thumbprint.ts";
import type { TrustPolicy } from "../certs/trust-policy.ts";
import { parseCertificate } from "../certs/certificate-facts.ts";
import { CertificateValidator, formatInstant } from "../certs/validator.ts";
import { x509 } from "../certs/x509.ts";
import { FlagReader, parseCommandLine, type FlagSpec, type FlagTexts } from "../config/flags.ts";
import { loadLocalServerTrust } from "../serve/local-server-trust.ts";
import type { CliIo } from "../io.ts";
import { systemReason } from "../wording.ts";
import type * as X509 from "@peculiar/x509";

export const CERTS_USAGE = `Usage:
  gnp certs init [DIR] [--name NAME]... [--rsa] [--days DAYS] [--force]
      Create a CA, a server certificate (localhost, 127.0.0.1, ::1 and each
      --name) and the client certificate "admin" in DIR (default ./certs).
  gnp certs client NAME [--dir DIR] [--days DAYS] [--rsa] [--out PREFIX] [--force]
      Sign a client certificate CN=NAME with DIR/ca.crt and DIR/ca.key and write
      DIR/NAME.crt and DIR/NAME.key (or PREFIX.crt and PREFIX.key).
  gnp certs thumbprint FILE
      Print the SHA-1 and SHA-256 thumbprints of the certificate in FILE.
  gnp certs inspect FILE [--ca CAFILE]... [--allow THUMBPRINT]... [--server] [--config FILE]
      Describe the certificate in FILE and, given --ca or --allow, whether a
      server with those settings would admit it (exit status 1 if not). With
      --server (or --config), check against the server configured here: its
      settings file, GNP_* variables and first-run CA, and show its permissions.

Existing files are never replaced without --force.
Exit status: 0 success, 1 failure, 2 bad usage.
`;

const DEFAULT_DIR = "./certs";
const MAX_DAYS = 36_500;
// A client name doubles as a file name unless --out is given.
const SAFE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;

class UsageError extends Error {}

// The flags of each command; none reads a GNP_* variable (--server reads the server's, itself).
const DAYS = { type: "string", arg: "DAYS", env: false, help: `days the certificate is valid (at most ${MAX_DAYS})` } as const;
const RSA = { type: "boolean", env: false, help: "an RSA key instead of ECDSA P-256" } as const;
const FORCE = { type: "boolean", env: false, help: "replace existing files" } as const;
const INIT_FLAGS = {
  name: { type: "string", arg: "NAME", multiple: true, env: false, help: "another name for the server certificate (repeatable)" },
  rsa: RSA,
  days: DAYS,
  force: FORCE,
} as const satisfies Record<string, FlagSpec>;
const CLIENT_FLAGS = {
  dir: { type: "string", arg: "DIR", env: false, help: `where the CA is (default ${DEFAULT_DIR})` },
  days: DAYS,
  rsa: RSA,
  out: { type: "string", arg: "PREFIX", env: false, help: "write PREFIX.crt and PREFIX.key" },
  force: FORCE,
} as const satisfies Record<string, FlagSpec>;
const INSPECT_FLAGS = {
  ca: { type: "string", arg: "CAFILE", multiple: true, env: false, help: "check against this trusted CA (repeatable)" },
  allow: { type: "string", arg: "THUMBPRINT", multiple: true, env: false, help: "check against this allow-list thumbprint (repeatable)" },
  server: { type: "boolean", env: false, help: "check against the server configured here" },
  config: { type: "string", arg: "FILE", env: false, help: "that server's settings file" },
} as const satisfies Record<string, FlagSpec>;

/**
 * Runs `gnp certs <argv>` and resolves to the exit status.
 *
 * @example await runCerts(["thumbprint", "alice.crt"], { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) })
 */
export async function runCerts(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    io.stdout(CERTS_USAGE);
    return 0;
  }
  try {
    switch (command) {
      case "init":
        return await init(rest, io);
      case "client":
        return await client(rest, io);
      case "thumbprint":
        return await thumbprint(rest, io);
      case "inspect":
        return await inspect(rest, io);
      case undefined:
        throw new UsageError(`missing command: expected init, client, thumbprint or inspect (see gnp certs --help)`);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}: expected init, client, thumbprint or inspect`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`gnp certs${command ? ` ${command}` : ""}: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

async function init(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, INIT_FLAGS);
  if (values.help) return help(io);
  const dir = single(positionals, { what: "DIR", required: false }) ?? DEFAULT_DIR;
  const paths = localPkiPaths(dir);
  const existing = await existingFiles(paths);
  if (existing.length > 0 && !values.force) {
    const more = existing.length > 1 ? ` (and ${existing.length - 1} more)` : "";
    throw new Error(`refusing to overwrite ${existing[0]}${more}: use --force to replace them`);
  }
  const written = await writeLocalPki(dir, {
    names: values.name ?? [],
    algorithm: algorithmOf(values.rsa),
    days: daysOf(values.days),
    overwrite: values.force ?? false,
  });
  const sans = written.server.certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const names = sans ? sans.names.items.map((n) => n.value).join(", ") : "";
  io.stdout(
    `CA      ${paths.caCert} and ${PKI_FILES.caKey} (${written.ca.certificate.subject})\n` +
      `server  ${paths.serverCert} and ${PKI_FILES.serverKey} (${names})\n` +
      `client  ${paths.clientCert} and ${PKI_FILES.clientKey} (CN=${written.client.commonName})\n` +
      thumbprintLines(written.client),
  );
  return 0;
}

async function client(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, CLIENT_FLAGS);
  if (values.help) return help(io);
  const name = single(positionals, { what: "NAME", required: true })!;
  if (values.out === undefined && !SAFE_FILE_NAME.test(name)) {
    throw new UsageError(
      `invalid client name ${JSON.stringify(name)}: use letters, digits, ".", "_", "-" and "@", or give --out PREFIX`,
    );
  }
  const dir = values.dir ?? DEFAULT_DIR;
  const prefix = resolve(values.out ?? join(dir, name));
  const certPath = `${prefix}.crt`;
  const keyPath = `${prefix}.key`;
  const days = daysOf(values.days);
  const existing = await existingFiles([certPath, keyPath]);
  if (existing.length > 0 && !values.force) {
    throw new Error(`refusing to overwrite ${existing[0]}: use --force to replace it`);
  }
  const ca = await loadCertificateAuthority(
    await readText(localPkiPaths(dir).caCert, `run "gnp certs init ${dir}" first`),
    await readText(localPkiPaths(dir).caKey, "the CA private key is needed to sign"),
  );
  if (ca.notAfter.getTime() < Date.now()) {
    throw new Error(`CA ${ca.certificate.subject} expired at ${formatInstant(ca.notAfter)}`);
  }
  const issued = await issueClientCertificate(ca, { commonName: name, algorithm: algorithmOf(values.rsa), days });
  const overwrite = values.force ?? false;
  await writePem(certPath, issued.certificatePem, { mode: 0o644, overwrite });
  await writePem(keyPath, issued.privateKeyPem, { mode: 0o600, overwrite });
  io.stdout(
    `wrote ${certPath} and ${keyPath} (CN=${issued.commonName}, valid until ${formatInstant(issued.notAfter)})\n` +
      thumbprintLines(issued),
  );
  return 0;
}

async function thumbprint(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (values.help) return help(io);
  const der = await readCertificate(single(positionals, { what: "FILE", required: true })!);
  io.stdout(thumbprintLines(thumbprints(der)));
  return 0;
}

async function inspect(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, INSPECT_FLAGS);
  if (values.help) return help(io);
  const der = await readCertificate(single(positionals, { what: "FILE", required: true })!);
  const cert = new x509.X509Certificate(der);
  const node = new NodeX509(der);
  const digests = thumbprints(der);
  // --server: the trust of the `gnp serve` configured here (src/serve/local-server-trust.ts).
  const local = values.server || values.config !== undefined ? loadLocalServerTrust(values.config, { env: process.env }) : undefined;
  const trust: TrustPolicy = {
    allow: [...(local?.trust.allow ?? []), ...values.allow],
    trustedCas: [...(local?.trust.trustedCas ?? []), ...(await Promise.all(values.ca.map((file) => readText(file, "given with --ca"))))],
  };
  const checked = trust.trustedCas.length > 0 || trust.allow.length > 0;
  const admission = checked ? new CertificateValidator(trust, { cacheSize: 0 }).validate({ raw: der }) : undefined;
  const verdict = !admission
    ? "not checked (give --ca or --allow)"
    : admission.ok
      ? `admitted ${admission.viaCa ? "by a trusted CA" : "by the allow-list"}`
      : `refused (${admission.code}): ${admission.reason}`;
  const rows: [string, string][] = [
    ["Subject", cert.subject || "(empty)"],
    ["Issuer", cert.issuer || "(empty)"],
    ["SANs", describeSans(cert)],
    ["Not before", formatInstant(cert.notBefore)],
    ["Not after", formatInstant(cert.notAfter)],
    ["Key", describeKey(node)],
    ["CA", cert.getExtension(x509.BasicConstraintsExtension)?.ca ? "yes" : "no"],
    ["Serial", cert.serialNumber.toUpperCase()],
    ["SHA-1", digests.sha1],
    ["SHA-256", digests.sha256],
    ["Identity", parseCertificate(der, { identity: true, digests }).identity],
    ["Admission", verdict],
  ];
  if (local !== undefined) {
    rows.push(["Checked", `against ${local.source}`]);
    if (admission?.ok) rows.push(["Permissions", local.clients.permissionsFor(admission).join(", ") || "none (only WHOAMI): matches no [[clients]] entry"]);
  }
  io.stdout(rows.map(([label, value]) => `${label.padEnd(11)} ${value}\n`).join(""));
  return admission && !admission.ok ? 1 : 0;
}

const HELP_FLAG = { help: { type: "boolean", short: "h", env: false, help: "show this help" } } as const;

/** The flags of one `gnp certs` command (its --help is CERTS_USAGE, written per command). */
function parse<T extends Record<string, FlagSpec>>(argv: string[], flags: T) {
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

function help(io: CliIo): number {
  io.stdout(CERTS_USAGE);
  return 0;
}

function single(positionals: string[], expect: { what: string; required: boolean }): string | undefined {
  const { what, required } = expect;
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}: expected one ${what}`);
  }
  if (required && positionals.length === 0) throw new UsageError(`missing ${what}`);
  return positionals[0];
}

function daysOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const days = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(days >= 1 && days <= MAX_DAYS)) {
    throw new UsageError(`invalid --days ${JSON.stringify(text)}: expected a whole number from 1 to ${MAX_DAYS}`);
  }
  return days;
}

function algorithmOf(rsa: boolean | undefined): KeyAlgorithm {
  return rsa ? "rsa" : "ecdsa";
}

function thumbprintLines(digests: { sha1: string; sha256: string }): string {
  return `SHA-1 ${digests.sha1}\nSHA-256 ${digests.sha256}\n`;
}

async function readText(path: string, hint: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${resolve(path)}: ${systemReason(error)} (${hint})`);
  }
}

// The first certificate of a PEM file, or the whole file when it is DER.
async function readCertificate(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (error) {
    throw new Error(`cannot read ${resolve(path)}: ${systemReason(error)}`);
  }
  const text = new TextDecoder().decode(bytes);
  let der: Uint8Array | undefined;
  if (x509.PemConverter.isPem(text)) {
    const block = x509.PemConverter.decodeWithHeaders(text).find((b) => b.type === "CERTIFICATE");
    der = block && new Uint8Array(block.rawData);
  } else if (bytes[0] === 0x30) {
    der = bytes;
  }
  if (!der) throw new Error(`no certificate in ${resolve(path)}: expected a PEM CERTIFICATE block or DER`);
  try {
    new x509.X509Certificate(der);
  } catch (error) {
    throw new Error(`invalid certificate in ${resolve(path)}: ${error instanceof Error ? error.message : error}`);
  }
  return der;
}

const SAN_LABELS: Record<string, string> = { dns: "DNS", ip: "IP", email: "email", url: "URI" };

function describeSans(cert: X509.X509Certificate): string {
  const extension = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!extension) return "(none)";
  try {
    return extension.names.items.map((n) => `${SAN_LABELS[n.type] ?? n.type}:${n.value}`).join(", ");
  } catch {
    return "(present, not readable)";
  }
}

// node:crypto reports OpenSSL's curve names; people know the NIST ones.
const CURVE_NAMES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

function describeKey(node: NodeX509): string {
  const key = node.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "ec") {
    const curve = details.namedCurve ?? "unknown curve";
    return `ECDSA ${CURVE_NAMES[curve] ?? curve}`;
  }
  if (key.asymmetricKeyType === "rsa") return `RSA ${details.modulusLength ?? "?"} bits`;
  return key.asymmetricKeyType ?? "unknown";
}
