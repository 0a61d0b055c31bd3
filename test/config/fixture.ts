// Settings files and PEM files in a fresh directory, for tests that run the real `gnp serve`
// against a gnp.toml: the test PKI's server pair and CA written out, a gnp.toml built from a
// few lines, and the command lines of `gnp serve` and `gnp reload`.

import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { IssuedCertificate } from "../../src/certs/generate.ts";
import { makeTestPki } from "../support/pki.ts";

export const CLI = resolve(import.meta.dir, "../../src/cli.ts");
export const serveCommand = (...args: string[]) => [process.execPath, CLI, "serve", ...args];
export const reloadCommand = (...args: string[]) => [process.execPath, CLI, "reload", ...args];

/** Writes server.pem, server-key.pem and ca.pem (the test PKI) into `dir`. */
export async function writeServerFiles(dir: string, server?: IssuedCertificate): Promise<void> {
  const pki = await makeTestPki();
  writeServerPair(dir, server ?? pki.server);
  writeFileSync(join(dir, "ca.pem"), pki.ca.certificatePem);
}

/** Replaces server.pem and server-key.pem in `dir`. */
export function writeServerPair(dir: string, server: IssuedCertificate): void {
  writeFileSync(join(dir, "server.pem"), server.certificatePem);
  writeFileSync(join(dir, "server-key.pem"), server.privateKeyPem, { mode: 0o600 });
}

/**
 * The settings every served test starts from: any free port, the written pair and CA, an
 * in-memory store and text logs; `extra` lines follow (top-level keys, then [[clients]]).
 */
export function baseToml(...extra: string[]): string {
  // No file polling: these tests reload by signal and must see exactly one reload per change.
  return ['port = 0', 'cert = "server.pem"', 'key = "server-key.pem"', 'ca = "ca.pem"', 'store = "memory:"', 'log-format = "text"', 'poll-interval = 0', ...extra].join("\n") + "\n";
}

export function writeToml(dir: string, text: string, name = "gnp.toml"): void {
  writeFileSync(join(dir, name), text);
}

/** A [[clients]] table. */
export function client(name: string, match: { thumbprint: string } | { subject: string }, allow: "*" | string[]): string {
  const by = "thumbprint" in match ? `thumbprint = "${match.thumbprint}"` : `subject = "${match.subject}"`;
  const commands = allow === "*" ? '"*"' : `[${allow.map((command) => JSON.stringify(command)).join(", ")}]`;
  return `[[clients]]\nname = "${name}"\n${by}\nallow = ${commands}\n`;
}
