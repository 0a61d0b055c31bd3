// `gnp bench`: a load generator for gnp servers, in the manner of redis-benchmark. It always
// stops (after --duration, default 10 s, or --requests), shows a live progress line when
// stderr is a terminal, and ends with requests/s, errors, latency percentiles from a
// log-linear histogram and its own CPU use, so a reader can tell whether it was the limit.

import { CONNECTION_FLAGS, connectionUsage, resolveConnection, type Env } from "./connection-flags.ts";
import { FlagReader, flagHelp, numberWithin, parseCommandLine, ValueMistake, type FlagSpec, type FlagTexts } from "../config/flags.ts";
import type { Limit } from "../options.ts";
import { Budget, RANDOM_KEY, RANDOM_KEY_LIMIT, Tally, runHandshakes, runRequestReply, type RrPlan, type Target } from "./bench-drivers.ts";
import { CliFailure, processIo, type CliIo } from "../io.ts";
import { GnpError } from "../errors.ts";
import { describe, formatHostPort } from "../wording.ts";
import type { CommandModule } from "./command.ts";

export type BenchIo = CliIo & { stderrIsTTY?: boolean };

export const DEFAULT_BENCH_DURATION_S = 10;
export const DEFAULT_BENCH_CONNS = 1;
export const DEFAULT_BENCH_TIMEOUT_S = 10;
const PROGRESS_INTERVAL_MS = 250;

/** A bench's own bounds: what a load generator on one thread can mean. */
const whole = (min: number, max: number): Limit => ({ min, max, whole: true, seconds: false, positive: false });
const seconds = { min: 0, max: 86_400, whole: false, seconds: true, positive: true } as const satisfies Limit;

const BENCH_FLAGS = {
  mode: { type: "string", arg: "rr|handshake", choices: ["rr", "handshake"], env: false, default: "rr", parse: parseMode, help: "rr: request/reply (default); handshake: connect, mutual TLS, greeting, close" },
  conns: { type: "string", arg: "N", env: false, default: DEFAULT_BENCH_CONNS, parse: numberWithin(whole(1, 10_000)), help: `concurrent connections (default ${DEFAULT_BENCH_CONNS})` },
  pipeline: { type: "string", arg: "N", env: false, default: 1, parse: numberWithin(whole(1, 100_000)), help: "requests in flight per connection, rr only (default 1)" },
  duration: { type: "string", arg: "S", env: false, parse: numberWithin(seconds), help: `seconds to run (default ${DEFAULT_BENCH_DURATION_S}; with --requests, a limit on top)` },
  requests: { type: "string", arg: "N", env: false, parse: numberWithin(whole(1, 1e12)), help: "requests (or handshakes) in total, then stop" },
  command: { type: "string", arg: '"CMD ARG"', env: false, default: "PING", help: 'the request to send, command and arguments (default "PING")' },
  keyspace: {
    type: "string",
    arg: "N",
    env: false,
    parse: numberWithin(whole(1, RANDOM_KEY_LIMIT)),
    help: `each request's ${RANDOM_KEY} in --command becomes a random 12-digit number below N, as with redis-benchmark -r (e.g. --command "PUT key:${RANDOM_KEY}")`,
  },
  "body-size": { type: "string", arg: "N", env: false, default: 0, parse: numberWithin(whole(0, 1024 * 1024 * 1024)), help: "send a body of N bytes with every request (default: none)" },
  timeout: {
    type: "string",
    arg: "S",
    env: false,
    default: DEFAULT_BENCH_TIMEOUT_S,
    parse: numberWithin(seconds),
    help: `seconds without progress before the run is abandoned (default ${DEFAULT_BENCH_TIMEOUT_S})`,
  },
  json: { type: "boolean", env: false, help: "print the summary as one JSON object on stdout" },
  ...CONNECTION_FLAGS,
  help: { type: "boolean", short: "h", env: false, help: "show this help" },
} as const satisfies Record<string, FlagSpec>;

export type BenchSettings = {
  mode: "rr" | "handshake";
  conns: number;
  pipeline: number;
  durationS: number | undefined;
  requests: number | undefined;
  command: string;
  args: string[];
  /** Random keys below this number replace RANDOM_KEY in the request (rr only). */
  keyspace: number | undefined;
  bodySize: number;
  timeoutS: number;
  json: boolean;
};

/** The summary `--json` prints; also what bench/run.ts reads. */
export type BenchResult = {
  mode: "rr" | "handshake";
  target: string;
  conns: number;
  pipeline: number;
  command: string;
  /** With --keyspace: how many keys the requests were spread over. */
  keyspace?: number;
  bodySize: number;
  seconds: number;
  ok: number;
  errors: number;
  /** Connections admitted with the greeting (rr), or handshakes done. */
  greeted: number;
  errorReasons: Record<string, number>;
  perSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  cpu: { userSeconds: number; systemSeconds: number; shareOfOneCore: number };
};

/**
 * Runs `gnp bench` with the arguments after the subcommand and returns the exit code:
 * 0 no errors, 1 some requests failed, 2 nothing could be run (bad flags, no connection admitted).
 *
 * @example
 * process.exit(await runBench(["--conns", "50", "--pipeline", "16"], processIo));
 */
export async function runBench(argv: string[], io: BenchIo, options: { env?: Env } = {}): Promise<number> {
  const env = options.env ?? process.env;
  try {
    const { texts: values, positionals } = parseCommandLine(argv, BENCH_FLAGS, { command: "bench", positionals: true });
    if (values.help === true) {
      io.stdout(benchUsage());
      return 0;
    }
    if (positionals.length > 0) throw new CliFailure(`bench: unexpected argument ${JSON.stringify(positionals[0])}: the request goes in --command`, 2);
    const settings = benchSettings(values);
    const connection = resolveConnection(values, { env });
    const target: Target = { ...connection, timeoutMs: settings.timeoutS * 1000 };
    const result = await measure(target, { settings, io });
    if (result.greeted === 0) {
      // Not one connection was admitted: there is nothing to summarize, only why.
      const [reason] = Object.keys(result.errorReasons);
      io.stderr(`gnp: bench: could not run against ${result.target}: ${reason ?? "no connection was admitted"}\n`);
      return 2;
    }
    if (settings.json) io.stdout(`${JSON.stringify(result)}\n`);
    else io.stdout(formatSummary(result));
    return result.errors > 0 ? 1 : 0;
  } catch (error) {
    io.stderr(`gnp: ${error instanceof CliFailure || error instanceof GnpError ? error.message : describe(error)}\n`);
    return error instanceof CliFailure ? error.exitCode : 2;
  }
}

async function measure(target: Target, what: { settings: BenchSettings; io: BenchIo }): Promise<BenchResult> {
  const { settings, io } = what;
  const tally = new Tally();
  const budget = new Budget(settings.requests);
  const durationMs = settings.durationS === undefined ? undefined : settings.durationS * 1000;
  const controller = new AbortController();
  const showProgress = io.stderrIsTTY ?? (io.stderr === processIo.stderr && process.stderr.isTTY === true);
  const began = performance.now();
  const cpuBefore = process.cpuUsage();
  let lastCount = -1;
  let lastProgressAt = began;
  // The watchdog: a server that stops answering must not keep the bench running for ever.
  const ticker = setInterval(() => {
    const now = performance.now();
    const count = tally.ok + tally.errors;
    if (count !== lastCount) {
      lastCount = count;
      lastProgressAt = now;
    } else if (now - lastProgressAt > target.timeoutMs) {
      controller.abort(`no progress for ${settings.timeoutS} s`);
    }
    if (showProgress) {
      const elapsed = (now - began) / 1000;
      const rate = elapsed > 0 ? tally.ok / elapsed : 0;
      io.stderr(`\r${settings.mode} ${elapsed.toFixed(1)} s  ${format(tally.ok)} ok  ${format(Math.round(rate))}/s  ${format(tally.errors)} errors   `);
    }
  }, PROGRESS_INTERVAL_MS);
  const run = { conns: settings.conns, budget, durationMs, tally, signal: controller.signal };
  let seconds: number;
  try {
    seconds =
      settings.mode === "rr"
        ? await runRequestReply(target, { plan: plan(settings), ...run })
        : await runHandshakes(target, run);
  } finally {
    clearInterval(ticker);
    if (showProgress) io.stderr("\r\x1b[2K");
  }
  const wall = (performance.now() - began) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const h = tally.histogram;
  const ms = (micros: number) => Math.round(micros) / 1000;
  return {
    mode: settings.mode,
    target: formatHostPort(target.host, target.port),
    conns: settings.conns,
    pipeline: settings.mode === "rr" ? settings.pipeline : 1,
    command: settings.mode === "rr" ? [settings.command, ...settings.args].join(" ") : "",
    ...(settings.keyspace === undefined ? {} : { keyspace: settings.keyspace }),
    bodySize: settings.bodySize,
    seconds: Math.round(seconds * 1000) / 1000,
    ok: tally.ok,
    errors: tally.errors,
    greeted: tally.greeted,
    errorReasons: Object.fromEntries(tally.reasons),
    perSecond: seconds > 0 ? Math.round(tally.ok / seconds) : 0,
    latencyMs: { p50: ms(h.percentile(0.5)), p90: ms(h.percentile(0.9)), p99: ms(h.percentile(0.99)), max: ms(h.max), mean: ms(h.mean) },
    cpu: {
      userSeconds: cpu.user / 1e6,
      systemSeconds: cpu.system / 1e6,
      shareOfOneCore: wall > 0 ? Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100) / 100 : 0,
    },
  };
}

function plan(settings: BenchSettings): RrPlan {
  return {
    command: settings.command,
    args: settings.args,
    body: settings.bodySize > 0 ? new Uint8Array(settings.bodySize).fill(0x78) : undefined,
    pipeline: settings.pipeline,
    keyspace: settings.keyspace,
  };
}

export function benchSettings(values: FlagTexts): BenchSettings {
  const flags = new FlagReader(BENCH_FLAGS, { texts: values, env: {} });
  const requests = flags.read("requests");
  const words = flags.read("command").split(" ").filter(Boolean);
  if (words.length === 0) throw new CliFailure("invalid --command \"\": expected a command and its arguments", 2);
  const [command, ...args] = words as [string, ...string[]];
  const keyspace = flags.read("keyspace");
  const mode = flags.read("mode");
  if (keyspace !== undefined && mode !== "rr") throw new CliFailure("--keyspace applies to --mode rr: a handshake sends no request", 2);
  // Without the placeholder the flag would change nothing, and a run would look random-keyed when it is not.
  if (keyspace !== undefined && !args.some((arg) => arg.includes(RANDOM_KEY))) {
    throw new CliFailure(`--keyspace needs ${RANDOM_KEY} in an argument of --command, where the random key goes (e.g. --command "PUT key:${RANDOM_KEY}")`, 2);
  }
  return {
    mode,
    conns: flags.read("conns"),
    pipeline: flags.read("pipeline"),
    // With --requests alone, the count decides when to stop; otherwise the clock does.
    durationS: flags.read("duration") ?? (requests === undefined ? DEFAULT_BENCH_DURATION_S : undefined),
    requests,
    command,
    args,
    keyspace,
    bodySize: flags.read("body-size"),
    timeoutS: flags.read("timeout"),
    json: flags.read("json"),
  };
}

function parseMode(text: string): "rr" | "handshake" {
  if (text === "rr" || text === "handshake") return text;
  throw ValueMistake.expected("rr or handshake");
}

export function formatSummary(r: BenchResult): string {
  const what = r.mode === "rr" ? `${r.conns} conns x pipeline ${r.pipeline}, ${JSON.stringify(r.command)}${r.keyspace === undefined ? "" : ` over ${format(r.keyspace)} random keys`}${r.bodySize > 0 ? ` + ${r.bodySize}-byte body` : ""}` : `${r.conns} concurrent handshakes`;
  const unit = r.mode === "rr" ? "req/s" : "handshakes/s";
  const lines = [
    `gnp bench ${r.mode}: ${r.target}, ${what}, ${r.seconds.toFixed(2)} s`,
    `  done        ${format(r.ok)} ok, ${format(r.errors)} errors`,
    `  throughput  ${format(r.perSecond)} ${unit}`,
    `  latency     p50 ${r.latencyMs.p50.toFixed(3)} ms   p90 ${r.latencyMs.p90.toFixed(3)} ms   p99 ${r.latencyMs.p99.toFixed(3)} ms   max ${r.latencyMs.max.toFixed(3)} ms`,
    `  bench CPU   ${Math.round(r.cpu.shareOfOneCore * 100)}% of one core (user ${r.cpu.userSeconds.toFixed(2)} s, system ${r.cpu.systemSeconds.toFixed(2)} s)`,
  ];
  for (const [reason, count] of Object.entries(r.errorReasons).sort((a, b) => b[1] - a[1]).slice(0, 5)) {
    lines.push(`  error       ${format(count)} x ${reason}`);
  }
  if (r.cpu.shareOfOneCore >= 0.9) {
    lines.push("  note        the bench used about a whole core: it may be the limit; pin it and the server to different cores (see --help)");
  }
  return `${lines.join("\n")}\n`;
}

function format(n: number): string {
  return n.toLocaleString("en-US");
}

export function benchUsage(): string {
  const own = flagHelp(
    BENCH_FLAGS,
    Object.keys(BENCH_FLAGS).filter((name) => !(name in CONNECTION_FLAGS)),
  );
  return (
    "usage: gnp bench [flags]     load-test a gnp server; always bounded (default 10 s)\n\n" +
    `${own}\n\nconnection (as for gnp call):\n${connectionUsage()}\n\n` +
    "The bench is one JavaScript thread; its summary states its own CPU use. When it nears 100%\n" +
    "of a core, the bench, not the server, is the limit. Keep them on different cores, e.g.\n" +
    "  taskset -c 0 gnp serve    and    taskset -c 1 gnp bench --conns 50 --pipeline 16\n" +
    "or run the bench on another machine (--host, with a client certificate the server admits).\n"
  );
}

/** `gnp bench` for the entry point. */
export const BENCH_COMMAND: CommandModule = { run: (argv, io) => runBench(argv, io), flags: BENCH_FLAGS };
