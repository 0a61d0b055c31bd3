// What the benches share about the servers they start as child processes: the port a server
// says it listens on, read from its stdout, which is then drained so that its log can never
// fill the pipe and stall it; and a stop that escalates from SIGTERM to SIGKILL.

import type { Subprocess } from "bun";

/** gnp's text banner, `gnp listening on HOST:PORT` (servers are started with --log-format text). */
export const GNP_LISTENING = /listening on (?:\[[^\]]+\]|[^\s:]+):(\d+)/;

/** The first capture of `pattern` in the server's output, as a port number. */
export async function listeningPort(stdout: ReadableStream<Uint8Array>, options: { pattern?: RegExp; name?: string } = {}): Promise<number> {
  const pattern = options.pattern ?? GNP_LISTENING;
  const decoder = new TextDecoder();
  const reader = stdout.getReader();
  let text = "";
  for (;;) {
    const match = pattern.exec(text);
    if (match) {
      reader.releaseLock();
      void stdout.pipeTo(new WritableStream()).catch(() => {});
      return Number(match[1]);
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`${options.name ?? "the server"} exited before listening: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopChild(child: Subprocess, graceMs = 5000): Promise<void> {
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await child.exited;
  clearTimeout(timer);
}
