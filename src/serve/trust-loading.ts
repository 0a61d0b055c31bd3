// From resolved `gnp serve` settings to the TLS material they name (the certificate files, or
// on a first run a local CA, server and admin client certificate created once under DATA/pki,
// with the CA's CRL there once one is written) and to the TrustConfig a server starts or
// reloads with, checked in full: the key matches the certificate, the certificate is in its
// validity (a warning within 14 days of expiry), each CRL is signed by a trusted CA (named by
// its file), subject rules have a CA to vouch for them, and on reload, settings only a restart
// changes are named. It also lists the files whose change reloads the trust.

import { existsSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { ensureLocalPki, generateLocalPki, hasLocalPki, localPkiPaths } from "../certs/local-pki.ts";
import { localCrlPath, pkiDir } from "../certs/pki-paths.ts";
import type { TrustPolicy } from "../certs/trust-policy.ts";
import { CertificateValidator, formatInstant } from "../certs/validator.ts";
import { admissionSettings, originOf, settingValue, type ServeConfig } from "../config/serve-config.ts";
import { describeFileError, whyCannotCreate } from "../config/file-errors.ts";
import { readPemFile, readSettingBytes } from "../config/pem-file.ts";
import { DEFAULT_DATA_DIR } from "../config/serve-flags.ts";
import { CliFailure } from "../io.ts";
import { checkKeyPair, DEFAULT_HOST, DEFAULT_PORT } from "../options.ts";
import { describe, formatHostPort } from "../wording.ts";
import type { ServeBanner } from "./banner.ts";
import type { TrustConfig } from "./reload-controller.ts";
import { checkServerCertificate } from "./server-certificate.ts";

/** Settings a reload applies; every other change waits for a restart. */
const RELOADABLE = new Set(["cert", "key", "ca", "allow", "crl", "allow-stale-crl", "max-chain-depth", "max-presented-certificates"]);

/** A CRL as read, with the file it came from (messages name it). */
export type CrlFile = { path: string; bytes: Uint8Array };

/**
 * The server's pair, the CAs it trusts and their CRLs; `files`, every file these were read
 * from (and the local CA's CRL, present or not), for the poll that reloads on a change; `hint`
 * (first run only) says how to connect. `firstRun` says what became of the first-run
 * certificates under DATA/pki, when they are used.
 */
export type TlsMaterial = {
  cert: string;
  key: string;
  trustedCas: string[];
  crls: CrlFile[];
  files: string[];
  hint: string | undefined;
  firstRun?: "created" | "reused" | "would create";
};

/**
 * The trust to run with. `running` (on reload) is the configuration the server started with.
 * Throws CliFailure with one line on a mistake.
 *
 * @example const trust = trustConfigOf(config, await loadTls(config, banner));
 */
export function trustConfigOf(config: ServeConfig, tls: TlsMaterial, reload: { running?: ServeConfig } = {}): TrustConfig {
  const running = reload.running;
  const warnings: string[] = [];
  try {
    checkKeyPair(tls.cert, tls.key);
    const check = checkServerCertificate(tls.cert);
    if (check.warning !== undefined) warnings.push(check.warning);
  } catch (error) {
    throw new CliFailure((error as Error).message);
  }
  const byCa = config.clients.caRules[0];
  if (byCa !== undefined && tls.trustedCas.length === 0) {
    const what = byCa.match.by === "subject" ? "a subject" : "a SAN";
    throw new CliFailure(`${config.file?.path}: client ${JSON.stringify(byCa.name)} matches by ${byCa.match.by}, but no trusted CA is configured (ca): only a CA vouches for ${what}`);
  }
  const settings = admissionSettings(config);
  const trust: TrustPolicy = Object.freeze({
    allow: Object.freeze([...settings.allow]),
    trustedCas: Object.freeze([...tls.trustedCas]),
    crls: Object.freeze(tls.crls.map((crl) => crl.bytes)),
    allowStaleCrls: settings.allowStaleCrls,
    maxChainDepth: settings.maxChainDepth,
    maxPresentedCertificates: settings.maxPresentedCertificates,
  });
  checkCrls(trust, tls.crls);
  warnings.push(...crlWarnings(trust));
  if (running !== undefined) {
    for (const name of Object.keys(config.sources)) {
      if (RELOADABLE.has(name)) continue;
      if (JSON.stringify(settingValue(running, name)) !== JSON.stringify(settingValue(config, name))) {
        warnings.push(`${name} changed; it takes effect at the next restart`);
      }
    }
  }
  return Object.freeze({
    tls: Object.freeze({ cert: tls.cert, key: tls.key }),
    trust,
    clients: config.clients,
    warnings: Object.freeze(warnings),
    files: Object.freeze([...tls.files]),
  });
}

/** A CRL that warns when it is this close to its nextUpdate: time for its CA to sign the next. */
const CRL_WARNING_DAYS = 7;

/** What an operator should hear about the CRLs in use: one stale, or about to be. */
function crlWarnings(trust: TrustPolicy, now: number = Date.now()): string[] {
  if ((trust.crls ?? []).length === 0) return [];
  return new CertificateValidator(trust, { cacheSize: 0 }).crlStatus(now).flatMap((crl) => {
    if (crl.nextUpdate === undefined) return [];
    const when = formatInstant(crl.nextUpdate);
    if (crl.stale) {
      const then = trust.allowStaleCrls ? "its clients are admitted with a warning (allow-stale-crl)" : "its clients are refused until a current one is loaded";
      return [now < crl.thisUpdate.getTime() ? `the CRL of ${crl.issuer} is not valid before ${formatInstant(crl.thisUpdate)}: ${then}` : `the CRL of ${crl.issuer} is stale (its nextUpdate was ${when}): ${then}`];
    }
    return crl.nextUpdate.getTime() - now < CRL_WARNING_DAYS * 86_400_000 ? [`the CRL of ${crl.issuer} goes stale at ${when}: its CA should sign the next one before then`] : [];
  });
}

/**
 * Each CRL on its own against the trusted CAs, so that a mistake names its file: one that does
 * not parse, or that no trusted CA signed. Throws CliFailure.
 */
function checkCrls(trust: TrustPolicy, crls: readonly CrlFile[]): void {
  if (crls.length > 0 && trust.trustedCas.length === 0) {
    throw new CliFailure(`--crl ${crls[0]!.path}: a CRL needs the trusted CA that signed it (--ca)`);
  }
  for (const crl of crls) {
    try {
      new CertificateValidator({ allow: [], trustedCas: trust.trustedCas, crls: [crl.bytes] }, { cacheSize: 0 });
    } catch (error) {
      throw new CliFailure(`--crl ${crl.path}: ${describe(error)}`);
    }
  }
}

/**
 * Reads the certificate files the configuration names, or, with none named, creates (once)
 * and reads the local PKI under DATA/pki. Throws CliFailure with one line on a mistake, which
 * names each file's setting as the user wrote it (GNP_CA in a container, not --ca). With
 * `create: false` (a check) a missing DATA/pki is not created: its directory must be
 * creatable, and a throwaway pair made in memory stands in for it.
 */
export async function loadTls(config: ServeConfig, banner: ServeBanner, how: { create?: boolean } = {}): Promise<TlsMaterial> {
  // Listing a client in [[clients]] by thumbprint admits it: its thumbprint joins the allow-list.
  const settings = admissionSettings(config);
  const trustedCas = settings.caFiles.map((file) => readPemFile(originOf(config, "ca"), file));
  const crls = settings.crlFiles.map((path) => ({ path, bytes: readSettingBytes(originOf(config, "crl"), path) }));
  const files = [...settings.caFiles, ...settings.crlFiles];
  if (settings.certFile !== undefined || settings.keyFile !== undefined) {
    if (settings.certFile === undefined) throw new CliFailure("--key was given without --cert");
    if (settings.keyFile === undefined) throw new CliFailure("--cert was given without --key");
    if (trustedCas.length === 0 && settings.allow.length === 0) {
      throw new CliFailure("no client could ever be admitted: give --ca FILE or --allow THUMBPRINT");
    }
    const cert = readPemFile(originOf(config, "cert"), settings.certFile);
    const key = readPemFile(originOf(config, "key"), settings.keyFile);
    return { cert, key, trustedCas, crls, files: [settings.certFile, settings.keyFile, ...files], hint: undefined };
  }
  // First run with nothing configured: a local CA of our own, trusted, and an admin client.
  const dir = pkiDir(settings.dataDir);
  let pki;
  try {
    if (how.create === false && !(await hasLocalPki(dir))) {
      const why = whyCannotCreate(dir);
      if (why !== undefined) throw new CliFailure(`cannot prepare certificates in ${dir}: ${why}`);
      const made = await generateLocalPki();
      const paths = localPkiPaths(dir);
      return {
        cert: made.server.certificatePem,
        key: made.server.privateKeyPem,
        trustedCas: [...trustedCas, made.ca.certificatePem],
        crls,
        files: [paths.serverCert, paths.serverKey, paths.caCert, localCrlPath(dir), ...files],
        hint: undefined,
        firstRun: "would create",
      };
    }
    pki = how.create === false ? { ...localPkiPaths(dir), created: false } : await ensureLocalPki(dir);
  } catch (error) {
    if (error instanceof CliFailure) throw error;
    // A file error names the path it failed on; a data volume owned by another uid is the usual cause.
    const path = (error as { path?: string }).path;
    const why = path === undefined ? describe(error) : `${resolve(path) === resolve(dir) ? "" : `${path}: `}${describeFileError(error, path)}`;
    throw new CliFailure(`cannot prepare certificates in ${dir}: ${why}`);
  }
  if (pki.created) {
    banner.say(`created a local CA, a server certificate and an admin client certificate in ${dir}\n`, {
      event: "created certificates",
      fields: { dir, ca: pki.caCert, client_cert: pki.clientCert, client_key: pki.clientKey },
    });
  }
  const host = settings.host === "0.0.0.0" || settings.host === "::" ? "127.0.0.1" : settings.host;
  const callFlags =
    (settings.dataDir === DEFAULT_DATA_DIR ? "" : ` --data ${settings.dataDir}`) +
    (settings.port === DEFAULT_PORT ? "" : " --port PORT") +
    (host === DEFAULT_HOST ? "" : ` --host ${host}`);
  const target = formatHostPort(host, "PORT");
  const hint =
    `connect:\n` +
    `  ${gnpCommand()} call PING${callFlags}\n` +
    `  openssl s_client -connect ${target} -cert ${pki.clientCert} -key ${pki.clientKey} -CAfile ${pki.caCert} -crlf -quiet\n`;
  // The local CA's CRL, once `gnp certs revoke` has written one; watched before it exists.
  const localCrl = localCrlPath(dir);
  if (existsSync(localCrl)) crls.push({ path: localCrl, bytes: readSettingBytes("first-run CRL", localCrl) });
  return {
    cert: readPemFile("first-run server certificate", pki.serverCert),
    key: readPemFile("first-run server key", pki.serverKey),
    trustedCas: [...trustedCas, readPemFile("first-run CA", pki.caCert)],
    crls,
    files: [pki.serverCert, pki.serverKey, pki.caCert, localCrl, ...files],
    hint,
    firstRun: pki.created ? "created" : "reused",
  };
}

/**
 * How a person in this directory runs the gnp that is running now, for the connect hint:
 * `gnp` when that is on PATH, else the executable's path, else (from a checkout, where npm
 * brought Bun and put no gnp on PATH) `npx gnp` inside the checkout and the checkout's own
 * Bun and cli.ts outside it.
 */
export function gnpCommand(): string {
  const compiled = Bun.main.startsWith("/$bunfs/") || /^[A-Z]:[\\/]~BUN[\\/]/.test(Bun.main);
  const self = compiled ? process.execPath : Bun.main;
  const onPath = Bun.which("gnp");
  if (onPath !== null && realPath(onPath) === realPath(self)) return "gnp";
  if (compiled) return process.execPath;
  const checkout = resolve(dirname(Bun.main), "..");
  const inside = relative(checkout, process.cwd());
  if (!inside.startsWith("..") && !isAbsolute(inside)) return "npx gnp";
  const bun = join(checkout, "node_modules", ".bin", "bun");
  return `${existsSync(bun) ? bun : "bun"} ${Bun.main}`;
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
