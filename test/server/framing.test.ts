// Requests over real TLS: pipelining, bodies in and beyond the slot, input cut at any byte,
// and every connection-level fault of PROTOCOL.md section 4: the replies queued before the
// fault arrive, then exactly one ERR: line, then the close, and nothing sent after the
// fault runs.

import { describe, expect, test } from "bun:test";
import { GnpError, MAX_HEAD_BYTES, type GnpServer } from "../../src/index.ts";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { GREETING, errReply, errorLine, okReply, request } from "../support/wire.ts";

/** A server whose COUNT command records every execution, plus ECHO and a few test commands. */
function setup(executed: string[]) {
  return (server: GnpServer) =>
    server
      .command("COUNT", (req) => {
        executed.push(req.sequence);
        return req.sequence;
      })
      .command("ECHO", (req) => (req.body.byteLength > 0 ? req.body : req.args.join(" ")))
      .command("SLOW", async (req) => {
        await Bun.sleep(Number(req.args[0]));
        return `slept ${req.args[0]}`;
      })
      .command("FAIL", () => {
        throw new Error("disk on fire");
      })
      .command("MISSING", (req) => {
        throw new GnpError("NOT_FOUND", `not found: ${req.args[0]}`);
      })
      .command("HEADERS", () => ({ body: "h", headers: [["Version", "3"], ["X-Trace", "abc"]] }))
      // What a handler sees of its request's headers, asked for only after later requests were read.
      .command("SEEN", async (req) => {
        await Bun.sleep(5);
        return JSON.stringify({ args: req.args, ifMatch: req.header("if-match") ?? null, headers: req.headers });
      });
}

describe("requests and replies", () => {
  test("pipelined requests in one write are all answered, in order for sync handlers", async () => {
    const executed: string[] = [];
    await using server = await startServer({}, setup(executed));
    await using client = await connectAdmitted(server.port);
    const count = 200;
    client.write(Array.from({ length: count }, (_, i) => request("COUNT", String(i))).join(""));
    const expected = GREETING + Array.from({ length: count }, (_, i) => okReply(String(i), String(i))).join("");
    await client.waitFor((text) => text.length >= expected.length);
    expect(client.received).toBe(expected);
  });

  test("input written one byte at a time gives the same replies", async () => {
    const executed: string[] = [];
    await using server = await startServer({}, setup(executed));
    await using client = await connectAdmitted(server.port);
    const wire = request("ECHO a  b", "x1") + request("ECHO", "x2", "body bytes") + request("COUNT", "x3");
    for (const byte of new TextEncoder().encode(wire)) client.write(new Uint8Array([byte]));
    const expected = GREETING + okReply("x1", "a b") + okReply("x2", "body bytes") + okReply("x3", "x3");
    await client.waitFor(expected);
    expect(client.received).toBe(expected);
  });

  test("bodies inside the slot, across the slot's end and far beyond it arrive intact", async () => {
    await using server = await startServer({ maxBody: 300_000 }, setup([]));
    await using client = await connectAdmitted(server.port);
    const bodies = [1, 100, 8000, 8064, 8065, 20_000, 300_000].map((n, i) => "abcdefghij".repeat(Math.ceil(n / 10)).slice(0, n - String(i).length) + String(i));
    let expected = GREETING;
    for (const [i, body] of bodies.entries()) {
      const wire = request("ECHO", `b${i}`, body);
      // Cut each request in three uneven writes.
      client.write(wire.slice(0, 7));
      client.write(wire.slice(7, wire.length - 3));
      client.write(wire.slice(wire.length - 3));
      expected += okReply(`b${i}`, body);
    }
    await client.waitFor((text) => text.length >= expected.length);
    expect(client.received === expected).toBe(true);
  });

  test("ECHO without a body joins its arguments with one space", async () => {
    await using server = await startServer({}, setup([]));
    await using client = await connectAdmitted(server.port);
    client.write(request("echo   hello    wide  world", "e"));
    await client.waitFor(okReply("e", "hello wide world"));
  });

  test("async replies come back in completion order, each with its Sequence", async () => {
    await using server = await startServer({}, setup([]));
    await using client = await connectAdmitted(server.port);
    client.write(request("SLOW 80", "slow") + request("SLOW 1", "fast") + request("COUNT", "sync"));
    const expected = GREETING + okReply("sync", "sync") + okReply("fast", "slept 1") + okReply("slow", "slept 80");
    await client.waitFor(okReply("slow", "slept 80"));
    expect(client.received).toBe(expected);
  });

  test("a handler that throws gives an ERR reply and the connection stays open", async () => {
    await using server = await startServer({}, setup([]));
    await using client = await connectAdmitted(server.port);
    client.write(request("FAIL", "1") + request("MISSING users/1", "2") + request("NOPE", "3") + request("COUNT", "4"));
    const expected =
      GREETING +
      errReply("1", "command 'FAIL' failed: disk on fire") +
      errReply("2", "not found: users/1") +
      errReply("3", "unknown command 'NOPE'") +
      okReply("4", "4");
    await client.waitFor(okReply("4", "4"));
    expect(client.received).toBe(expected);
  });

  test("handler headers follow Sequence and Size", async () => {
    await using server = await startServer({}, setup([]));
    await using client = await connectAdmitted(server.port);
    client.write(request("HEADERS", "h"));
    const expected = okReply("h", "h", [["Version", "3"], ["X-Trace", "abc"]]);
    await client.waitFor(expected);
    expect(client.received).toBe(GREETING + expected);
  });

  test("headers a handler reads after an await are its request's, as sent, however the input was cut", async () => {
    await using server = await startServer({}, setup([]));
    const heads: [string, string, [string, string][]][] = [
      ["SEEN a  b", "s1", [["If-Match", "3"], ["X-Ünï", " spaced\t"]]],
      ["seen", "s2", [["x-trace", "t:1"]]],
      ["SEEN c", "s3", []],
    ];
    const wire = heads.map(([command, sequence, headers]) => request(command, sequence, undefined, headers)).join("");
    // Sent behind them, so that its bytes go where theirs were in the slot while they sleep.
    const behind = request("ECHO overwrite the slot", "s4", undefined, [["If-Match", "999999"]]);
    const replies = heads.map(([command, sequence, headers]) => {
      const args = command.split(/ +/).slice(1);
      const sent = [["Sequence", sequence], ...headers.map(([name, value]) => [name, value.trim()])];
      const ifMatch = headers.find(([name]) => name.toLowerCase() === "if-match")?.[1] ?? null;
      return okReply(sequence, JSON.stringify({ args, ifMatch, headers: sent }));
    });
    replies.push(okReply("s4", "overwrite the slot"));
    // The client's text is Latin-1, a character per byte received.
    const received = replies.map((reply) => Buffer.from(reply).toString("latin1"));
    for (const cut of ["whole", "bytes"] as const) {
      await using client = await connectAdmitted(server.port);
      if (cut === "whole") client.write(wire);
      else for (const byte of new TextEncoder().encode(wire)) client.write(new Uint8Array([byte]));
      client.write(behind);
      const length = GREETING.length + received.join("").length;
      await client.waitFor((text) => text.length >= length);
      // The async replies come in the order they finish; each must be there, byte for byte.
      expect({ cut, length: client.received.length, missing: received.filter((reply) => !client.received.includes(reply)) }).toEqual({ cut, length, missing: [] });
    }
  });

  test("a head of exactly 8064 bytes is accepted", async () => {
    const executed: string[] = [];
    await using server = await startServer({}, setup(executed));
    await using client = await connectAdmitted(server.port);
    const base = request("COUNT", "big", undefined, [["X-Pad", ""]]);
    const head = base.replace("X-Pad: ", `X-Pad: ${"p".repeat(MAX_HEAD_BYTES - base.length)}`);
    expect(head.length).toBe(MAX_HEAD_BYTES);
    client.write(head + request("COUNT", "after"));
    await client.waitFor(okReply("after", "after"));
    expect(executed).toEqual(["big", "after"]);
  });
});

describe("write, then abort", () => {
  const faults: [string, string, string][] = [
    ["a head over 8064 bytes", `COUNT\r\nSequence: 2\r\nX-Pad: ${"p".repeat(MAX_HEAD_BYTES)}\r\n\r\n`, "message head exceeds 8064 bytes"],
    ["a head of 8065 bytes", (() => {
      const base = request("COUNT", "2", undefined, [["X-Pad", ""]]);
      return base.replace("X-Pad: ", `X-Pad: ${"p".repeat(MAX_HEAD_BYTES + 1 - base.length)}`);
    })(), "message head exceeds 8064 bytes"],
    ["an empty command line", "\r\nSequence: 2\r\n\r\n", "empty command line"],
    ["a header line without a colon", "COUNT\r\nSequence 2\r\n\r\n", 'header line without \':\': "Sequence 2"'],
    ["a control byte in the head", "COU\x01NT\r\nSequence: 2\r\n\r\n", "byte 0x01 is not allowed in a message head"],
    ["a bare LF", "COUNT\nSequence: 2\n\n", "bare LF in message head: lines end with CRLF (openssl s_client needs -crlf)"],
    ["a missing Sequence", "COUNT\r\n\r\n", "missing Sequence header"],
    ["an invalid Sequence", `COUNT\r\nSequence: ${"s".repeat(65)}\r\n\r\n`, `invalid Sequence "${"s".repeat(60)}...": expected 1 to 64 visible ASCII characters`],
    ["a repeated Sequence", "COUNT\r\nSequence: 2\r\nSequence: 3\r\n\r\n", "repeated Sequence header"],
    ["a repeated Size", "COUNT\r\nSequence: 2\r\nSize: 1\r\nSize: 1\r\n\r\nx", "repeated Size header"],
    ["an invalid Size", "COUNT\r\nSequence: 2\r\nSize: 12a\r\n\r\n", 'invalid Size "12a": expected decimal digits'],
    ["a body over the limit", "COUNT\r\nSequence: 2\r\nSize: 1025\r\n\r\n", "Size 1025 exceeds the body limit of 1024 bytes"],
  ];

  for (const [name, bad, reason] of faults) {
    test(`${name}: earlier replies, then ERR: ${reason.slice(0, 30)}..., then close; nothing after runs`, async () => {
      const executed: string[] = [];
      await using server = await startServer({ maxBody: 1024 }, setup(executed));
      await using client = await connectAdmitted(server.port);
      client.write(request("COUNT", "1") + bad + request("COUNT", "3"));
      // Keep sending after the fault: every byte must be discarded unread.
      for (let i = 0; i < 5 && !client.isClosed; i++) client.write(request("COUNT", `late${i}`));
      const received = await client.untilClosed();
      expect(received).toBe(GREETING + okReply("1", "1") + errorLine(reason));
      expect(executed).toEqual(["1"]);
    });
  }

  test("a fault cut byte by byte is found and aborts the same way", async () => {
    const executed: string[] = [];
    await using server = await startServer({}, setup(executed));
    await using client = await connectAdmitted(server.port);
    for (const byte of new TextEncoder().encode(request("COUNT", "1") + "COUNT\r\nSize: x\r\n\r\n" + request("COUNT", "3"))) {
      if (client.isClosed) break;
      client.write(new Uint8Array([byte]));
    }
    const received = await client.untilClosed();
    expect(received).toBe(GREETING + okReply("1", "1") + errorLine('invalid Size "x": expected decimal digits'));
    expect(executed).toEqual(["1"]);
  });

  test("replies of commands still running at the fault come before the ERR line; nothing is written after it", async () => {
    const executed: string[] = [];
    await using server = await startServer({}, setup(executed));
    await using client = await connectAdmitted(server.port);
    client.write(request("SLOW 50", "1") + request("COUNT", "2") + "\r\n\r\n" + request("COUNT", "3"));
    const received = await client.untilClosed();
    expect(received).toBe(GREETING + okReply("2", "2") + okReply("1", "slept 50") + errorLine("empty command line"));
    expect(executed).toEqual(["2"]);
  });

  test("a command that outlives the abort deadline is cut off with the connection", async () => {
    await using server = await startServer({ abortTimeout: 0.1 }, setup([]));
    await using client = await connectAdmitted(server.port);
    client.write(request("SLOW 2000", "1") + "\r\n\r\n");
    expect(await client.untilClosed()).toBe(GREETING);
  });
});
