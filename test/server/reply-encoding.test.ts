// Replies as a client receives them over real TLS, byte for byte what PROTOCOL.md section 3
// lays out, now that the server encodes them as bytes into pooled output buffers: non-ASCII
// bodies, handler headers with non-ASCII values, a head larger than one output buffer, a
// binary body larger than one, a body given as parts, and a push among replies.

import { describe, expect, test } from "bun:test";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { okReply, reply, request } from "../support/wire.ts";

describe("replies over TLS", () => {
  test("arrive byte for byte as the wire builders lay them out, whatever their size and characters", async () => {
    const big = "v".repeat(20_000);
    await using server = await startServer({}, (s) =>
      s
        .command("TEXT", () => "naïve café 日本 😀")
        .command("HEADERS", () => ({ body: "b", headers: [["X-Note", "a\tb é"], ["X-Big", big]] }))
        .command("BYTES", () => new Uint8Array(40_000).fill(0x61))
        .command("NOTIFY", (req, conn) => {
          conn.push(req.sequence, "pushed ü", [["Key", "k"]]);
          return "done";
        }),
    );
    await using client = await connectAdmitted(server.port);
    client.write(request("TEXT", "1") + request("HEADERS", "2") + request("BYTES", "3") + request("NOTIFY", "4"));
    const expected =
      okReply("1", "naïve café 日本 😀") +
      okReply("2", "b", [["X-Note", "a\tb é"], ["X-Big", big]]) +
      okReply("3", "a".repeat(40_000)) +
      reply("PUSH", "4", "pushed ü", [["Key", "k"]]) +
      okReply("4", "done");
    await client.waitFor(okReply("4", "done"));
    // The raw client holds what it received a byte a character (Latin-1).
    expect(client.received.slice(client.received.indexOf("OK\r\nSequence: 1"))).toBe(Buffer.from(expected).toString("latin1"));
  });

  test("a body given as parts leaves as the parts one after the other, and a part that is not bytes is the handler's fault", async () => {
    const large = new Uint8Array(70_000).fill(0x62);
    await using server = await startServer({}, (s) =>
      s
        .command("PARTS", () => [new Uint8Array([0x61, 0x62]), large, new Uint8Array(0), new Uint8Array([0x63])])
        .command("WRAPPED", () => ({ body: [new TextEncoder().encode("x"), new TextEncoder().encode("y")], headers: [["Count", "2"]] }))
        .command("BAD", () => ({ body: [new Uint8Array(1), "text"] }) as never),
    );
    await using client = await connectAdmitted(server.port);
    client.write(request("PARTS", "1") + request("WRAPPED", "2") + request("BAD", "3"));
    const expected =
      okReply("1", `ab${"b".repeat(70_000)}c`) +
      okReply("2", "xy", [["Count", "2"]]) +
      reply("ERR", "3", "command 'BAD' failed: a reply body's part 1 is string: expected a Uint8Array", []);
    await client.waitFor((text) => text.endsWith("expected a Uint8Array"));
    expect(client.received.slice(client.received.indexOf("OK\r\nSequence: 1"))).toBe(expected);
  });
});
