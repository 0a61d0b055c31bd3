// From resolved `gnp serve` settings and the TLS material they name to the TrustConfig a server
// starts or reloads with, checked in full: the key matches the certificate, the certificate is
// in its validity (a warning within 14 days of expiry), subject rules have a CA to vouch for
// them, and on reload, settings that only a restart can change are named in a warning.

import { checkServerCertificate } from "../config/server-certificate.ts";
import type { TrustConfig } from "../config/reload.ts";
import { checkKeyPair } from "../options.ts";
import { CliFailure } from "./io.ts";
import { admissionSettings, settingValue, type ServeConfig } from "./serve-config.ts";
import type { ServeSettings } from "./serve-options.ts";

/** Settings a reload applies; every other change waits for a restart. */
const RELOADABLE = new Set(["cert", "key", "ca", "allow"]);

export type TlsMaterialLike = { cert: string; key: string; trustedCas: readonly string[] };

/**
 * The trust to run with. `running` (on reload) is the settings the server started with.
 * Throws CliFailure with one line on a mistake.
 *
 * @example const trust = trustConfigOf(config, await loadTls(admissionSettings(config), io));
 */
export function trustConfigOf(config: ServeConfig, tls: TlsMaterialLike, running?: ServeSettings): TrustConfig {
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
      if (JSON.stringify(settingValue(running, name)) !== JSON.stringify(settingValue(config.settings, name))) {
        warnings.push(`${name} changed; it takes effect at the next restart`);
      }
    }
  }
  return Object.freeze({
    tls: Object.freeze({ cert: tls.cert, key: tls.key }),
    allow: Object.freeze([...admissionSettings(config).allow]),
    trustedCas: Object.freeze([...tls.trustedCas]),
    clients: config.clients,
    warnings: Object.freeze(warnings),
  });
}
