// Who a connection's client is: its certificate admitted or refused once the TLS handshake is
// done, and admitted again under new trust rules (setTrust) before the connection runs another
// command or receives a push. The validator's verdict carries the one ClientCertificate value
// that connection.certificate holds. An in-memory connection may be vouched for instead.

import { keepPresented, type Admission, type CertificateValidator, type PeerCertificate, type Refusal } from "../certs/validator.ts";
import type { RefusalInfo } from "./hooks.ts";

/** What a client presented at its handshake, with the subject and SANs Bun parsed from it (for refusal logs). */
export type Presented = PeerCertificate & { subject?: { CN?: string | string[] }; subjectaltname?: string };

/** Marks a slot whose client the embedding program vouched for (an in-memory connection): no rule can refuse it. */
const VOUCHED: unique symbol = Symbol("vouched");

export class Admissions {
  #validator: CertificateValidator;
  /** Bumped by setValidator; a connection admitted under an older epoch is checked again before it runs or receives anything. */
  #epoch = 0;
  /** Per slot, the epoch it was last admitted under: the slab's trustEpoch column. */
  readonly #epochs: Uint32Array;
  /** The certificate each connection presented, kept to check it again after a trust change. */
  readonly #presented: (PeerCertificate | typeof VOUCHED | undefined)[];

  constructor(validator: CertificateValidator, epochs: Uint32Array) {
    this.#validator = validator;
    this.#epochs = epochs;
    this.#presented = new Array(epochs.length);
  }

  /** Judges what the client in `slot` presented; an admitted one is remembered for later re-checks. */
  admit(slot: number, presented: Presented | null | undefined, now: number): Admission {
    const verdict = this.#validator.validate(presented, now);
    if (verdict.ok) {
      // What validate() reads, not Bun's objects with every parsed field.
      this.#presented[slot] = keepPresented(presented);
      this.#epochs[slot] = this.#epoch;
    }
    return verdict;
  }

  /** Admits the client in `slot` on the embedding program's word, under every rule to come. */
  vouch(slot: number): void {
    this.#presented[slot] = VOUCHED;
    this.#epochs[slot] = this.#epoch;
  }

  /** True when the slot was admitted under the rules in force: the hot path's one comparison. */
  isCurrent(slot: number): boolean {
    return this.#epochs[slot] === this.#epoch;
  }

  /** Checks the slot's certificate under the rules in force; the refusal when they refuse it now. */
  recheck(slot: number, now: number): Refusal | undefined {
    const presented = this.#presented[slot];
    if (presented !== VOUCHED) {
      const verdict = this.#validator.validate(presented, now);
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
    this.#presented[slot] = undefined;
  }
}

/** A refused certificate as the refuse hooks hear of it: the reason, and who was turned away. */
export function refusalInfo(refusal: Refusal, options: { presented: Presented | null | undefined; remoteAddress: string }): RefusalInfo {
  const presented = options.presented;
  return {
    code: refusal.code,
    reason: refusal.reason,
    remoteAddress: options.remoteAddress,
    identity: [presented?.subject?.CN ?? []].flat()[0] || undefined, // Node types CN as string | string[]
    sha1: presented?.fingerprint?.replaceAll(":", ""),
    sha256: presented?.fingerprint256?.replaceAll(":", ""),
    sans: presented?.subjectaltname || undefined,
  };
}
