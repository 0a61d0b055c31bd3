// After a busy stretch, a quiet `gnp serve` runs one full collection to give its garbage back:
// JavaScriptCore collects as the program allocates, so what a load left behind stayed until the
// next load (after watchers that never read, the server stayed 25% above idle in one run of the
// hostile bench). The rule on its own with memory readings stood in, then a real server.

import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { MemoryReducer, QUIET_COMMANDS } from "../../src/serve/memory-reducer.ts";
import { okReply, request } from "../support/wire.ts";
import { CliProcess, cleanupCli, freshDir } from "../cli/cli-process.ts";
import { PipelineClient } from "./pipeline-client.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
const MiB = 2 ** 20;
afterEach(cleanupCli);

describe("the memory reducer's rule", () => {
  /** A reducer that never looks by itself: the test calls check(). */
  function reducerOver(start: number) {
    const state = { rss: start, collected: 0, activity: { commandsServed: 0, bytesIn: 0, bytesOut: 0 } };
    const reducer = new MemoryReducer(state.activity, {
      intervalMs: 3_600_000,
      rss: () => state.rss,
      collect: () => {
        state.collected++;
        state.rss = start + 10 * MiB; // what is left is live
      },
    });
    return { state, reducer };
  }

  test("collects once memory grew and the server went quiet, never while it is busy", () => {
    const { state, reducer } = reducerOver(100 * MiB);
    try {
      state.rss = 200 * MiB;
      state.activity.commandsServed += QUIET_COMMANDS * 5;
      expect(reducer.check()).toBe(false); // busy
      state.activity.commandsServed += 10;
      expect(reducer.check()).toBe(true); // quiet, and 100 MiB up
      expect(state.collected).toBe(1);
      // 110 MiB is live now: no collection again until memory grows past that.
      expect(reducer.check()).toBe(false);
      state.rss = 118 * MiB;
      expect(reducer.check()).toBe(false); // 7.3% and 8 MiB above: not enough
      state.rss = 122 * MiB;
      expect(reducer.check()).toBe(true);
      expect(reducer.collections).toBe(2);
    } finally {
      reducer.stop();
    }
  });

  test("bytes count as load too, and memory the runtime gave back lowers the mark", () => {
    const { state, reducer } = reducerOver(100 * MiB);
    try {
      state.rss = 300 * MiB;
      state.activity.bytesOut += 64 * MiB; // few commands, many bytes: a watcher being fed
      expect(reducer.check()).toBe(false);
      state.rss = 60 * MiB; // collected by the runtime meanwhile
      expect(reducer.check()).toBe(false);
      state.rss = 68 * MiB; // 13% and 8 MiB above the new mark
      expect(reducer.check()).toBe(true);
    } finally {
      reducer.stop();
    }
  });
});

test("a real server collects the garbage a busy stretch left once it goes quiet, and says so", async () => {
  const cwd = freshDir();
  // HOLD makes 160 MiB of buffers, written so that they are resident; DROP lets go of them, and
  // after that nothing allocates: only a collection gives the memory back.
  writeFileSync(
    join(cwd, "hold.ts"),
    `let held: Uint8Array[] = [];
export default {
  HOLD: () => { held = Array.from({ length: 160 }, () => new Uint8Array(1 << 20).fill(7)); return String(held.length); },
  DROP: () => { held = []; return "dropped"; },
};
`,
  );
  const server = new CliProcess(
    [process.execPath, CLI, "serve", "--port", "0", "--data", "d", "--store", "memory:", "--handlers", "hold.ts", "--log-format", "json", "--log-level", "debug"],
    { cwd },
  );
  const port = await server.listeningPort();
  const read = (name: string) => readFileSync(join(cwd, "d", "pki", name), "utf8");
  await using client = await PipelineClient.connect(port, { cert: read("client.crt"), key: read("client.key"), ca: read("ca.crt") });
  client.write(request("HOLD", "1"));
  await client.waitFor(okReply("1", "160"));
  client.write(request("DROP", "2"));
  await client.waitFor(okReply("2", "dropped"));
  const [line] = await server.waitForStdout(/\{[^\n]*"memory collected after a busy stretch"[^\n]*\}/);
  const event = JSON.parse(line) as { rss_before: number; rss_after: number; gc_ms: number };
  expect(event.rss_before).toBeGreaterThan(event.rss_after + 100 * MiB);
  server.kill("SIGTERM");
  expect((await server.done).exitCode).toBe(0);
}, 30_000);
