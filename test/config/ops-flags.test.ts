// The production flags of `gnp serve` read into settings: defaults, accepted forms, and the
// one-line mistakes (exit code 2) for values that cannot be meant.

import { describe, expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { CliFailure } from "../../src/io.ts";
import { OPS_FLAGS, parseOpsSettings } from "../../src/config/ops-flags.ts";

const parse = (values: Partial<Record<keyof typeof OPS_FLAGS, string>>) => parseOpsSettings((name) => values[name]);

function failure(values: Partial<Record<keyof typeof OPS_FLAGS, string>>): [number, string] {
  try {
    parse(values);
  } catch (error) {
    if (error instanceof CliFailure) return [error.exitCode, error.message];
    throw error;
  }
  throw new Error("expected a CliFailure");
}

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
    expect(failure(values)).toEqual([2, message]);
  });
});
