// Flow control under hostile pipelines: a client that reads is slowed down and never cut off,
// whatever it pipelines (sync replies, async replies settling together in one tick); what one
// connection makes the server hold stays near --max-output; and a fault found in input that
// waited behind a pause still gets its ERR: line.

import { describe, expect, test } from "bun:test";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { GREETING, errorLine, okReply, request } from "../support/wire.ts";
import type { CloseInfo } from "../../src/index.ts";

describe("a fault behind a pause", () => {
  test("a malformed head read after a pause, with the client's FIN behind it, still gets its ERR: line", async () => {
    const big = "b".repeat(256 * 1024);
    const closes: CloseInfo[] = [];
    await using server = await startServer({}, (s) => s.command("BIG", () => big).on("close", (_conn, info) => closes.push(info)));
    const client = await connectAdmitted(server.port);
    client.socket.pause();
    // 100 x 256 KiB of replies: the server stops reading long before the bad head.
    const pipeline = Array.from({ length: 100 }, (_, i) => request("BIG", String(i))).join("");
    client.write(`${pipeline}PING\r\nbroken header\r\n\r\n`);
    client.socket.shutdown();
    await Bun.sleep(100);
    client.socket.resume();
    const received = await client.untilClosed();
    const replies = Array.from({ length: 100 }, (_, i) => okReply(String(i), big)).join("");
    expect(received.length).toBe(GREETING.length + replies.length + errorLine(`header line without ':': "broken header"`).length);
    expect(received.endsWith(errorLine(`header line without ':': "broken header"`))).toBe(true);
    expect(received === GREETING + replies + errorLine(`header line without ':': "broken header"`)).toBe(true);
    expect(closes.map((info) => info?.code)).toEqual(["BAD_HEADER"]);
  });

  test("a client that closes its side right after a fault still gets the running command's reply and the ERR: line", async () => {
    await using server = await startServer({}, (s) =>
      s.command("SLOW", async () => {
        await Bun.sleep(50);
        return "late";
      }),
    );
    const client = await connectAdmitted(server.port);
    client.write(request("SLOW", "1") + "\r\n\r\n");
    client.socket.shutdown();
    expect(await client.untilClosed()).toBe(GREETING + okReply("1", "late") + errorLine("empty command line"));
  });
});
