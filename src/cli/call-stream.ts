// `gnp call WATCH PREFIX` (or any command with --count): the request's pushes streamed to
// stdout, one line each (or one JSON object each with --json), like `nats sub` or
// `redis-cli SUBSCRIBE`, until Ctrl-C, SIGTERM or --count pushes. A PING every --keepalive
// seconds keeps the server's idle timeout from ending a quiet stream. Exit 0 when stopped,
// 1 when the server answers ERR, 2 when the connection is lost.

import { connect } from "../client/client.ts";
import type { Push } from "../client/message.ts";
import { GnpError } from "../errors.ts";
import { errShown, messageJson, pushLine } from "./call-output.ts";
import { DEFAULT_CALL_TIMEOUT_S, type CallIo, type CallRequest } from "./call-request.ts";
import type { ConnectionSettings } from "./connection-flags.ts";

/** Below the server's default idle timeout (300 s) by far, and below most set on purpose. */
export const DEFAULT_KEEPALIVE_S = 25;
/** The stream's request is the first on its connection: its Sequence is known, for --json. */
const SEQUENCE = "1";

export type StreamOptions = {
  io: CallIo;
  json: boolean;
  /** Stop after this many pushes; undefined: until a signal. */
  count: number | undefined;
  /** Tells a person where the stream is: one line on stderr once the server said OK. */
  verbose: boolean;
  /** Between PINGs while nothing else is sent; 0: none. */
  keepaliveMs: number;
};

/**
 * Sends `request` and writes its pushes until stopped; resolves with the exit code.
 *
 * @example process.exit(await streamPushes(connection, { command: "WATCH", args: ["users/"], options: {} }, { io, json: false, count: 1, verbose: false, keepaliveMs: 25_000 }));
 */
export async function streamPushes(connection: ConnectionSettings, request: CallRequest, options: StreamOptions): Promise<number> {
  const { io, json, count, verbose, keepaliveMs } = options;
  const client = await connect({ ...connection, timeout: request.options.timeout ?? DEFAULT_CALL_TIMEOUT_S * 1000 });
  const done = Promise.withResolvers<number>();
  let seen = 0;
  const onPush = (push: Push) => {
    if (count !== undefined && seen >= count) return;
    seen++;
    io.stdout(`${json ? messageJson(push) : pushLine(push)}\n`);
    if (seen === count) done.resolve(0);
  };
  const stop = () => done.resolve(0);
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  let stopping = false;
  void client.closed.then((error) => {
    if (error === undefined || stopping) return;
    io.stderr(`gnp: ${error.message}\n`);
    done.resolve(2);
  });
  const keepalive = keepaliveMs > 0 ? setInterval(() => void client.call("PING").catch(() => {}), keepaliveMs) : undefined;
  try {
    try {
      await client.subscribe(request.command, request.args, onPush, { ...request.options, sequence: SEQUENCE });
      if (verbose) io.stderr(`${[request.command, ...request.args].join(" ")}: OK; streaming its pushes until Ctrl-C${count === undefined ? "" : ` or ${count} of them`}\n`);
    } catch (error) {
      if (!(error instanceof GnpError && error.code === "REPLY_ERROR")) throw error;
      if (json) io.stdout(`${messageJson(errShown(SEQUENCE, error.message))}\n`);
      else io.stderr(`ERR ${error.message}\n`);
      return 1;
    }
    return await done.promise;
  } finally {
    clearInterval(keepalive);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    // A close the user asked for is no lost connection: said nothing about, exit as resolved.
    stopping = true;
    await client.close();
  }
}
