// The logger's line formats and levels, and which server events reach it: captured lines are
// parsed as JSON, one per event. A real TLS server supplies the refusals, opens, closes and
// handler errors; the assertions also check that no key material or request body is logged.

import { describe, expect, test } from "bun:test";
import { Logger, defaultLogFormat, type LogLevel } from "../../src/ops/logger.ts";
import { logServerEvents } from "../../src/ops/server-log.ts";
import { RawClient, connectAdmitted, startServer } from "../support/harness.ts";
import { makeTestPki } from "../support/pki.ts";
import { errReply, request } from "../support/wire.ts";

const FIXED = () => new Date("2026-05-01T10:00:00.000Z");

function capture(level: LogLevel, format: "json" | "text" = "json") {
  const lines: string[] = [];
  const logger = new Logger({ level, format, write: (line) => lines.push(line), now: FIXED });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe("Logger", () => {
  test("a JSON line has time, level and event first, then the fields, and skips undefined ones", () => {
    const { logger, lines } = capture("info");
    logger.warn("refused", { remote: "127.0.0.1", code: "CERT_EXPIRED", identity: undefined, level: "overridden?" });
    expect(lines).toEqual(['{"time":"2026-05-01T10:00:00.000Z","level":"warn","event":"refused","remote":"127.0.0.1","code":"CERT_EXPIRED"}\n']);
  });

  test("a text line quotes values with spaces, quotes or line breaks, so each event stays one line", () => {
    const { logger, lines } = capture("debug", "text");
    logger.info("refused", { reason: "certificate CN=alice expired", n: 3, evil: 'a"b\nc', empty: "" });
    expect(lines).toEqual([`2026-05-01T10:00:00.000Z INFO  refused reason="certificate CN=alice expired" n=3 evil="a\\"b\\nc" empty=""\n`]);
  });

  test("events below the level are dropped; error always passes", () => {
    const { logger, records } = capture("warn");
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    expect(records().map((r) => r.event)).toEqual(["w", "e"]);
    expect([logger.enabled("info"), logger.enabled("warn")]).toEqual([false, true]);
  });

  test("a child logger adds its fields to every line", () => {
    const { logger, records } = capture("info");
    logger.child({ worker: 2 }).info("listening", { port: 7443 });
    expect(records()).toEqual([{ time: "2026-05-01T10:00:00.000Z", level: "info", event: "listening", worker: 2, port: 7443 }]);
  });

  test("a sink that throws does not throw to the caller", () => {
    const logger = new Logger({ write: () => { throw new Error("EPIPE"); } });
    expect(() => logger.error("x")).not.toThrow();
  });

  test("the default format is text on a terminal and JSON otherwise", () => {
    expect([defaultLogFormat(true), defaultLogFormat(false)]).toEqual(["text", "json"]);
  });

  test("an unknown level or format is a RangeError", () => {
    expect(() => new Logger({ write() {}, level: "loud" as LogLevel })).toThrow(RangeError);
    expect(() => new Logger({ write() {}, format: "xml" as "json" })).toThrow(RangeError);
  });
});

describe("server events in the log", () => {
  test("every refused client is a warning with reason, remote address, identity and thumbprints", async () => {
    const pki = await makeTestPki();
    const { logger, records } = capture("info");
    await using server = await startServer({}, (s) => logServerEvents(s, logger));
    for (const certificate of [pki.expired, pki.unknown, null]) {
      await using client = await RawClient.connect({ port: server.port, certificate });
      await client.untilClosed();
    }
    const fields = records().map(({ level, event, code, remote, identity, sha1, sha256 }) => ({ level, event, code, remote, identity, sha1, sha256 }));
    expect(fields).toEqual([
      { level: "warn", event: "refused", code: "CERT_EXPIRED", remote: "127.0.0.1", identity: "alice-old", sha1: pki.expired.sha1, sha256: pki.expired.sha256 },
      { level: "warn", event: "refused", code: "CERT_UNKNOWN", remote: "127.0.0.1", identity: "eve", sha1: pki.unknown.sha1, sha256: pki.unknown.sha256 },
      { level: "warn", event: "refused", code: "CERT_MISSING", remote: "127.0.0.1", identity: undefined, sha1: undefined, sha256: undefined },
    ]);
    expect(records()[0]!.reason).toStartWith("certificate CN=alice-old expired at ");
  });

  test("opens and closes are logged at debug only, handler errors at error, and no body or key reaches a line", async () => {
    const pki = await makeTestPki();
    const quiet = capture("info");
    const verbose = capture("debug");
    const closed = Promise.withResolvers<void>();
    await using server = await startServer({}, (s) => {
      logServerEvents(s, quiet.logger);
      logServerEvents(s, verbose.logger);
      s.command("FAIL", () => {
        throw new Error("database on fire");
      }).on("close", () => closed.resolve());
    });
    const client = await connectAdmitted(server.port);
    client.write(request("FAIL", "1", "top-secret-body"));
    await client.waitFor(errReply("1", "command 'FAIL' failed: database on fire"));
    client.close();
    await closed.promise;

    expect(quiet.records().map((r) => [r.level, r.event, r.code, r.message, r.identity])).toEqual([
      ["error", "error", "HANDLER_FAILED", "command 'FAIL' failed: database on fire", "alice"],
    ]);
    expect(verbose.records().map((r) => [r.level, r.event, r.identity, r.code])).toEqual([
      ["debug", "open", "alice", undefined],
      ["error", "error", "alice", "HANDLER_FAILED"],
      ["debug", "close", "alice", "CLIENT_CLOSED"],
    ]);
    expect(verbose.records()[0]!.sha256).toBe(pki.good.sha256);
    const all = verbose.lines.join("");
    expect(all).not.toContain("top-secret-body");
    expect(all).not.toContain("PRIVATE KEY");
    expect(all).not.toContain(pki.good.privateKeyPem.split("\n")[1]!);
  });
});
