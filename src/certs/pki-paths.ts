// Where the first-run certificates live: six file names under DATA/pki, and the CA's
// revocation list beside them once `gnp certs revoke` has written one. A module of its own,
// with no dependency beyond node:path, so `gnp call` can find the client certificate without
// loading the X.509 library (which doubles its start-up time).

import { join, resolve } from "node:path";

export const PKI_FILES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  serverCert: "server.crt",
  serverKey: "server.key",
  clientCert: "client.crt",
  clientKey: "client.key",
} as const;

export type LocalPkiPaths = { -readonly [K in keyof typeof PKI_FILES]: string };

/** The certificate directory of a data directory. */
export function pkiDir(dataDir: string): string {
  return join(dataDir, "pki");
}

/** Absolute paths of the six files under `dir`. */
export function localPkiPaths(dir: string): LocalPkiPaths {
  const base = resolve(dir);
  return {
    caCert: join(base, PKI_FILES.caCert),
    caKey: join(base, PKI_FILES.caKey),
    serverCert: join(base, PKI_FILES.serverCert),
    serverKey: join(base, PKI_FILES.serverKey),
    clientCert: join(base, PKI_FILES.clientCert),
    clientKey: join(base, PKI_FILES.clientKey),
  };
}

/** The local CA's revocation list: written by `gnp certs revoke`, read by a first-run `gnp serve` when present. */
export const LOCAL_CRL_FILE = "ca.crl";

/** The CRL file of the CA in `dir`. */
export function localCrlPath(dir: string): string {
  return join(resolve(dir), LOCAL_CRL_FILE);
}
