// The `gnp certs` commands that grow or renew a PKI made by `gnp certs init` (or a first-run
// `gnp serve`, in DATA/pki) without touching its root: `intermediate` (a CA under the root),
// `sign` (a client certificate for a CSR whose key stays with its owner) and `server` (a new
// server certificate and key, the CA and every client kept). Arguments and output only.
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createCertificateAuthority, issueServerCertificate } from "../certs/generate.ts";
import { DEFAULT_SERVER_NAMES, existingFiles, localPkiPaths, writePem } from "../certs/local-pki.ts";
import { signRequest } from "../certs/sign-request.ts";
import { formatInstant } from "../certs/validator.ts";
import { x509 } from "../certs/x509.ts";
import type { FlagSpec } from "../config/flags.ts";
import type { CliIo } from "../io.ts";
import { systemReason } from "../wording.ts";
import {
  algorithmOf,
  DAYS,
  caDirOf,
  DIR,
  daysOf,
  FORCE,
  ISSUER,
  loadIssuer,
  parse,
  replaceFile,
  RSA,
  SAFE_FILE_NAME,
  SAN,
  single,
  thumbprintLines,
  UsageError,
} from "./certs-common.ts";

export const INTERMEDIATE_FLAGS = {
  dir: DIR,
  "path-length": { type: "string", arg: "N", env: false, help: "how many CAs may stand below this one (default: no limit)" },
  days: DAYS,
  rsa: RSA,
  force: FORCE,
} as const satisfies Record<string, FlagSpec>;
export const SIGN_FLAGS = {
  dir: DIR,
  issuer: ISSUER,
  cn: { type: "string", arg: "NAME", env: false, help: "the certificate's subject is CN=NAME instead of the request's" },
  san: SAN,
  days: DAYS,
  out: { type: "string", arg: "FILE", env: false, help: "write the certificate to FILE (default: the CSR's name with .crt)" },
  force: FORCE,
} as const satisfies Record<string, FlagSpec>;
export const SERVER_FLAGS = {
  dir: DIR,
  name: { type: "string", arg: "NAME", multiple: true, env: false, help: "another name for the server certificate (repeatable)" },
  days: DAYS,
  rsa: RSA,
} as const satisfies Record<string, FlagSpec>;

/** `gnp certs intermediate NAME`: DIR/NAME.crt and DIR/NAME.key, a CA under DIR/ca.crt. */
export async function intermediate(argv: string[], io: CliIo, usage: () => number): Promise<number> {
  const { values, positionals } = parse(argv, INTERMEDIATE_FLAGS);
  if (values.help) return usage();
  const name = single(positionals, { what: "NAME", required: true })!;
  if (!SAFE_FILE_NAME.test(name) || name === "ca" || name === "server" || name === "client") {
    throw new UsageError(`invalid intermediate name ${JSON.stringify(name)}: use letters, digits, ".", "_", "-" and "@", other than ca, server and client`);
  }
  const pathLength = values["path-length"] === undefined ? undefined : Number(values["path-length"]);
  if (pathLength !== undefined && !(Number.isInteger(pathLength) && pathLength >= 0 && pathLength <= 16)) {
    throw new UsageError(`invalid --path-length ${JSON.stringify(values["path-length"])}: expected a whole number from 0 to 16`);
  }
  const dir = caDirOf(values.dir);
  const certPath = join(resolve(dir), `${name}.crt`);
  const keyPath = join(resolve(dir), `${name}.key`);
  const existing = await existingFiles([certPath, keyPath]);
  if (existing.length > 0 && !values.force) throw new Error(`refusing to overwrite ${existing[0]}: use --force to replace it`);
  const root = await loadIssuer(dir, undefined);
  const made = await createCertificateAuthority({ commonName: name, issuer: root.ca, algorithm: algorithmOf(values.rsa), days: daysOf(values.days), pathLength });
  const overwrite = values.force ?? false;
  await writePem(keyPath, made.privateKeyPem, { mode: 0o600, overwrite });
  await writePem(certPath, made.certificatePem, { mode: 0o644, overwrite });
  io.stdout(
    `wrote ${certPath} and ${keyPath} (CN=${name}, an intermediate CA under ${root.ca.certificate.subject}, valid until ${formatInstant(made.notAfter)})\n` +
      `sign clients with it: gnp certs client NAME --dir ${dir} --issuer ${name}\n`,
  );
  return 0;
}

/** `gnp certs sign CSR`: a client certificate for the key in the request. */
export async function sign(argv: string[], io: CliIo, usage: () => number): Promise<number> {
  const { values, positionals } = parse(argv, SIGN_FLAGS);
  if (values.help) return usage();
  const csrPath = single(positionals, { what: "CSR", required: true })!;
  const out = resolve(values.out ?? `${csrPath.replace(/\.(csr|pem|req)$/i, "")}.crt`);
  if ((await existingFiles([out])).length > 0 && !values.force) throw new Error(`refusing to overwrite ${out}: use --force to replace it`);
  let csr: Uint8Array;
  try {
    csr = new Uint8Array(await readFile(csrPath));
  } catch (error) {
    throw new Error(`cannot read ${resolve(csrPath)}: ${systemReason(error)}`);
  }
  const text = new TextDecoder().decode(csr);
  const dir = caDirOf(values.dir);
  const issuer = await loadIssuer(dir, values.issuer);
  const signed = await signRequest(issuer.ca, x509.PemConverter.isPem(text) ? text : csr, { commonName: values.cn, sans: values.san, days: daysOf(values.days) });
  await writePem(out, signed.certificatePem + issuer.chainPem, { mode: 0o644, overwrite: values.force ?? false });
  const sans = values.san.length > 0 ? `, ${values.san.join(", ")}` : "";
  io.stdout(`wrote ${out} (${signed.certificate.subject || "(empty subject)"}${sans}, client authentication, valid until ${formatInstant(signed.notAfter)})\n` + thumbprintLines(signed));
  return 0;
}

/** `gnp certs server`: DIR/server.crt and DIR/server.key renewed; the CA and every client stay. */
export async function renewServer(argv: string[], io: CliIo, usage: () => number): Promise<number> {
  const { values, positionals } = parse(argv, SERVER_FLAGS);
  if (values.help) return usage();
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}: the directory is --dir`);
  const dir = caDirOf(values.dir);
  const paths = localPkiPaths(dir);
  const root = await loadIssuer(dir, undefined);
  const names = [...new Set([...(await namesOf(paths.serverCert)), ...values.name])];
  const made = await issueServerCertificate(root.ca, { names, algorithm: algorithmOf(values.rsa), days: daysOf(values.days) });
  // Key, then certificate, each by rename: a server polling them sees a new pair within one poll.
  await replaceFile(paths.serverKey, made.privateKeyPem, 0o600);
  await replaceFile(paths.serverCert, made.certificatePem, 0o644);
  io.stdout(`wrote ${paths.serverCert} and ${paths.serverKey} (${names.join(", ")}, valid until ${formatInstant(made.notAfter)}); the CA and its clients are unchanged\n`);
  return 0;
}

/** The DNS and IP names of the current server certificate, or the defaults when there is none. */
async function namesOf(path: string): Promise<string[]> {
  let pem: string;
  try {
    pem = await readFile(path, "utf8");
  } catch {
    return [...DEFAULT_SERVER_NAMES];
  }
  const names = new x509.X509Certificate(pem).getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  const kept = names.filter((name) => name.type === "dns" || name.type === "ip").map((name) => name.value);
  return kept.length > 0 ? kept : [...DEFAULT_SERVER_NAMES];
}
