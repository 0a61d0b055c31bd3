// Who a connection's client is: its certificate admitted or refused once the TLS handshake is
// done, and admitted again under new trust rules (setTrust) before the connection runs another
// command or receives a push. The validator's verdict carries the one ClientCertificate value
// that connection.certificate holds. An in-memory connection may be vouched for instead.
// Nothing of the certificates is kept per connection: a re-check reads them from the socket again.

import type { Admission, CertificateValidator, PeerCertificate, Refusal } from "../certs/validator.ts";
import type { RefusalInfo } from "./hooks.ts";
import { readPresented, type PresentingSocket } from "./presented-chain.ts";

/** What a client presented at its handshake, with the subject and SANs Bun parsed from it (for refusal logs). */
export type Presented = PeerCertificate & { subject?: { CN?: string | string[] }; subjectaltname?: string };

export class Admissions {
  #validator: CertificateValidator;
  /** Bumped by setValidator; a connection admitted under an older epoch is checked again before it runs or receives anything. */
  #epoch = 0;
  /** Per slot, the epoch it was last admitted under: the slab's trustEpoch column. */
  readonly #epochs: Uint32Array;
  /** Per slot, 1 when the embedding program vouched for its client (an in-memory connection): no rule can refuse it. */
  readonly #vouched: Uint8Array;

  constructor(validator: CertificateValidator, epochs: Uint32Array) {
    this.#validator = validator;
    this.#epochs = epochs;
    this.#vouched = new Uint8Array(epochs.length);
  }

  /** Judges what the client on `socket` (in `slot`) presented. */
  admit(slot: number, socket: PresentingSocket, now: number): Admission {
    const verdict = this.#validator.validate(readPresented(socket), now);
    if (verdict.ok) this.#epochs[slot] = this.#epoch;
    return verdict;
  }

  /** Admits the client in `slot` on the embedding program's word, under every rule to come. */
  vouch(slot: number): void {
    this.#vouched[slot] = 1;
    this.#epochs[slot] = this.#epoch;
  }

  /** True when the slot was admitted under the rules in force: the hot path's one comparison. */
  isCurrent(slot: number): boolean {
    return this.#epochs[slot] === this.#epoch;
  }

  /**
   * Checks the certificates the client on `socket` (in `slot`) presented under the rules in force;
   * the refusal when they refuse it now. Read from the socket again rather than kept: what a
   * trust change costs in reading beats holding the certificates for every connection's life.
   */
  recheck(slot: number, socket: PresentingSocket, now: number): Refusal | undefined {
    if (this.#vouched[slot] === 0) {
      const verdict = this.#validator.validate(readPresented(socket), now);
      if (!verdict.ok) return verdict;
    }
    this.#epochs[slot] = this.#epoch;
    return undefined;
  }

  /** New trust rules: every connection is checked again (see recheck). */
  setValidator(validator: CertificateValidator): void {
    this.#validator = validator;
    this.#epoch = (this.#epoch + 1) >>> 0;
  }

  /** The slot's connection closed. */
  forget(slot: number): void {
    this.#vouched[slot] = 0;
  }
}

/** The socket a refused client is on, as refusalInfo reads it. */
export type RefusedSocket = { readonly remoteAddress: string; getPeerCertificate(abbreviated: boolean): Presented | null | undefined };

/**
 * A refused certificate as the refuse hooks hear of it: the reason, and who was turned away.
 * Bun's parsed leaf names them; what the TLS library keeps for that read ends with the
 * refused connection.
 */
export function refusalInfo(refusal: Refusal, socket: RefusedSocket): RefusalInfo {
  const presented = socket.getPeerCertificate(true);
  return {
    code: refusal.code,
    reason: refusal.reason,
    remoteAddress: socket.remoteAddress,
    identity: [presented?.subject?.CN ?? []].flat()[0] || undefined, // Node types CN as string | string[]
    sha1: presented?.fingerprint?.replaceAll(":", ""),
    sha256: presented?.fingerprint256?.replaceAll(":", ""),
    sans: presented?.subjectaltname || undefined,
  };
}
