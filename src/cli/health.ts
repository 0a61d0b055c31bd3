// `gnp health`: asks a running server's admin listener whether it is ready (GET /readyz) and
// says so by exit code, for container health checks that have no shell or curl. Exit 0 when
// /readyz answers 200; 1 for everything else, flag mistakes included, because Docker reserves
// exit 2 of a health check. The address is found as `gnp serve` finds it: --admin, GNP_ADMIN,
// the settings file; 0.0.0.0 and :: (listen everywhere) are asked on loopback.

import { FlagReader, flagHelp, parseCommandLine, ValueMistake, type FlagSpec, type FlagTexts } from "../config/flags.ts";
import { loadSharedConfig } from "../config/serve-config.ts";
import { SERVE_FLAGS } from "../config/serve-flags.ts";
import { CliFailure, type CliIo } from "../io.ts";
import { describe, formatHostPort } from "../wording.ts";
import type { CommandModule } from "./command.ts";

type Env = Record<string, string | undefined>;

/** Below Docker's default HEALTHCHECK --timeout (30 s) and the image's (3 s): our reason comes first. */
const DEFAULT_TIMEOUT_S = 2;
const MAX_TIMEOUT_S = 300;

export const HEALTH_FLAGS = {
  admin: {
    type: "string",
    arg: "HOST:PORT",
    parse: SERVE_FLAGS.admin.parse,
    help: "the server's admin address (default: GNP_ADMIN, else admin in the settings file; 0.0.0.0 is asked on 127.0.0.1)",
  },
  timeout: { type: "string", arg: "S", env: false, default: DEFAULT_TIMEOUT_S, parse: timeoutSeconds, help: `seconds to wait for the answer (default ${DEFAULT_TIMEOUT_S})` },
  help: { type: "boolean", short: "h", env: false, help: "show this help" },
} as const satisfies Record<string, FlagSpec>;

const USAGE = `usage: gnp health [--admin HOST:PORT] [--timeout S]

Asks the admin listener of a running gnp serve whether it is ready (GET /readyz).
exit code: 0 ready, 1 not ready or not reachable (one line on stderr says why)

${flagHelp(HEALTH_FLAGS, ["admin", "timeout"])}
`;

/**
 * Runs `gnp health` and returns its exit code; a failure throws CliFailure (exit 1).
 *
 * @example process.exit(await runHealth(["--admin", "127.0.0.1:9090"], processIo));
 */
export async function runHealth(argv: string[], io: CliIo, env: Env = process.env): Promise<number> {
  const { reader, help } = exitOneOnMistake(() => {
    const { texts } = parseCommandLine(argv, HEALTH_FLAGS, { command: "health" });
    return { reader: readerWithFile(new FlagReader(HEALTH_FLAGS, { texts, env }), { texts, env }), help: texts.help === true };
  });
  if (help) {
    io.stdout(USAGE);
    return 0;
  }
  const timeoutS = exitOneOnMistake(() => reader.read("timeout"));
  const { host, port, from } = adminAddress(reader);
  const target = formatHostPort(host, port);
  const url = `http://${target}/readyz`;
  let answer: { status: number; body: string };
  try {
    answer = await getReadyz(host, port, timeoutS * 1000);
  } catch (error) {
    throw new CliFailure(`cannot ask the admin listener at ${target} (${from}): ${describe(error)}`, 1);
  }
  const said = answer.body.split("\n")[0]!.trim();
  if (answer.status === 200) {
    io.stdout(`${said || "ready"} (${url})\n`);
    return 0;
  }
  if (answer.status === 503) throw new CliFailure(`${said || "not ready"} (${url} answered 503)`, 1);
  throw new CliFailure(`${url} answered ${answer.status}${said ? `: ${said}` : ""}; is ${target} the admin address of gnp serve?`, 1);
}

/**
 * The reader that also knows the settings file's `admin`, read only when neither the flag nor
 * GNP_ADMIN gives the address: a broken gnp.toml must not fail a probe that does not need it.
 */
function readerWithFile(reader: FlagReader<typeof HEALTH_FLAGS>, sources: { texts: FlagTexts; env: Env }): FlagReader<typeof HEALTH_FLAGS> {
  if (reader.source("admin").kind !== "default") return reader;
  const file = loadSharedConfig(undefined, { env: sources.env });
  return file === undefined ? reader : new FlagReader(HEALTH_FLAGS, { ...sources, file, fromFile: (name) => name === "admin" });
}

/** The address to ask, and where it came from (for the failure line). */
function adminAddress(reader: FlagReader<typeof HEALTH_FLAGS>): { host: string; port: number; from: string } {
  const address = exitOneOnMistake(() => reader.read("admin"));
  if (address === undefined) throw new CliFailure("no admin address: give --admin HOST:PORT or set GNP_ADMIN, the address gnp serve was started with", 1);
  const from = reader.origin("admin");
  if (address.port === 0) {
    throw new CliFailure(`invalid ${from} ${JSON.stringify(formatHostPort(address.host, 0))}: port 0 is chosen when the server starts; give the port it printed`, 1);
  }
  // A listener on every interface is reachable on loopback; "0.0.0.0" itself is not an address to connect to.
  const host = address.host === "0.0.0.0" ? "127.0.0.1" : address.host === "::" ? "::1" : address.host;
  return { host, port: address.port, from };
}

/** Every mistake exits 1: Docker reserves exit 2 of a health check. */
function exitOneOnMistake<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw new CliFailure(describe(error), 1);
  }
}

function timeoutSeconds(text: string): number {
  const value = text.trim() === "" ? NaN : Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMEOUT_S) throw ValueMistake.expected(`seconds above 0, at most ${MAX_TIMEOUT_S}`);
  return value;
}

/** One HTTP/1.1 GET /readyz on a fresh connection; resolves with the status and body once the server closes. */
function getReadyz(host: string, port: number, timeoutMs: number): Promise<{ status: number; body: string }> {
  // A raw socket rather than fetch(): fetch follows HTTP_PROXY, and a probe of loopback must never go through a proxy.
  const { promise, resolve, reject } = Promise.withResolvers<{ status: number; body: string }>();
  const decoder = new TextDecoder();
  let received = "";
  let open: { end(): void } | undefined;
  const timer = setTimeout(() => {
    reject(new Error(`no answer within ${timeoutMs / 1000} s`));
    open?.end();
  }, timeoutMs);
  const finish = () => {
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(received);
    if (status === null) {
      reject(new Error(received === "" ? "the connection closed without an HTTP answer" : `not an HTTP answer: ${JSON.stringify(received.slice(0, 40))}`));
      return;
    }
    const split = received.indexOf("\r\n\r\n");
    resolve({ status: Number(status[1]), body: split < 0 ? "" : received.slice(split + 4) });
  };
  Bun.connect({
    hostname: host,
    port,
    socket: {
      open(socket) {
        open = socket;
        socket.write(`GET /readyz HTTP/1.1\r\nHost: ${formatHostPort(host, port)}\r\nUser-Agent: gnp-health\r\nConnection: close\r\n\r\n`);
      },
      data(_socket, chunk) {
        received += decoder.decode(chunk, { stream: true });
      },
      close: finish,
      end: (socket) => void socket.end(),
      error(_socket, error) {
        reject(error);
      },
      connectError(_socket, error) {
        reject(error);
      },
    },
  }).catch((error: unknown) => reject(error));
  return promise.then(
    (answer) => {
      clearTimeout(timer);
      return answer;
    },
    (error: unknown) => {
      clearTimeout(timer);
      throw new Error(errnoText(error));
    },
  );
}

function errnoText(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED") return "connection refused (is gnp serve running with this --admin address?)";
  if (code === "EADDRNOTAVAIL" || code === "ENETUNREACH" || code === "EHOSTUNREACH") return "address not reachable from here";
  return describe(error);
}

/** `gnp health` for the entry point. */
export const HEALTH_COMMAND: CommandModule = { run: (argv, io) => runHealth(argv, io), flags: HEALTH_FLAGS };
