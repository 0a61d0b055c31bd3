// A preload for a gnp server under a bench (`bun --preload bench/loop-stalls.ts src/cli.ts
// serve`): it records the event loop's stalls (how late a 1 ms timer fires) and, time-stamped,
// every socket read (Bun.listen's data callback) and every message from a worker (a round's
// results from the commit thread), and writes them as JSON to $GNP_STALLS_OUT at exit, so a
// bench can say what the loop was doing while another client's request waited.

import { writeFileSync } from "node:fs";

const out = process.env.GNP_STALLS_OUT;
if (out) {
  const origin = performance.now();
  const stalls: number[] = [];
  const reads: number[] = [];
  const messages: number[] = [];
  let last = performance.now();
  // Lateness of a 1 ms timer: a gap above 2 ms is a stretch the loop spent on something else.
  setInterval(() => {
    const now = performance.now();
    if (now - last > 2) stalls.push(last - origin, now - origin);
    last = now;
  }, 1).unref();

  const listen = Bun.listen;
  Bun.listen = ((options: Parameters<typeof Bun.listen>[0]) => {
    const handler = options.socket as { data?: (...args: unknown[]) => void };
    const data = handler.data;
    if (data === undefined) return listen(options);
    return listen({
      ...options,
      socket: {
        ...options.socket,
        data(...args: unknown[]) {
          reads.push(performance.now() - origin);
          return data.apply(handler, args);
        },
      },
    } as typeof options);
  }) as typeof Bun.listen;

  const Original = globalThis.Worker;
  globalThis.Worker = class extends Original {
    constructor(...args: ConstructorParameters<typeof Worker>) {
      super(...args);
      this.addEventListener("message", () => messages.push(performance.now() - origin));
    }
  } as typeof Worker;

  process.on("exit", () => writeFileSync(out, JSON.stringify({ stalls, reads, messages })));
}
