// The flags module: one spelling of every GNP_* variable, one precedence (flag, variable,
// settings file, default) and one wording for a bad value, which names where the value came
// from: the flag, its variable, or the file. Read through the real `gnp serve` table, whose
// production flags are checked here too: defaults, accepted forms, one-line mistakes (exit 2).

import { afterEach, describe, expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { FlagReader, envName, type FlagSpec } from "../../src/config/flags.ts";
import { resolveServeConfig } from "../../src/config/serve-config.ts";
import { SERVE_FLAGS, serveSettingsOf } from "../../src/config/serve-flags.ts";
import { CliFailure } from "../../src/io.ts";
import { cleanupCli, freshDir } from "../cli/cli-process.ts";
import { writeToml } from "./fixture.ts";

afterEach(cleanupCli);

type OpsFlag = "admin" | "log-format" | "log-level" | "shutdown-timeout" | "workers";

/** The ops settings `gnp serve` reads from these flags' texts (the serve table, nothing else set). */
const parse = (values: Partial<Record<OpsFlag, string>>) => serveSettingsOf(new FlagReader(SERVE_FLAGS, { texts: values, env: {} }).readAll()).ops;

function failure(run: () => unknown): [number, string] {
  try {
    run();
  } catch (error) {
    if (error instanceof CliFailure) return [error.exitCode, error.message];
    throw error;
  }
  throw new Error("expected a CliFailure");
}

describe("GNP_* variables", () => {
  test("every flag's variable is GNP_, its name in upper case, - as _", () => {
    expect(["port", "max-connections", "log-level", "print-config"].map(envName)).toEqual(["GNP_PORT", "GNP_MAX_CONNECTIONS", "GNP_LOG_LEVEL", "GNP_PRINT_CONFIG"]);
  });

  test("a repeatable flag with a dash in its name reads its variable by the same rule, comma-separated", () => {
    const table = { "trusted-ca": { type: "string", multiple: true, help: "" } } as const satisfies Record<string, FlagSpec>;
    const read = (env: Record<string, string>) => new FlagReader(table, { texts: {}, env }).read("trusted-ca");
    expect(read({ GNP_TRUSTED_CA: "a.pem, b.pem" })).toEqual(["a.pem", "b.pem"]);
    expect(read({ "GNP_TRUSTED-CA": "a.pem" })).toEqual([]);
  });

  test("a flag marked env: false is not read from the environment", () => {
    const reader = new FlagReader(SERVE_FLAGS, { texts: {}, env: { GNP_HELP: "1", GNP_PRINT_CONFIG: "1" } });
    expect([reader.read("help"), reader.read("print-config")]).toEqual([false, false]);
  });
});

describe("a bad value names where it came from", () => {
  const expected = 'invalid --max-connections "0": expected a whole number from 1 to 500000';

  test("the flag", () => {
    expect(failure(() => resolveServeConfig(["--max-connections", "0"], { env: {}, cwd: freshDir() }))).toEqual([2, expected]);
  });

  test("the environment variable", () => {
    expect(failure(() => resolveServeConfig([], { env: { GNP_MAX_CONNECTIONS: "0" }, cwd: freshDir() }))).toEqual([2, `GNP_MAX_CONNECTIONS: ${expected}`]);
  });

  test("the settings file", () => {
    const cwd = freshDir();
    writeToml(cwd, "max-connections = 0\n");
    expect(failure(() => resolveServeConfig([], { env: {}, cwd: cwd }))).toEqual([2, `gnp.toml: ${expected}`]);
  });

  test("the file even when a flag overrides it, since the file stays wrong", () => {
    const cwd = freshDir();
    writeToml(cwd, "max-connections = 0\n");
    expect(failure(() => resolveServeConfig(["--max-connections", "5"], { env: {}, cwd: cwd }))).toEqual([2, `gnp.toml: ${expected}`]);
  });

  test("a thumbprint in a list, by flag, variable or file", () => {
    const cwd = freshDir();
    writeToml(cwd, 'allow = ["zz"]\n');
    const malformed = 'malformed thumbprint "zz": expected 40 (SHA-1) or 64 (SHA-256) hex digits, or an SPKI pin sha256/BASE64';
    expect([
      failure(() => resolveServeConfig(["--allow", "zz"], { env: {}, cwd: freshDir() })),
      failure(() => resolveServeConfig([], { env: { GNP_ALLOW: "zz" }, cwd: freshDir() })),
      failure(() => resolveServeConfig([], { env: {}, cwd: cwd })),
    ]).toEqual([
      [2, `--allow: ${malformed}`],
      [2, `GNP_ALLOW: ${malformed}`],
      [2, `gnp.toml: ${malformed}`],
    ]);
  });

  test("a production flag's variable, GNP_LOG_LEVEL", () => {
    expect(failure(() => resolveServeConfig([], { env: { GNP_LOG_LEVEL: "loud" }, cwd: freshDir() }))).toEqual([2, 'GNP_LOG_LEVEL: invalid --log-level "loud": expected debug, info, warn or error']);
  });
});

describe("precedence", () => {
  test("flag over variable over file over default, with the source of each", () => {
    const cwd = freshDir();
    writeToml(cwd, "port = 1111\nmax-body = 2222\nidle-timeout = 33\n");
    const config = resolveServeConfig(["--port", "6666"], { env: { GNP_PORT: "4444", GNP_MAX_BODY: "5555" }, cwd: cwd });
    expect([config.settings.port, config.settings.maxBody, config.settings.idleTimeout, config.settings.maxConnections]).toEqual([6666, 5555, 33, 10_000]);
    expect([config.sources.port, config.sources["max-body"], config.sources["idle-timeout"], config.sources["max-connections"]]).toEqual([
      { kind: "flag", label: "flag --port" },
      { kind: "env", label: "env GNP_MAX_BODY" },
      { kind: "file", label: "file gnp.toml" },
      { kind: "default", label: "default" },
    ]);
  });
});

describe("ops flags", () => {
  test("the defaults: no admin listener, format by terminal, info, 10 s, one worker", () => {
    expect(parse({})).toEqual({ admin: undefined, logFormat: undefined, logLevel: "info", shutdownTimeout: 10, workers: 1 });
  });

  test("--admin takes HOST:PORT, [v6]:PORT, or a bare PORT on 127.0.0.1", () => {
    expect([parse({ admin: "0.0.0.0:9090" }).admin, parse({ admin: "[::1]:9090" }).admin, parse({ admin: "9091" }).admin]).toEqual([
      { host: "0.0.0.0", port: 9090 },
      { host: "::1", port: 9090 },
      { host: "127.0.0.1", port: 9091 },
    ]);
  });

  test("--workers auto is the number of cores", () => {
    expect(parse({ workers: "auto" }).workers).toBe(availableParallelism());
  });

  test.each([
    [{ admin: "localhost" }, 'invalid --admin "localhost": expected HOST:PORT, e.g. 127.0.0.1:9090'],
    [{ admin: "1.2.3.4:70000" }, 'invalid --admin "1.2.3.4:70000": expected HOST:PORT, e.g. 127.0.0.1:9090'],
    [{ "log-format": "xml" }, 'invalid --log-format "xml": expected text or json'],
    [{ "log-level": "loud" }, 'invalid --log-level "loud": expected debug, info, warn or error'],
    [{ "shutdown-timeout": "-1" }, 'invalid --shutdown-timeout "-1": expected a number of seconds from 0 to 86400'],
    [{ workers: "0" }, 'invalid --workers "0": expected auto or a whole number from 1 to 256'],
  ])("%p is one line with exit code 2", (values, message) => {
    expect(failure(() => parse(values))).toEqual([2, message]);
  });
});

describe("trust flags", () => {
  const settings = (argv: string[], where: { env?: Record<string, string>; toml?: string } = {}) => {
    const cwd = freshDir();
    if (where.toml !== undefined) writeToml(cwd, where.toml);
    return resolveServeConfig(argv, { env: where.env ?? {}, cwd }).settings;
  };
  const trustOf = (s: ReturnType<typeof settings>) => [s.crlFiles, s.allowStaleCrls, s.maxChainDepth, s.maxPresentedCertificates, s.pollInterval];

  test("the defaults: no CRL, stale CRLs refuse, 8 intermediates, 10 certificates sent, a poll every 5 s", () => {
    expect(trustOf(settings([]))).toEqual([[], false, 8, 10, 5]);
  });

  test("each from its flag, its variable and the file; crl paths in the file are relative to it", () => {
    const cwd = freshDir();
    writeToml(cwd, 'crl = ["a.crl", "/etc/b.crl"]\nallow-stale-crl = true\nmax-chain-depth = 3\nmax-presented-certificates = 4\npoll-interval = 0.5\n');
    expect(trustOf(resolveServeConfig([], { env: {}, cwd }).settings)).toEqual([[`${cwd}/a.crl`, "/etc/b.crl"], true, 3, 4, 0.5]);
    expect(trustOf(settings(["--crl", "x.crl", "--crl", "y.crl", "--allow-stale-crl", "--max-chain-depth", "0", "--poll-interval", "0"]))).toEqual([["x.crl", "y.crl"], true, 0, 10, 0]);
    expect(trustOf(settings([], { env: { GNP_CRL: "x.crl,y.crl", GNP_ALLOW_STALE_CRL: "1", GNP_MAX_PRESENTED_CERTIFICATES: "32" } }))).toEqual([["x.crl", "y.crl"], true, 8, 32, 5]);
  });

  test.each([
    [["--max-chain-depth", "17"], 'invalid --max-chain-depth "17": expected a whole number from 0 to 16'],
    [["--max-presented-certificates", "0"], 'invalid --max-presented-certificates "0": expected a whole number from 1 to 32'],
    [["--poll-interval", "1e6"], 'invalid --poll-interval "1e6": expected a number of seconds from 0 to 86400'],
  ])("%p is one line with exit code 2", (argv, message) => {
    expect(failure(() => settings(argv))).toEqual([2, message]);
  });

  test("a switch in the file is true or false; anything else is a mistake named with the file", () => {
    expect(settings([], { toml: "allow-stale-crl = false\n" }).allowStaleCrls).toBe(false);
    expect(failure(() => settings([], { toml: 'allow-stale-crl = "yes"\n' }))).toEqual([2, 'gnp.toml: invalid --allow-stale-crl "yes": expected true or false']);
  });
});
