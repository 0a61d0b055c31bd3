// Where the first-run certificates live: six file names under DATA/pki. A module of its own,
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
