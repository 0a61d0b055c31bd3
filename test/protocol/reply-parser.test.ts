// The reply parser's contract: the same events however a server's bytes are cut. Every case
// is fed whole, byte by byte, at every split offset and glued to a following message; a
// seeded fuzz (seed printed, GNP_FUZZ_SEED=n replays it) cuts valid streams and garbage.

import { describe, expect, test } from "bun:test";
import { ReplyParser, type ReplyEvent } from "../../src/protocol/reply-parser.ts";
import { fuzzSeed, mulberry32 } from "../support/prng.ts";

const enc = new TextEncoder();
const bytes = (text: string) => enc.encode(text);

function reply(status: string, sequence: string, body: string | Uint8Array, extra = ""): Uint8Array {
  const b = typeof body === "string" ? bytes(body) : body;
  return concat([bytes(`${status}\r\nSequence: ${sequence}\r\nSize: ${b.length}\r\n${extra}\r\n`), b]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function message(status: "OK" | "ERR" | "PUSH", sequence: string, body: string, headers: [string, string][] = []): ReplyEvent {
  return {
    kind: "message",
    status,
    sequence,
    headers: [["Sequence", sequence], ["Size", String(bytes(body).length)], ...headers],
    body: bytes(body),
  };
}

const fault = (message: string): ReplyEvent => ({ kind: "fault", code: "BAD_REPLY", message });

/** A message's fields as plain data (its headers are made when read), other events as they are. */
function plain(event: ReplyEvent): ReplyEvent {
  if (event.kind !== "message") return event;
  return { kind: "message", status: event.status, sequence: event.sequence, headers: event.headers, body: event.body };
}

/** Feeds `input` cut at the given offsets (ascending) and returns every event. */
function feed(input: Uint8Array, cuts: number[], options?: ConstructorParameters<typeof ReplyParser>[0]): ReplyEvent[] {
  const parser = new ReplyParser(options);
  const events: ReplyEvent[] = [];
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    events.push(...parser.push(input.subarray(from, cut)).map(plain));
    from = cut;
  }
  return events;
}

type Case = { name: string; input: Uint8Array; events: ReplyEvent[]; options?: ConstructorParameters<typeof ReplyParser>[0] };

const big = "x".repeat(20_000);
const binary = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);

const cases: Case[] = [
  { name: "a greeting", input: bytes("OK\r\n"), events: [{ kind: "greeting" }] },
  {
    name: "a refusal with its reason",
    input: bytes("ERR: certificate CN=alice expired at 2026-01-31T00:00:00Z\r\n"),
    events: [{ kind: "refused", reason: "certificate CN=alice expired at 2026-01-31T00:00:00Z" }],
  },
  {
    name: "an OK reply with a body",
    input: concat([bytes("OK\r\n"), reply("OK", "1", "PONG")]),
    events: [{ kind: "greeting" }, message("OK", "1", "PONG")],
  },
  {
    name: "an ERR reply, which is not a connection error",
    input: concat([bytes("OK\r\n"), reply("ERR", "a-7", "unknown command 'FOO'")]),
    events: [{ kind: "greeting" }, message("ERR", "a-7", "unknown command 'FOO'")],
  },
  {
    name: "a push with extra headers and an empty body",
    input: concat([bytes("OK\r\n"), reply("PUSH", "9", "", "Topic: news\r\nX-Empty:\r\n")]),
    events: [{ kind: "greeting" }, message("PUSH", "9", "", [["Topic", "news"], ["X-Empty", ""]])],
  },
  {
    name: "bodies holding CRLF CRLF, ERR: and a large payload",
    input: concat([bytes("OK\r\n"), reply("OK", "1", "a\r\n\r\nERR: no\r\n"), reply("OK", "2", big), reply("OK", "3", binary)]),
    events: [
      { kind: "greeting" },
      message("OK", "1", "a\r\n\r\nERR: no\r\n"),
      message("OK", "2", big),
      { kind: "message", status: "OK", sequence: "3", headers: [["Sequence", "3"], ["Size", "300"]], body: binary },
    ],
  },
  {
    name: "replies out of order followed by a connection-level error",
    input: concat([bytes("OK\r\n"), reply("OK", "2", "b"), reply("OK", "1", "a"), bytes("ERR: server is shutting down\r\nOK\r\n")]),
    events: [{ kind: "greeting" }, message("OK", "2", "b"), message("OK", "1", "a"), { kind: "connection-error", reason: "server is shutting down" }],
  },
  {
    name: "a parser told the greeting was already consumed",
    input: reply("OK", "1", "x"),
    events: [message("OK", "1", "x")],
    options: { expectGreeting: false },
  },
  {
    name: "a greeting from something that is not a gnp server",
    input: bytes("SSH-2.0-OpenSSH\r\n"),
    events: [fault('not a gnp greeting: byte 0 is 0x53, expected "OK" CRLF or "ERR: <reason>" CRLF')],
  },
  {
    name: "a greeting without its CRLF",
    input: bytes("OK\nOK\r\n"),
    events: [fault('not a gnp greeting: byte 2 is 0x0a, expected "OK" CRLF or "ERR: <reason>" CRLF')],
  },
  {
    name: "an unknown status line",
    input: bytes("OK\r\nHELLO\r\nSequence: 1\r\nSize: 0\r\n\r\n"),
    events: [{ kind: "greeting" }, fault('invalid status line "HELLO": expected OK, ERR or PUSH')],
  },
  {
    name: "a reply without a Sequence",
    input: bytes("OK\r\nOK\r\nSize: 0\r\n\r\n"),
    events: [{ kind: "greeting" }, fault("OK message without a Sequence header")],
  },
  {
    name: "a reply without a Size",
    input: bytes("OK\r\nOK\r\nSequence: 1\r\n\r\n"),
    events: [{ kind: "greeting" }, fault("OK message without a Size header")],
  },
  {
    name: "a reply with an invalid Size",
    input: bytes("OK\r\nOK\r\nSequence: 1\r\nSize: 4x\r\n\r\n"),
    events: [{ kind: "greeting" }, fault('invalid Size "4x": expected decimal digits')],
  },
  {
    name: "a reply with a bare LF",
    input: bytes("OK\r\nOK\nSequence: 1\r\n\r\n"),
    events: [{ kind: "greeting" }, fault("bare LF in message head: lines end with CRLF (openssl s_client needs -crlf)")],
  },
  {
    name: "a head over 8064 bytes",
    input: bytes(`OK\r\nOK\r\nSequence: 1\r\nX: ${"y".repeat(8100)}\r\n\r\n`),
    events: [{ kind: "greeting" }, fault("message head exceeds 8064 bytes")],
  },
  {
    name: "a body over the configured limit",
    input: concat([bytes("OK\r\n"), reply("OK", "1", "12345")]),
    events: [{ kind: "greeting" }, fault("Size 5 exceeds the body limit of 4 bytes")],
    options: { maxBody: 4 },
  },
  {
    name: "an error line over 8064 bytes",
    input: bytes(`OK\r\nERR: ${"z".repeat(8100)}\r\n`),
    events: [{ kind: "greeting" }, fault("error line exceeds 8064 bytes")],
  },
  {
    name: "an error line ended by a bare LF",
    input: bytes("OK\r\nERR: gone\n"),
    events: [{ kind: "greeting" }, fault("bare LF in an error line: lines end with CRLF")],
  },
];

// Appended after a case to check that nothing from the case leaks into the next message.
const glue = reply("OK", "glued", "next");

describe("ReplyParser", () => {
  for (const c of cases) {
    test(`parses ${c.name} fed whole`, () => {
      expect(feed(c.input, [], c.options)).toEqual(c.events);
    });

    test(`parses ${c.name} fed byte by byte`, () => {
      const cuts = Array.from({ length: c.input.length - 1 }, (_, i) => i + 1);
      expect(feed(c.input, cuts, c.options)).toEqual(c.events);
    });

    test(`parses ${c.name} split at every offset`, () => {
      // Large inputs are cut at every offset near the message boundaries and at a stride elsewhere.
      const step = c.input.length > 2000 ? 97 : 1;
      for (let cut = 1; cut < c.input.length; cut += step) {
        const got = feed(c.input, [cut], c.options);
        if (!Bun.deepEquals(got, c.events)) throw new Error(`split at ${cut} of ${c.name}: ${JSON.stringify(got)}`);
      }
    });

    test(`parses ${c.name} glued to a following message`, () => {
      const last = c.events.at(-1);
      const ended = last !== undefined && (last.kind === "fault" || last.kind === "refused" || last.kind === "connection-error");
      const greeting = c.options?.expectGreeting === false || c.events.some((e) => e.kind === "greeting");
      const input = concat([c.input, glue]);
      const expected = ended || !greeting ? c.events : [...c.events, message("OK", "glued", "next")];
      // Split at the seam and one byte either side, where a parser that overreads would show it.
      for (const cut of [c.input.length - 1, c.input.length, c.input.length + 1]) {
        expect(feed(input, [cut], c.options)).toEqual(expected);
      }
      expect(feed(input, [], c.options)).toEqual(expected);
    });
  }

  test("gives the same events with reuseHeads, for every case whole and split at every offset", () => {
    for (const c of cases) {
      const options = { ...c.options, reuseHeads: true };
      const step = c.input.length > 2000 ? 97 : 1;
      for (let cut = 0; cut < c.input.length; cut += step) {
        const got = feed(concat([c.input, c.input]), cut === 0 ? [] : [cut], options);
        const expected = feed(concat([c.input, c.input]), cut === 0 ? [] : [cut], c.options);
        if (!Bun.deepEquals(got, expected)) throw new Error(`reuseHeads, split at ${cut} of ${c.name}: ${JSON.stringify(got)}`);
      }
    }
  });

  test("with reuseHeads, parses a repeated head once and still tells 2,000 distinct heads apart", () => {
    const parser = new ReplyParser({ expectGreeting: false, reuseHeads: true });
    const first = parser.push(reply("OK", "7", "a"));
    const again = parser.push(reply("OK", "7", "b"));
    expect((first[0] as { headers: unknown }).headers).toBe((again[0] as { headers: unknown }).headers);
    const events = Array.from({ length: 2000 }, (_, i) => parser.push(reply("OK", `s${i}`, String(i)))[0] as { sequence: string });
    expect(events.every((event, i) => event.sequence === `s${i}`)).toBe(true);
  });

  test("makes a message's headers when they are first read, once, in wire order", () => {
    const parser = new ReplyParser({ expectGreeting: false });
    const [event] = parser.push(reply("OK", "9", "v", "Version: 12\r\nX-Trace:  a b \r\n"));
    if (event?.kind !== "message") throw new Error(`expected a message, got ${JSON.stringify(event)}`);
    expect(event.headers).toEqual([["Sequence", "9"], ["Size", "1"], ["Version", "12"], ["X-Trace", "a b"]]);
    expect(event.headers).toBe(event.headers);
    // Read after later input overwrote the parser's buffer, they are still this message's.
    parser.push(reply("OK", "10", "w", "Version: 13\r\n"));
    expect(event.headers[2]).toEqual(["Version", "12"]);
  });

  test("ignores every byte after a fault", () => {
    const parser = new ReplyParser();
    expect(parser.push(bytes("XOK\r\n"))[0]?.kind).toBe("fault");
    expect(parser.done).toBe(true);
    expect(parser.push(bytes("OK\r\n"))).toEqual([]);
  });

  test("reports a partial message as midMessage until it completes", () => {
    const parser = new ReplyParser();
    parser.push(bytes("OK\r\nOK\r\nSequence: 1\r\nSize: 3\r\n\r\nab"));
    expect(parser.midMessage).toBe(true);
    parser.push(bytes("c"));
    expect(parser.midMessage).toBe(false);
  });

  test("rejects a negative maxBody with a RangeError", () => {
    expect(() => new ReplyParser({ maxBody: -1 })).toThrow(RangeError);
  });

  test("parses a 4 MiB body fed in 1 KiB chunks without copying it quadratically", () => {
    // Not a timing assertion: a quadratic parser would take minutes here, a linear one milliseconds.
    const body = new Uint8Array(4 * 1024 * 1024).fill(0x61);
    const input = concat([bytes("OK\r\n"), reply("OK", "1", body)]);
    const cuts: number[] = [];
    for (let at = 1000; at < input.length; at += 1024) cuts.push(at);
    const events = feed(input, cuts);
    expect(events.length).toBe(2);
    expect((events[1] as { body: Uint8Array }).body.length).toBe(body.length);
  });
});

describe("ReplyParser fuzz", () => {
  const seed = fuzzSeed();
  console.log(`reply-parser fuzz seed ${seed} (GNP_FUZZ_SEED=${seed} replays it)`);

  test("gives the same events for random streams cut at random places, with and without garbage", () => {
    const random = mulberry32(seed);
    const int = (n: number) => Math.floor(random() * n);
    const alphabet = bytes("OKERRPUSH:Sequence Size\r\n0123456789 \t\x00\xff");
    for (let round = 0; round < 300; round++) {
      const parts: Uint8Array[] = [bytes("OK\r\n")];
      const count = 1 + int(8);
      for (let m = 0; m < count; m++) {
        const body = Uint8Array.from({ length: int(3) === 0 ? int(5000) : int(40) }, () => int(256));
        const status = ["OK", "ERR", "PUSH"][int(3)]!;
        // Few distinct Sequences, so that reuseHeads meets the same head again.
        parts.push(reply(status, `s${int(3)}`, body, int(4) === 0 ? "X-Trace: abc\r\n" : ""));
      }
      if (int(3) === 0) parts.push(bytes("ERR: bye\r\n"));
      let input = concat(parts);
      if (int(2) === 0) {
        // Garbage: flip or insert a few bytes from an alphabet of protocol-looking bytes.
        input = Uint8Array.from(input);
        for (let k = 0; k < 1 + int(4); k++) input[int(input.length)] = alphabet[int(alphabet.length)]!;
      }
      const whole = feed(input, []);
      const cuts = new Set<number>();
      for (let k = int(20); k > 0; k--) cuts.add(1 + int(Math.max(1, input.length - 1)));
      const sorted = [...cuts].filter((c) => c < input.length).sort((a, b) => a - b);
      let got: ReplyEvent[];
      try {
        // Odd rounds also check that remembering heads changes nothing.
        got = feed(input, sorted, { reuseHeads: round % 2 === 1 });
      } catch (error) {
        throw new Error(`seed ${seed} round ${round}: parser threw ${String(error)}`);
      }
      if (!Bun.deepEquals(got, whole)) throw new Error(`seed ${seed} round ${round}: events differ at cuts ${sorted.join(",")}`);
      const last = whole.at(-1);
      expect(last === undefined || last.kind !== "fault" || whole.indexOf(last) === whole.length - 1).toBe(true);
    }
  });
});
