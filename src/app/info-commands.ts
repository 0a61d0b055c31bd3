// What a server says about itself and its client: WHOAMI (the client's identity, SANs and
// SPIFFE ID, thumbprints and SPKI pin, the CA that vouched for it, its permissions and the
// keys it may read and write), INFO (version, uptime, connections, commands served, store;
// a JSON body) and TIME (the server's clock, ISO 8601 UTC with milliseconds).

import { json } from "../server/request.ts";
import type { GnpServer } from "../server/server.ts";
import type { Connection } from "../server/connection.ts";
import { VERSION } from "../version.ts";
import type { DocumentStore } from "./document-store.ts";
import { after } from "./builtin-commands.ts";

/** What the server lets a connection run; "*" for everything. Set by the authorization layer. */
export type PermissionsOf = (connection: Connection) => readonly string[];

export function registerInfoCommands(
  server: GnpServer,
  store: DocumentStore,
  options: { permissionsOf?: PermissionsOf; watchers?: () => number } = {},
): GnpServer {
  const permissionsOf = options.permissionsOf ?? (() => ["*"]);
  return server
    .command("TIME", () => new Date().toISOString())
    .command("WHOAMI", (_req, conn) => {
      const certificate = conn.certificate;
      return json({
        identity: conn.identity,
        subject: certificate?.subject,
        sans: certificate?.sans,
        spiffeId: certificate?.spiffeId,
        altNames: certificate?.altNames,
        sha1: certificate?.sha1,
        sha256: certificate?.sha256,
        spki: certificate && `sha256/${Buffer.from(certificate.spki, "hex").toString("base64")}`,
        notAfter: certificate?.notAfter.toISOString(),
        admittedBy: certificate?.viaCa ? "trusted CA" : "thumbprint allow-list",
        trustedCa: certificate?.trustedCa,
        permissions: permissionsOf(conn),
        read: conn.scope("read"),
        write: conn.scope("write"),
        remoteAddress: conn.remoteAddress,
      });
    })
    .command("INFO", () => {
      const stats = server.stats();
      return after(store.info(), (storeInfo) =>
        json({
          version: VERSION,
          bun: Bun.version,
          uptimeSeconds: Math.round((Date.now() - server.metrics.startedAt) / 1000),
          connections: stats.connections,
          capacity: stats.capacity,
          commandsServed: stats.commandsServed,
          watches: options.watchers?.() ?? 0,
          store: storeInfo,
        }),
      );
    });
}
