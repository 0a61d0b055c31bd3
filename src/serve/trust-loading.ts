// From resolved `gnp serve` settings to the TLS material they name (the certificate files, or
// on a first run a local CA, server and admin client certificate created once under DATA/pki)
// and to the TrustConfig a server starts or reloads with, checked in full: the key matches the
// certificate, the certificate is in its validity (a warning within 14 days of expiry), subject
// rules have a CA to vouch for them, and on reload, settings only a restart changes are named.

import { ensureLocalPki } from "../certs/local-pki.ts";
import { pkiDir } from "../certs/pki-paths.ts";
import { admissionSettings, settingValue, type ServeConfig } from "../config/serve-config.ts";
import { readPemFile } from "../config/pem-file.ts";
import { DEFAULT_DATA_DIR, type ServeSettings } from "../config/serve-flags.ts";
import { CliFailure, type CliIo } from "../io.ts";
import { checkKeyPair, DEFAULT_HOST, DEFAULT_PORT } from "../options.ts";
import { describe, formatHostPort } from "../wording.ts";
import type { TrustConfig } from "./reload-controller.ts";
import { checkServerCertificate } from "./server-certificate.ts";

/** Settings a reload applies; every other change waits for a restart. */
const RELOADABLE = new Set(["cert", "key", "ca", "allow"]);

/** The server's pair and the CAs it trusts; `hint` (first run only) says how to connect. */
export type TlsMaterial = { cert: string; key: string; trustedCas: string[]; hint: string | undefined };

/**
 * The trust to run with. `running` (on reload) is the configuration the server started with.
 * Throws CliFailure with one line on a mistake.
 *
 * @example const trust = trustConfigOf(config, await loadTls(admissionSettings(config), io));
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
  const bySubject = config.clients.subjectRules[0];
  if (bySubject !== undefined && tls.trustedCas.length === 0) {
    throw new CliFailure(`${config.file?.path}: client ${JSON.stringify(bySubject.name)} matches by subject, but no trusted CA is configured (ca): only a CA vouches for a subject`);
  }
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
    trust: Object.freeze({ allow: Object.freeze([...admissionSettings(config).allow]), trustedCas: Object.freeze([...tls.trustedCas]) }),
    clients: config.clients,
    warnings: Object.freeze(warnings),
  });
}

/**
 * Reads the certificate files the settings name, or, with none named, creates (once) and
 * reads the local PKI under DATA/pki. Throws CliFailure with one line on a mistake.
 */
export async function loadTls(settings: ServeSettings, io: CliIo): Promise<TlsMaterial> {
  const trustedCas = settings.caFiles.map((file) => readPemFile("ca", file));
  if (settings.certFile !== undefined || settings.keyFile !== undefined) {
    if (settings.certFile === undefined) throw new CliFailure("--key was given without --cert");
    if (settings.keyFile === undefined) throw new CliFailure("--cert was given without --key");
    if (trustedCas.length === 0 && settings.allow.length === 0) {
      throw new CliFailure("no client could ever be admitted: give --ca FILE or --allow THUMBPRINT");
    }
    return { cert: readPemFile("cert", settings.certFile), key: readPemFile("key", settings.keyFile), trustedCas, hint: undefined };
  }
  // First run with nothing configured: a local CA of our own, trusted, and an admin client.
  const dir = pkiDir(settings.dataDir);
  let pki;
  try {
    pki = await ensureLocalPki(dir);
  } catch (error) {
    throw new CliFailure(`cannot prepare certificates in ${dir}: ${describe(error)}`);
  }
  if (pki.created) io.stdout(`created a local CA, a server certificate and an admin client certificate in ${dir}\n`);
  const host = settings.host === "0.0.0.0" || settings.host === "::" ? "127.0.0.1" : settings.host;
  const callFlags =
    (settings.dataDir === DEFAULT_DATA_DIR ? "" : ` --data ${settings.dataDir}`) +
    (settings.port === DEFAULT_PORT ? "" : " --port PORT") +
    (host === DEFAULT_HOST ? "" : ` --host ${host}`);
  const target = formatHostPort(host, "PORT");
  const hint =
    `connect:\n` +
    `  gnp call PING${callFlags}\n` +
    `  openssl s_client -connect ${target} -cert ${pki.clientCert} -key ${pki.clientKey} -CAfile ${pki.caCert} -crlf -quiet\n`;
  return {
    cert: readPemFile("cert", pki.serverCert),
    key: readPemFile("key", pki.serverKey),
    trustedCas: [...trustedCas, readPemFile("ca", pki.caCert)],
    hint,
  };
}
