// Certificates for every test of the project, generated in memory (ECDSA, so
// fast) once per test process: no PEM file is committed, so none expires.
// Dates are relative to the moment of generation: `expired` ended a day ago,
// `notYetValid` starts in a year. Also: self-removing temp dirs and `openssl verify`.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCertificateAuthority,
  createSelfSignedCertificate,
  issueClientCertificate,
  issueServerCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
} from "../../src/certs/generate.ts";

export type TestPki = {
  ca: CertificateAuthority;
  /** Signed by `ca`; SANs localhost, 127.0.0.1. */
  server: IssuedCertificate;
  /** CN=alice, signed by `ca`. */
  good: IssuedCertificate;
  /** CN=alice-old, signed by `ca`, notAfter a day ago. */
  expired: IssuedCertificate;
  /** CN=bob, signed by `ca`, notBefore a year from now. */
  notYetValid: IssuedCertificate;
  /** CN=eve, self-signed and on no list. */
  unknown: IssuedCertificate;
  /** CN=carol, self-signed; tests put its thumbprint on the allow-list. */
  selfSignedAllowed: IssuedCertificate;
  /** A second CA that the server does not trust. */
  otherCa: CertificateAuthority;
  /** CN=mallory, signed by `otherCa`. */
  signedByOtherCa: IssuedCertificate;
};

const DAY_MS = 86_400_000;
let memo: Promise<TestPki> | undefined;

/** The shared test PKI; the first call generates it, later calls reuse it. */
export function makeTestPki(): Promise<TestPki> {
  memo ??= generate();
  return memo;
}

async function generate(): Promise<TestPki> {
  const now = Date.now();
  const [ca, otherCa] = await Promise.all([
    createCertificateAuthority({ commonName: "gnp test CA" }),
    createCertificateAuthority({ commonName: "gnp other CA" }),
  ]);
  const [server, good, expired, notYetValid, unknown, selfSignedAllowed, signedByOtherCa] = await Promise.all([
    issueServerCertificate(ca, { names: ["localhost", "127.0.0.1"] }),
    issueClientCertificate(ca, { commonName: "alice" }),
    issueClientCertificate(ca, {
      commonName: "alice-old",
      notBefore: new Date(now - 30 * DAY_MS),
      notAfter: new Date(now - DAY_MS),
    }),
    issueClientCertificate(ca, {
      commonName: "bob",
      notBefore: new Date(now + 365 * DAY_MS),
      notAfter: new Date(now + 730 * DAY_MS),
    }),
    createSelfSignedCertificate({ commonName: "eve" }),
    createSelfSignedCertificate({ commonName: "carol" }),
    issueClientCertificate(otherCa, { commonName: "mallory" }),
  ]);
  return { ca, server, good, expired, notYetValid, unknown, selfSignedAllowed, otherCa, signedByOtherCa };
}

/**
 * A fresh directory under the system temp dir, removed on dispose:
 * `await using dir = await makeTempDir()`.
 */
export async function makeTempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), "gnp-test-"));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** The openssl binary, or undefined when it is not on PATH (tests then skip). */
export const OPENSSL = Bun.which("openssl") ?? undefined;

/**
 * Runs `openssl verify -CAfile <caFile> [args] <certFile>` and returns its
 * exit code and output, so tests can show openssl agrees with gnp.
 */
export function opensslVerify(caFile: string, certFile: string, args: string[] = []): { code: number; output: string } {
  const run = Bun.spawnSync([OPENSSL ?? "openssl", "verify", "-CAfile", caFile, ...args, certFile]);
  return { code: run.exitCode, output: `${run.stdout.toString()}${run.stderr.toString()}`.trim() };
}
