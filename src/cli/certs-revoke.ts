// `gnp certs revoke` and `gnp certs crl`: the CRL of a CA made by `gnp certs` (the root's
// DIR/ca.crl, or DIR/NAME.crl for an intermediate), carried forward and signed anew by
// revokeCertificates (src/certs/revocation.ts), then put in place by rename. A `gnp serve`
// that reads the file (a first-run server reads DATA/pki/ca.crl) sees the change at its next
// poll, with no restart and no signal.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { revokeCertificates, type RevocationTarget } from "../certs/revocation.ts";
import { formatInstant } from "../certs/validator.ts";
import type { FlagSpec } from "../config/flags.ts";
import type { CliIo } from "../io.ts";
import { caDirOf, DAYS, DIR, daysOf, ISSUER, loadIssuer, parse, readCertificate, replaceFile, UsageError } from "./certs-common.ts";

const CRL_DAYS = { ...DAYS, help: "days until the CRL's nextUpdate, after which servers refuse the CA's clients (default 365)" } as const;
export const REVOKE_FLAGS = {
  dir: DIR,
  issuer: ISSUER,
  serial: { type: "string", arg: "HEX", multiple: true, env: false, help: "revoke by serial number, when the certificate file is lost (repeatable)" },
  days: CRL_DAYS,
} as const satisfies Record<string, FlagSpec>;
export const CRL_FLAGS = { dir: DIR, issuer: ISSUER, days: CRL_DAYS } as const satisfies Record<string, FlagSpec>;

/** `gnp certs revoke CERT...`: adds each to its CA's CRL. */
export async function revoke(argv: string[], io: CliIo, usage: () => number): Promise<number> {
  const { values, positionals } = parse(argv, REVOKE_FLAGS);
  if (values.help) return usage();
  if (positionals.length === 0 && values.serial.length === 0) throw new UsageError("missing CERT: give certificate files or --serial HEX");
  const targets: RevocationTarget[] = [...(await Promise.all(positionals.map(readCertificate))), ...values.serial.map((serial) => ({ serial }))];
  return writeCrl(targets, { dir: caDirOf(values.dir), issuer: values.issuer, days: daysOf(values.days), io });
}

/** `gnp certs crl`: the same CRL signed again with fresh dates. */
export async function resignCrl(argv: string[], io: CliIo, usage: () => number): Promise<number> {
  const { values, positionals } = parse(argv, CRL_FLAGS);
  if (values.help) return usage();
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}: to revoke a certificate, use gnp certs revoke`);
  return writeCrl([], { dir: caDirOf(values.dir), issuer: values.issuer, days: daysOf(values.days), io });
}

async function writeCrl(targets: RevocationTarget[], how: { dir: string; issuer: string | undefined; days: number | undefined; io: CliIo }): Promise<number> {
  const issuer = await loadIssuer(how.dir, how.issuer);
  const previous = await readIfPresent(issuer.crlFile);
  const crl = await revokeCertificates(issuer.ca, targets, { ...(previous ? { crl: previous } : {}), ...(how.days ? { days: how.days } : {}) });
  await replaceFile(issuer.crlFile, crl.pem, 0o644);
  const added = targets.length - crl.alreadyRevoked.length;
  const what = targets.length === 0 ? "signed" : `revoked ${added} certificate${added === 1 ? "" : "s"}${crl.alreadyRevoked.length > 0 ? ` (already revoked: 0x${crl.alreadyRevoked.join(", 0x")})` : ""} in`;
  how.io.stdout(
    `${what} ${issuer.crlFile} (CRL number ${crl.crlNumber} of ${issuer.ca.certificate.subject}, ${crl.revoked.length} revoked, next update ${formatInstant(crl.nextUpdate)})\n`,
  );
  return 0;
}

/** The CRL file as PEM text or DER bytes, or undefined when there is none yet. */
async function readIfPresent(path: string): Promise<string | Uint8Array | undefined> {
  try {
    const bytes = new Uint8Array(await readFile(path));
    return bytes[0] === 0x30 ? bytes : new TextDecoder().decode(bytes);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read ${resolve(path)}: ${(error as Error).message}`);
  }
}
