// The queue of connections waiting for a turn keeps their order however many are taken and
// added between turns, including past the point where it drops what was taken.

import { expect, test } from "bun:test";
import { HandleQueue } from "../../src/server/handle-queue.ts";

test("handles come out in the order they went in, across the queue's compaction", () => {
  const queue = new HandleQueue();
  expect(queue.shift()).toBeUndefined();
  let next = 0;
  let expected = 0;
  // Take 3 for every 2 added, after 5,000 up front: the taken part passes 1,024 and half many times.
  for (let i = 0; i < 5000; i++) queue.push(next++);
  while (queue.length > 0) {
    for (let i = 0; i < 3 && queue.length > 0; i++) expect(queue.shift()).toBe(expected++);
    if (next < 9000) for (let i = 0; i < 2; i++) queue.push(next++);
  }
  expect(expected).toBe(next);
  expect(queue.shift()).toBeUndefined();
  queue.push(42);
  expect(queue.length).toBe(1);
  expect(queue.shift()).toBe(42);
});
