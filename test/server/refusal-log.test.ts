// The refuse hooks hear of each remote address and code once per interval, then once more with
// the count of what came meanwhile: a flood is two log lines, not one per socket.

import { expect, test } from "bun:test";
import { RefusalLog } from "../../src/server/refusal-log.ts";
import type { RefusalInfo } from "../../src/index.ts";

const from = (remoteAddress: string, code: RefusalInfo["code"] = "ADDRESS_LIMIT"): RefusalInfo => ({ code, reason: `limit of ${remoteAddress}`, remoteAddress });

test("refusals of one address and code within the interval are folded into one summary with their count", () => {
  const heard: RefusalInfo[] = [];
  const log = new RefusalLog((info) => heard.push(info), 1000);
  for (let i = 0; i < 50; i++) log.refuse(from("127.0.0.2"), 100 + i);
  log.refuse(from("127.0.0.3"), 200);
  log.refuse(from("127.0.0.2", "HANDSHAKE_EVICTED"), 300);
  log.flush(900);
  expect(heard.map((info) => [info.remoteAddress, info.code, info.repeated])).toEqual([
    ["127.0.0.2", "ADDRESS_LIMIT", undefined],
    ["127.0.0.3", "ADDRESS_LIMIT", undefined],
    ["127.0.0.2", "HANDSHAKE_EVICTED", undefined],
  ]);
  log.flush(1100);
  expect(heard.slice(3).map((info) => [info.remoteAddress, info.code, info.repeated])).toEqual([["127.0.0.2", "ADDRESS_LIMIT", 49]]);
  // A new interval starts with an event of its own.
  log.refuse(from("127.0.0.2"), 1200);
  expect(heard.slice(4).map((info) => [info.remoteAddress, info.repeated])).toEqual([["127.0.0.2", undefined]]);
});

test("a refusal after the interval ends flushes the summary first, so none is lost without a timer", () => {
  const heard: RefusalInfo[] = [];
  const log = new RefusalLog((info) => heard.push(info), 1000);
  log.refuse(from("10.0.0.1"), 0);
  log.refuse(from("10.0.0.1"), 10);
  log.refuse(from("10.0.0.1"), 2000);
  expect(heard.map((info) => info.repeated)).toEqual([undefined, 1, undefined]);
});
