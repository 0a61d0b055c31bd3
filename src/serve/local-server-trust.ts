// "Would this server admit it?": the trust a `gnp serve` started here would run with, read the
// way it reads it (the settings file, GNP_* variables, and the first-run CA and its CRL under
// DATA/pki when no certificate is configured), for `gnp certs inspect FILE --server`. It reads; it creates
// nothing.

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { localCrlPath, localPkiPaths, pkiDir } from "../certs/pki-paths.ts";
import type { TrustPolicy } from "../certs/trust-policy.ts";
import type { ClientRules } from "../config/client-rules.ts";
import { admissionSettings, originOf, resolveServeConfig } from "../config/serve-config.ts";
import { readPemFile, readSettingBytes } from "../config/pem-file.ts";
import { CliFailure } from "../io.ts";

export type LocalServerTrust = { trust: TrustPolicy; clients: ClientRules; source: string };

/**
 * The allow-list, trusted CAs and [[clients]] of the server configured in `cwd`.
 *
 * @example const trust = loadLocalServerTrust(undefined, { env: process.env }); // from ./gnp.toml, GNP_*, .gnp/pki
 */
export function loadLocalServerTrust(configFile: string | undefined, where: { env: Record<string, string | undefined>; cwd?: string }): LocalServerTrust {
  const { env, cwd = process.cwd() } = where;
  const config = resolveServeConfig(configFile === undefined ? [] : ["--config", configFile], { env, cwd });
  const settings = admissionSettings(config);
  const trustedCas = settings.caFiles.map((file) => readPemFile(originOf(config, "ca"), resolve(cwd, file)));
  const crls = settings.crlFiles.map((file) => readSettingBytes(originOf(config, "crl"), resolve(cwd, file)));
  const sources = [config.file ? config.file.path : "", Object.values(config.sources).some((s) => s.kind === "env") ? "GNP_* variables" : ""];
  if (settings.certFile === undefined) {
    // A first-run server trusts the CA it created, if it has created one.
    const dir = pkiDir(resolve(cwd, settings.dataDir));
    const ca = localPkiPaths(dir).caCert;
    if (existsSync(ca)) {
      trustedCas.push(readFileSync(ca, "utf8"));
      sources.push(ca);
    }
    // And its CRL, once `gnp certs revoke` has written one.
    const crl = localCrlPath(dir);
    if (existsSync(crl)) {
      crls.push(readSettingBytes("first-run CRL", crl));
      sources.push(crl);
    }
  }
  if (trustedCas.length === 0 && settings.allow.length === 0) {
    throw new CliFailure("no server settings here to check against: no gnp.toml, GNP_CA/GNP_ALLOW or first-run CA; give --ca or --allow", 1);
  }
  const trust = {
    allow: settings.allow,
    trustedCas,
    crls,
    allowStaleCrls: settings.allowStaleCrls,
    maxChainDepth: settings.maxChainDepth,
    maxPresentedCertificates: settings.maxPresentedCertificates,
  };
  return { trust, clients: config.clients, source: sources.filter(Boolean).join(", ") || "defaults" };
}
