// WATCH and a subscriber that stops reading, over real TLS: pushes cannot be held back by
// pausing input, so a watcher whose queued output passes --max-output is cut off, and the
// writers whose changes it watches are not slowed down by it.

import { expect, test } from "bun:test";
import { MemoryStore, type CloseInfo } from "../../src/index.ts";
import { installApp } from "../../src/app/install-app.ts";
import { connectAdmitted, startServer } from "../support/harness.ts";
import { okReply, request } from "../support/wire.ts";

test("a watcher that stops reading is cut off at the output limit and slows no writer", async () => {
  const store = new MemoryStore();
  const cut = Promise.withResolvers<CloseInfo>();
  await using server = await startServer({ maxOutput: 256 * 1024, maxBody: 128 * 1024 });
  await installApp(server, store);
  server.on("close", (_conn, info) => {
    if (info?.code === "OUTPUT_OVERFLOW") cut.resolve(info);
  });
  const watcher = await connectAdmitted(server.port);
  await using writer = await connectAdmitted(server.port);
  watcher.write(request("WATCH big/", "w"));
  await watcher.waitFor(okReply("w"));
  watcher.socket.pause();
  const value = "v".repeat(100 * 1024);
  let cutOff = false;
  void cut.promise.then(() => (cutOff = true));
  // Bounded: at most 200 PUTs of 100 KiB, 20 MiB of pushes for a watcher that reads none.
  let sent = 0;
  for (; sent < 200 && !cutOff; sent++) {
    writer.write(request(`PUT big/${sent}`, String(sent), value));
    await writer.waitFor(`Sequence: ${sent}\r\n`);
  }
  expect((await cut.promise)?.code).toBe("OUTPUT_OVERFLOW");
  writer.write(request("PUT big/after", "after", "x"));
  await writer.waitFor(okReply("after", "", [["Version", "1"]]));
  expect(writer.received).not.toContain("ERR");
  watcher.socket.resume();
  await watcher.closed;
});
