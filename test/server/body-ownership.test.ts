// A request's body is the handler's to keep: the reader copies it out of the connection's slot
// (or reads it into a buffer of its own when it is larger than the slot), so the reads that
// follow, which reuse the slot, never change a body a handler held on to. Over real TLS.

import { describe, expect, test } from "bun:test";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { okReply, request } from "../support/wire.ts";

describe("a request body a handler keeps", () => {
  test("is not changed by the requests read after it, whether it fitted in the slot or not", async () => {
    const kept = new Map<string, Uint8Array>();
    await using server = await startServer({}, (s) =>
      s
        .command("KEEP", (req) => {
          kept.set(req.args[0]!, req.body);
          return "";
        })
        .command("SHOW", (req) => new TextDecoder().decode(kept.get(req.args[0]!))),
    );
    await using client = await connectAdmitted(server.port);
    const small = "s".repeat(100);
    const large = "L".repeat(20_000);
    client.write(request("KEEP small", "1", small) + request("KEEP large", "2", large));
    await client.waitFor(okReply("2"));
    // Later reads fill the slot with other bytes, over and over.
    for (let i = 0; i < 5; i++) {
      client.write(request("KEEP other", `x${i}`, "o".repeat(4000)));
      await client.waitFor(okReply(`x${i}`));
    }
    client.write(request("SHOW small", "3") + request("SHOW large", "4"));
    await client.waitFor(okReply("4", large));
    expect(client.received).toContain(okReply("3", small) + okReply("4", large));
  });
});
