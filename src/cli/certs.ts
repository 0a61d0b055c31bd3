// `gnp certs`: create a small PKI (a root, intermediates), sign client certificates and CSRs,
// renew the server certificate, revoke, print thumbprints and inspect a certificate chain
// against --ca/--crl/--allow settings. Arguments and output only: the work is in src/certs.
// Exit 0 on success, 1 on failure, 2 on bad usage; every failure is one line on stderr.
import { join, resolve } from "node:path";
import { issueClientCertificate } from "../certs/generate.ts";
import { existingFiles, localPkiPaths, PKI_FILES, writeLocalPki, writePem } from "../certs/local-pki.ts";
import { thumbprints } from "../certs/thumbprint.ts";
import { formatInstant } from "../certs/validator.ts";
import { x509 } from "../certs/x509.ts";
import type { FlagSpec } from "../config/flags.ts";
import type { CliIo } from "../io.ts";
import { didYouMean } from "../wording.ts";
import type { CommandModule } from "./command.ts";
import { intermediate, INTERMEDIATE_FLAGS, renewServer, SERVER_FLAGS, sign, SIGN_FLAGS } from "./certs-authority.ts";
import {
  algorithmOf,
  DAYS,
  DEFAULT_DIR,
  caDirOf,
  DIR,
  daysOf,
  FORCE,
  HELP_FLAG,
  ISSUER,
  loadIssuer,
  parse,
  readCertificate,
  RSA,
  SAFE_FILE_NAME,
  SAN,
  single,
  thumbprintLines,
  UsageError,
} from "./certs-common.ts";
import { inspect, INSPECT_FLAGS } from "./certs-inspect.ts";
import { CRL_FLAGS, resignCrl, revoke, REVOKE_FLAGS } from "./certs-revoke.ts";

export const CERTS_USAGE = `Usage:
  gnp certs init [DIR] [--name NAME]... [--rsa] [--days DAYS] [--force]
      Create a CA, a server certificate (localhost, 127.0.0.1, ::1 and each
      --name) and the client certificate "admin" in DIR (default ./certs).
  gnp certs client NAME [--dir DIR] [--issuer INT] [--san NAME]... [--days DAYS] [--rsa] [--out PREFIX] [--force]
      Sign a client certificate CN=NAME with DIR/ca.crt and DIR/ca.key (or the
      intermediate INT) and write DIR/NAME.crt (with INT's certificate after
      its own) and DIR/NAME.key (or PREFIX.crt and PREFIX.key).
  gnp certs intermediate NAME [--dir DIR] [--path-length N] [--days DAYS] [--rsa] [--force]
      Create an intermediate CA CN=NAME under DIR/ca.crt: DIR/NAME.crt, DIR/NAME.key.
  gnp certs sign CSR [--dir DIR] [--issuer INT] [--cn NAME] [--san NAME]... [--days DAYS] [--out FILE] [--force]
      Sign a certificate signing request (PEM) for client authentication, for
      someone who keeps their own key: the subject is the CSR's (or --cn), the
      SANs are those of --san only. Writes FILE (default: CSR with .crt).
  gnp certs server [--dir DIR] [--name NAME]... [--days DAYS] [--rsa]
      Renew DIR/server.crt and DIR/server.key with the CA, keeping the CA and
      every client; the names are the old certificate's plus each --name.
  gnp certs revoke CERT... [--dir DIR] [--issuer INT] [--serial HEX]... [--days DAYS]
      Add certificates (files, or serials) to the CRL of the CA that issued
      them, DIR/ca.crl (or DIR/INT.crl), signed anew; a running gnp serve that
      reads that file (a first-run server reads DATA/pki/ca.crl) picks it up.
  gnp certs crl [--dir DIR] [--issuer INT] [--days DAYS]
      Sign the CA's CRL again with fresh dates (an empty one if there is none).
  gnp certs thumbprint FILE
      Print the SHA-1 and SHA-256 thumbprints of the certificate in FILE.
  gnp certs inspect FILE [--ca CAFILE]... [--crl CRLFILE]... [--allow THUMBPRINT]... [--server] [--config FILE] [--json]
      Describe the certificate in FILE (with the intermediates after it, as a
      client would send them) and, given --ca or --allow, whether a server with
      those settings would admit it (exit status 1 if not). With --server (or
      --config), check against the server configured here: its settings file,
      GNP_* variables and first-run CA and CRL, and show its permissions.
      --json prints the same as one JSON object.

Existing files are never replaced without --force (server and CRL files are renewed on purpose).
Exit status: 0 success, 1 failure, 2 bad usage.
`;

const INIT_FLAGS = {
  name: { type: "string", arg: "NAME", multiple: true, env: false, help: "another name for the server certificate (repeatable)" },
  rsa: RSA,
  days: DAYS,
  force: FORCE,
} as const satisfies Record<string, FlagSpec>;
const CLIENT_FLAGS = {
  dir: DIR,
  issuer: ISSUER,
  san: SAN,
  days: DAYS,
  rsa: RSA,
  out: { type: "string", arg: "PREFIX", env: false, help: "write PREFIX.crt and PREFIX.key" },
  force: FORCE,
} as const satisfies Record<string, FlagSpec>;

const COMMANDS = "init, client, intermediate, sign, server, revoke, crl, thumbprint or inspect";
const COMMAND_NAMES = ["init", "client", "intermediate", "sign", "server", "revoke", "crl", "thumbprint", "inspect"];

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
        return await inspect(rest, io, () => usage(io));
      case "intermediate":
        return await intermediate(rest, io, () => usage(io));
      case "sign":
        return await sign(rest, io, () => usage(io));
      case "server":
        return await renewServer(rest, io, () => usage(io));
      case "revoke":
        return await revoke(rest, io, () => usage(io));
      case "crl":
        return await resignCrl(rest, io, () => usage(io));
      case undefined:
        throw new UsageError(`missing command: expected ${COMMANDS} (see gnp certs --help)`);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}${didYouMean(command, COMMAND_NAMES)}: expected ${COMMANDS}`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`gnp certs${command ? ` ${command}` : ""}: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

async function init(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, INIT_FLAGS);
  if (values.help) return usage(io);
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
  if (values.help) return usage(io);
  const name = single(positionals, { what: "NAME", required: true })!;
  if (values.out === undefined && !SAFE_FILE_NAME.test(name)) {
    throw new UsageError(
      `invalid client name ${JSON.stringify(name)}: use letters, digits, ".", "_", "-" and "@", or give --out PREFIX`,
    );
  }
  const dir = caDirOf(values.dir);
  const prefix = resolve(values.out ?? join(dir, name));
  const certPath = `${prefix}.crt`;
  const keyPath = `${prefix}.key`;
  const days = daysOf(values.days);
  const existing = await existingFiles([certPath, keyPath]);
  if (existing.length > 0 && !values.force) {
    throw new Error(`refusing to overwrite ${existing[0]}: use --force to replace it`);
  }
  const issuer = await loadIssuer(dir, values.issuer);
  const issued = await issueClientCertificate(issuer.ca, { commonName: name, algorithm: algorithmOf(values.rsa), days, sans: values.san });
  const overwrite = values.force ?? false;
  // The intermediate follows the client's own certificate: a TLS client sends the file as its chain.
  await writePem(certPath, issued.certificatePem + issuer.chainPem, { mode: 0o644, overwrite });
  await writePem(keyPath, issued.privateKeyPem, { mode: 0o600, overwrite });
  const by = values.issuer === undefined ? "" : `, issued by ${issuer.ca.certificate.subject}`;
  io.stdout(
    `wrote ${certPath} and ${keyPath} (CN=${issued.commonName}${by}, valid until ${formatInstant(issued.notAfter)})\n` +
      thumbprintLines(issued),
  );
  return 0;
}

async function thumbprint(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (values.help) return usage(io);
  const der = await readCertificate(single(positionals, { what: "FILE", required: true })!);
  io.stdout(thumbprintLines(thumbprints(der)));
  return 0;
}

function usage(io: CliIo): number {
  io.stdout(CERTS_USAGE);
  return 0;
}

/** `gnp certs` for the entry point: one flag table per subcommand. */
export const CERTS_COMMAND: CommandModule = {
  run: (argv, io) => runCerts(argv, io),
  flags: HELP_FLAG,
  subcommands: {
    init: { ...INIT_FLAGS, ...HELP_FLAG },
    client: { ...CLIENT_FLAGS, ...HELP_FLAG },
    intermediate: { ...INTERMEDIATE_FLAGS, ...HELP_FLAG },
    sign: { ...SIGN_FLAGS, ...HELP_FLAG },
    server: { ...SERVER_FLAGS, ...HELP_FLAG },
    revoke: { ...REVOKE_FLAGS, ...HELP_FLAG },
    crl: { ...CRL_FLAGS, ...HELP_FLAG },
    thumbprint: HELP_FLAG,
    inspect: { ...INSPECT_FLAGS, ...HELP_FLAG },
  },
};
