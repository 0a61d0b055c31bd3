// The trust metrics of /metrics, from a real server over TLS: revocation refusals by reason
// and by connection (refused at admission, or cut when a CRL changed), each CRL's nextUpdate,
// the server certificate's expiry, and per trusted CA the earliest expiry among the client
// certificates connected now; plus the log warning for a client certificate about to expire.
import { describe, expect, test } from "bun:test";
import { Logger } from "../../src/ops/logger.ts";
import { takeSnapshot } from "../../src/ops/metrics-snapshot.ts";
import { renderPrometheus } from "../../src/ops/prometheus.ts";
import { logServerEvents } from "../../src/ops/server-log.ts";
import type { GnpServer } from "../../src/server/server.ts";
import { forgeCa, forgeCrl, forgeLeaf, type Forged } from "../support/chains.ts";
import { RawClient, connectAdmitted, startServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { okReply, request } from "../support/wire.ts";
import { parseExposition, valueOf } from "./exposition.ts";

const DAY_MS = 86_400_000;
const pki = await makeTestPki();
const root = await forgeCa("Metrics Root");
const other = await forgeCa("Other Root");
const [soon, later, revoked, elsewhere] = await Promise.all([
  forgeLeaf("soon", root, { validToDays: 3 }),
  forgeLeaf("later", root, { validToDays: 90 }),
  forgeLeaf("revoked", root),
  forgeLeaf("elsewhere", other, { validToDays: 30 }),
]);
const nextUpdate = new Date(Math.floor((Date.now() + 20 * DAY_MS) / 1000) * 1000);
const crl = await forgeCrl(root, { revoked: [{ serial: revoked.serial }], nextUpdate });
const pem = (cert: Forged) => ({ cert: cert.pem, key: cert.keyPem, ca: pki.ca.certificatePem });
const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

function scrape(server: GnpServer) {
  return parseExposition(renderPrometheus(takeSnapshot(server), { nowMs: Date.now(), version: "test", ready: true, draining: false }));
}

describe("trust metrics", () => {
  test("revocation refusals by reason and connection, and each CRL's nextUpdate", async () => {
    const { promise: cut, resolve: onClose } = Promise.withResolvers<void>();
    await using server = await startServer({ trustedCas: [root.pem], crls: [crl.pem], allow: [] }, (s) => s.command("PING", () => "PONG").on("close", () => onClose()));
    await using refused = await RawClient.connect({ port: server.port, pem: pem(revoked) });
    await refused.untilClosed();
    await using established = await connectAdmitted(server.port, { pem: pem(later) });
    server.setTrust({ allow: [], trustedCas: [root.pem], crls: [(await forgeCrl(root, { revoked: [{ serial: revoked.serial }, { serial: later.serial }], nextUpdate })).pem] });
    await established.untilClosed();
    await cut;
    const exposition = scrape(server);
    expect([
      valueOf(exposition, "gnp_revocation_refusals_total", { reason: "CERT_REVOKED", connection: "new" }),
      valueOf(exposition, "gnp_revocation_refusals_total", { reason: "CERT_REVOKED", connection: "established" }),
      valueOf(exposition, "gnp_revocation_refusals_total", { reason: "CRL_STALE", connection: "new" }),
      valueOf(exposition, "gnp_crl_next_update_timestamp_seconds", { issuer: "CN=Metrics Root" }),
    ]).toEqual([1, 1, 0, seconds(nextUpdate)]);
  });

  test("the server certificate's expiry, and per CA the earliest expiry of the clients connected now", async () => {
    const { promise: left, resolve: onClose } = Promise.withResolvers<void>();
    await using server = await startServer({ trustedCas: [root.pem, other.pem], allow: [] }, (s) => s.on("close", () => onClose()));
    expect(valueOf(scrape(server), "gnp_server_certificate_expiry_timestamp_seconds", { subject: "CN=localhost" })).toBe(seconds(pki.server.notAfter));
    await using a = await connectAdmitted(server.port, { pem: pem(later) });
    const s = await connectAdmitted(server.port, { pem: pem(soon) });
    await using e = await connectAdmitted(server.port, { pem: pem(elsewhere) });
    const earliest = (ca: string) => valueOf(scrape(server), "gnp_client_certificate_earliest_expiry_timestamp_seconds", { ca });
    expect([earliest("CN=Metrics Root"), earliest("CN=Other Root")]).toEqual([seconds(soon.cert.notAfter), seconds(elsewhere.cert.notAfter)]);
    s.close();
    await left;
    expect(earliest("CN=Metrics Root")).toBe(seconds(later.cert.notAfter));
  });

  test("a client certificate that expires within 7 days is a log warning once a day, not at every connection", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = new Logger({ format: "json", write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    await using server = await startServer({ trustedCas: [root.pem], allow: [] }, (s) => logServerEvents(s.command("PING", () => "PONG"), logger));
    for (const cert of [soon, soon, later]) {
      await using client = await connectAdmitted(server.port, { pem: pem(cert) });
      client.write(request("PING", "1"));
      await client.waitFor(okReply("1", "PONG"));
    }
    expect(lines.filter((line) => line.event === "client certificate expires soon")).toEqual([
      expect.objectContaining({ level: "warn", identity: "soon", not_after: soon.cert.notAfter.toISOString(), days: 2, ca: "CN=Metrics Root", sha256: soon.sha256 }),
    ]);
  });
});
