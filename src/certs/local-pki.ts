// A CA, a server certificate and a first client certificate ("admin") as six
// files in one directory, so that a first run needs no configuration. Private
// keys are written with mode 0600, the directory is created with mode 0700.
// A complete directory is reused as it is; a partial one is an error.
import { chmod, mkdir, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, resolve } from "node:path";
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type CertificateAuthority,
  type IssuedCertificate,
  type KeyAlgorithm,
} from "./generate.ts";
import { PKI_FILES, localPkiPaths, type LocalPkiPaths } from "./pki-paths.ts";

export { PKI_FILES, localPkiPaths, type LocalPkiPaths };

export const DEFAULT_SERVER_NAMES: readonly string[] = ["localhost", "127.0.0.1", "::1"];
export const DEFAULT_CLIENT_NAME = "admin";

export type LocalPkiOptions = {
  /** Extra server names (DNS or IP) besides localhost, 127.0.0.1 and ::1. */
  names?: readonly string[];
  algorithm?: KeyAlgorithm;
  /** Lifetime of the server and client certificates; the CA lives 10 years. */
  days?: number;
};

/**
 * Creates the six files under `dir` on the first call and reuses them after.
 *
 * @example const pki = await ensureLocalPki(".gnp/certs") // { created: true, caCert: "/abs/.gnp/certs/ca.crt", ... }
 */
export async function ensureLocalPki(
  dir: string,
  options: LocalPkiOptions = {},
): Promise<LocalPkiPaths & { created: boolean }> {
  const paths = localPkiPaths(dir);
  if (await hasLocalPki(dir)) return { created: false, ...paths };
  await writeLocalPki(dir, options);
  return { created: true, ...paths };
}

/**
 * Whether `dir` holds the six files (true) or none of them (false); a partial directory is an
 * error, as for ensureLocalPki. Reads nothing but the directory.
 *
 * @example if (!(await hasLocalPki(".gnp/pki"))) console.log("a first run would create it");
 */
export async function hasLocalPki(dir: string): Promise<boolean> {
  const paths = localPkiPaths(dir);
  const present = await existingFiles(paths);
  if (present.length === Object.keys(PKI_FILES).length) return true;
  if (present.length > 0) {
    const missing = Object.values(paths).filter((path) => !present.includes(path));
    throw new Error(
      `incomplete certificate directory ${resolve(dir)}: missing ${missing.map((path) => basename(path)).join(", ")}; restore them or remove the others`,
    );
  }
  return false;
}

/**
 * A CA, a server certificate and the "admin" client certificate, in memory only: what
 * writeLocalPki writes, for a check that must create nothing.
 *
 * @example const { server } = await generateLocalPki(); // server.certificatePem, server.privateKeyPem
 */
export async function generateLocalPki(options: LocalPkiOptions = {}): Promise<{ ca: CertificateAuthority; server: IssuedCertificate; client: IssuedCertificate }> {
  const algorithm = options.algorithm ?? "ecdsa";
  const ca = await createCertificateAuthority({ commonName: `gnp CA ${hostname()}`.slice(0, 64), algorithm });
  const names = [...new Set([...DEFAULT_SERVER_NAMES, ...(options.names ?? [])])];
  const server = await issueServerCertificate(ca, { names, algorithm, days: options.days });
  const client = await issueClientCertificate(ca, { commonName: DEFAULT_CLIENT_NAME, algorithm, days: options.days });
  return { ca, server, client };
}

/**
 * Generates a CA, a server certificate and the "admin" client certificate and
 * writes them under `dir`. Without `overwrite`, an existing file is an error.
 *
 * @example await writeLocalPki("certs", { names: ["gnp.internal"], overwrite: true })
 */
export async function writeLocalPki(
  dir: string,
  options: LocalPkiOptions & { overwrite?: boolean } = {},
): Promise<LocalPkiPaths & { ca: CertificateAuthority; server: IssuedCertificate; client: IssuedCertificate }> {
  const paths = localPkiPaths(dir);
  const { ca, server, client } = await generateLocalPki(options);
  await mkdir(resolve(dir), { recursive: true, mode: 0o700 });
  const overwrite = options.overwrite ?? false;
  await writePem(paths.caCert, ca.certificatePem, { mode: 0o644, overwrite });
  await writePem(paths.caKey, ca.privateKeyPem, { mode: 0o600, overwrite });
  await writePem(paths.serverCert, server.certificatePem, { mode: 0o644, overwrite });
  await writePem(paths.serverKey, server.privateKeyPem, { mode: 0o600, overwrite });
  await writePem(paths.clientCert, client.certificatePem, { mode: 0o644, overwrite });
  await writePem(paths.clientKey, client.privateKeyPem, { mode: 0o600, overwrite });
  return { ...paths, ca, server, client };
}

/**
 * Writes one PEM file with `mode`. `wx` never replaces a file by accident;
 * when replacing on purpose, chmod too, since `mode` applies only on creation.
 */
export async function writePem(path: string, text: string, how: { mode: number; overwrite: boolean }): Promise<void> {
  const { mode, overwrite } = how;
  await writeFile(path, text, { mode, flag: overwrite ? "w" : "wx" });
  if (overwrite) await chmod(path, mode);
}

/** Those of `paths` that exist, in order. */
export async function existingFiles(paths: LocalPkiPaths | readonly string[]): Promise<string[]> {
  const list = Array.isArray(paths) ? (paths as readonly string[]) : Object.values(paths);
  const found = await Promise.all(
    list.map(async (path) => {
      try {
        await stat(path);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw error;
      }
    }),
  );
  return list.filter((_, index) => found[index]);
}
