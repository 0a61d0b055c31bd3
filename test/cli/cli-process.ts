// The real gnp program as a child process, for tests that check what a user sees: stdout,
// stderr and the exit code. Waits are on events (a stdout line, the exit), never on time; a
// wait for a line fails as soon as the process exits without printing it. Every process is
// tracked so that an afterEach can kill whatever a failed test left running.

import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type CliRun = { exitCode: number | null; signalCode: Subprocess["signalCode"]; stdout: string; stderr: string };
export type SpawnOptions = { cwd: string; env?: Record<string, string> };

/** The environment of this test process without GNP_* variables, so none leaks into a case. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("GNP_")) env[name] = value;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

const live = new Set<CliProcess>();
const tempDirs: string[] = [];

/** A fresh empty directory, removed by cleanupCli(). */
export function freshDir(prefix = "gnp-cli-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Kills every process still running and removes the temp directories; for afterEach. */
export async function cleanupCli(): Promise<void> {
  await Promise.all([...live].map((child) => child[Symbol.asyncDispose]()));
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export class CliProcess implements AsyncDisposable {
  readonly #child: Subprocess<"ignore", "pipe", "pipe">;
  #stdout = "";
  #stderr = "";
  #waiters: { stream: "stdout" | "stderr"; pattern: RegExp; resolve: (match: RegExpMatchArray) => void; reject: (error: Error) => void }[] = [];
  /** The exit, once both output streams have been read to their end. */
  readonly done: Promise<CliRun>;

  constructor(command: string[], options: SpawnOptions) {
    this.#child = Bun.spawn(command, { cwd: options.cwd, env: options.env ?? cleanEnv(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    live.add(this);
    const out = pump(this.#child.stdout, (text) => this.#onText("stdout", text));
    const err = pump(this.#child.stderr, (text) => this.#onText("stderr", text));
    this.done = Promise.all([this.#child.exited, out, err]).then(() => {
      live.delete(this);
      const run = this.#run();
      for (const waiter of this.#waiters.splice(0)) {
        waiter.reject(new Error(`process exited (${run.exitCode ?? run.signalCode}) before ${waiter.stream} matched ${waiter.pattern}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`));
      }
      return run;
    });
  }

  get pid(): number {
    return this.#child.pid;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves with the first match of `pattern` in stdout; rejects if the process exits first. */
  waitForStdout(pattern: RegExp): Promise<RegExpMatchArray> {
    return this.#waitFor("stdout", pattern);
  }

  /** Resolves with the first match of `pattern` in stderr; rejects if the process exits first. */
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray> {
    return this.#waitFor("stderr", pattern);
  }

  #waitFor(stream: "stdout" | "stderr", pattern: RegExp): Promise<RegExpMatchArray> {
    const match = (stream === "stdout" ? this.#stdout : this.#stderr).match(pattern);
    if (match) return Promise.resolve(match);
    if (!live.has(this)) return Promise.reject(new Error(`process already exited; ${stream}: ${stream === "stdout" ? this.#stdout : this.#stderr}`));
    const { promise, resolve, reject } = Promise.withResolvers<RegExpMatchArray>();
    this.#waiters.push({ stream, pattern, resolve, reject });
    return promise;
  }

  /** Waits for `gnp listening on HOST:PORT` (text logs) or the `listening` event (JSON logs) and returns the port. */
  async listeningPort(): Promise<number> {
    const match = await this.waitForStdout(/gnp listening on (?:\[[^\]]+\]|[^\s:]+):(\d+)|"event":"listening","address":"(?:\[[^\]]+\]|[^\s:"]+):(\d+)"/);
    return Number(match[1] ?? match[2]);
  }

  /** Waits for the admin listener's URL: `admin on URL` (text logs) or the `listening` event's admin field (JSON logs). */
  async adminUrl(): Promise<string> {
    const match = await this.waitForStdout(/admin on (http:\/\/\S+)|"event":"listening",[^\n]*"admin":"(http:\/\/[^"]+)"/);
    return match[1] ?? match[2]!;
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (live.has(this)) this.#child.kill("SIGKILL");
    await this.done;
  }

  #onText(stream: "stdout" | "stderr", text: string): void {
    if (stream === "stdout") this.#stdout += text;
    else this.#stderr += text;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (waiter.stream !== stream) return true;
      const match = (stream === "stdout" ? this.#stdout : this.#stderr).match(waiter.pattern);
      if (!match) return true;
      waiter.resolve(match);
      return false;
    });
  }

  #run(): CliRun {
    return { exitCode: this.#child.exitCode, signalCode: this.#child.signalCode, stdout: this.#stdout, stderr: this.#stderr };
  }
}

/** Runs a command that is expected to finish by itself, and returns what it printed. */
export function runCli(command: string[], options: SpawnOptions): Promise<CliRun> {
  return new CliProcess(command, options).done;
}

async function pump(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  const rest = decoder.decode();
  if (rest) onText(rest);
}

/** True when `text` is exactly one line (one trailing newline) and carries no stack frame. */
export function isOneLine(text: string): boolean {
  return text.endsWith("\n") && text.indexOf("\n") === text.length - 1 && !/\n\s+at /.test(text) && !text.includes("    at ");
}
