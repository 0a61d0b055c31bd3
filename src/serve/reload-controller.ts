// Reloading a running server's trust without downtime: the allow-list, the trusted CAs and
// their CRLs, the chain limits, the [[clients]] permissions (commands and keys) and the
// server certificate and key. A new configuration is prepared
// and checked in full before anything changes; one with a mistake is refused whole and the
// old one stays. New connections see the new state at once; established ones are re-checked
// at their next command (GnpServer.setTrust) and keep their TLS session (setTlsCertificate).

import type { TrustPolicy } from "../certs/trust-policy.ts";
import { CertificateValidator } from "../certs/validator.ts";
import { describe } from "../wording.ts";
import type { Connection } from "../server/connection.ts";
import type { GnpServer } from "../server/server.ts";
import type { ClientRules } from "../config/client-rules.ts";

/** Everything a reload may change. */
export type TrustConfig = Readonly<{
  tls: Readonly<{ cert: string; key: string }>;
  /** Who may connect: passed intact to the server's setTrust. */
  trust: TrustPolicy;
  clients: ClientRules;
  /** Worth a log line but not a refusal: a certificate near expiry, a setting that needs a restart. */
  warnings: readonly string[];
  /** The files all this was read from: a change to one of them reloads (file-polling.ts). */
  files: readonly string[];
}>;

export type ReloadOutcome =
  | { ok: true; generation: number; changed: string[]; warnings: readonly string[] }
  | { ok: false; generation: number; reason: string };

/**
 * Holds the trust a server runs with and replaces it on reload().
 *
 * @example
 * const trust = ReloadController.attach(server, { initial, prepare: () => prepareTrust(argv) });
 * process.on("SIGHUP", () => void trust.reload().then(log));
 */
export class ReloadController {
  readonly #server: GnpServer;
  readonly #prepare: () => Promise<TrustConfig>;
  #current: TrustConfig;
  #generation = 0;
  /** The reload running now; a reload asked for meanwhile runs once after it, not alongside. */
  #running: Promise<ReloadOutcome> | undefined;
  #queued: Promise<ReloadOutcome> | undefined;

  private constructor(server: GnpServer, trust: { initial: TrustConfig; prepare: () => Promise<TrustConfig> }) {
    this.#server = server;
    this.#current = trust.initial;
    this.#prepare = trust.prepare;
  }

  /** Installs `initial`'s permissions on a server created with its allow-list, CAs and certificate. */
  static attach(server: GnpServer, trust: { initial: TrustConfig; prepare: () => Promise<TrustConfig> }): ReloadController {
    const { initial, prepare } = trust;
    server.authorize(initial.clients.isEmpty ? undefined : initial.clients.authorizer);
    server.scopeKeys(initial.clients.scopesKeys ? initial.clients.keyScopes : undefined);
    return new ReloadController(server, trust);
  }

  get current(): TrustConfig {
    return this.#current;
  }

  /** How many reloads were applied. */
  get generation(): number {
    return this.#generation;
  }

  /** For WHOAMI: always the permissions of the configuration in effect now. */
  readonly permissionsOf = (connection: Connection): readonly string[] => this.#current.clients.permissionsOf(connection);

  /** Prepares and applies a new configuration; never rejects (a refusal is an outcome). */
  reload(): Promise<ReloadOutcome> {
    if (this.#running === undefined) {
      this.#running = this.#reloadOnce().finally(() => (this.#running = undefined));
      return this.#running;
    }
    // Files may have changed again since the running reload read them: read once more after it.
    this.#queued ??= this.#running.then(() => {
      this.#queued = undefined;
      return this.reload();
    });
    return this.#queued;
  }

  async #reloadOnce(): Promise<ReloadOutcome> {
    let next: TrustConfig;
    try {
      next = await this.#prepare();
      // Built only to check the rules (CA certificates, thumbprints) before anything changes.
      new CertificateValidator(next.trust, { cacheSize: 0 });
    } catch (error) {
      return { ok: false, generation: this.#generation, reason: describe(error) };
    }
    const current = this.#current;
    const changed: string[] = [];
    const tlsChanged = next.tls.cert !== current.tls.cert || next.tls.key !== current.tls.key;
    if (tlsChanged) {
      // First, because it is the one step that can still fail (binding the new listener);
      // when it does, nothing has changed yet.
      try {
        this.#server.setTlsCertificate(next.tls);
      } catch (error) {
        return { ok: false, generation: this.#generation, reason: describe(error) };
      }
      changed.push("server certificate");
    }
    const allowChanged = !sameList(next.trust.allow, current.trust.allow);
    const casChanged = !sameList(next.trust.trustedCas, current.trust.trustedCas);
    const crlsChanged = !sameCrls(next.trust, current.trust);
    const limitsChanged = next.trust.maxChainDepth !== current.trust.maxChainDepth || next.trust.maxPresentedCertificates !== current.trust.maxPresentedCertificates;
    // Unchanged rules keep the validator and its warm cache; changed ones re-check every
    // established connection at once (a watcher is cut off before its next push) and every
    // other one at its next command. A CRL alone goes the same way as a new CA.
    if (allowChanged || casChanged || crlsChanged || limitsChanged) this.#server.setTrust(next.trust);
    if (allowChanged) changed.push("allow-list");
    if (casChanged) changed.push("trusted CAs");
    if (crlsChanged) changed.push("CRLs");
    if (limitsChanged) changed.push("chain limits");
    if (JSON.stringify(next.clients.rules) !== JSON.stringify(current.clients.rules)) changed.push("clients");
    // Always installed: even identical rules are a new object, and the old one must not outlive it.
    this.#server.authorize(next.clients.isEmpty ? undefined : next.clients.authorizer);
    this.#server.scopeKeys(next.clients.scopesKeys ? next.clients.keyScopes : undefined);
    this.#current = next;
    this.#generation++;
    return { ok: true, generation: this.#generation, changed, warnings: next.warnings };
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/** Same CRL bytes in the same order, and the same stale-CRL rule. */
function sameCrls(a: TrustPolicy, b: TrustPolicy): boolean {
  const left = (a.crls ?? []).map(bytesOf);
  const right = (b.crls ?? []).map(bytesOf);
  if ((a.allowStaleCrls ?? false) !== (b.allowStaleCrls ?? false) || left.length !== right.length) return false;
  return left.every((crl, index) => crl.equals(right[index]!));
}

function bytesOf(crl: string | Uint8Array): Buffer {
  return typeof crl === "string" ? Buffer.from(crl) : Buffer.from(crl.buffer, crl.byteOffset, crl.byteLength);
}
