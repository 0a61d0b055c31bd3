// Loaded into the measured server by `bench/idle-rss.ts --gc` (bun --preload), never by gnp
// itself: on SIGUSR2 it runs a full garbage collection and prints one line with the JS heap,
// so that the bench reads RSS without the garbage of the handshakes still in it.
import { heapStats } from "bun:jsc";

let samples = 0;
process.on("SIGUSR2", () => {
  Bun.gc(true);
  Bun.gc(true);
  const { heapSize, extraMemorySize } = heapStats();
  process.stdout.write(`idle-rss heap sample ${++samples}: ${heapSize} ${extraMemorySize}\n`);
});
