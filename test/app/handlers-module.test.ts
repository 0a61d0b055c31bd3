// --handlers: a TypeScript module of the user's own commands, loaded with no build step, in
// each of the three shapes it may take; a module that fails to load or exports nothing valid
// stops the start with one clear line.

import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { isGnpError } from "../../src/index.ts";
import { loadHandlersModule } from "../../src/app/handlers-module.ts";
import { cleanupCli, freshDir, runCli } from "../cli/cli-process.ts";
import { memoryServer, injectText } from "../support/memory-client.ts";
import { GREETING, errReply, okReply, request } from "../support/wire.ts";

const CLI = resolve(import.meta.dir, "../../src/cli.ts");
afterEach(cleanupCli);

const SHAPES: [string, string][] = [
  [
    "a default setup function",
    `export default function setup(server, gnp) {
       server.command("HELLO", (req, conn) => "hello " + (req.args[0] ?? conn.identity));
       server.command("NOPE", () => { throw new gnp.GnpError("NOT_FOUND", "not found: nope"); });
     }`,
  ],
  [
    "a default object of handlers",
    `import { GnpError } from "${resolve(import.meta.dir, "../../src/errors.ts")}";
     export default {
       HELLO: async (req: { args: string[] }, conn: { identity: string }) => "hello " + (req.args[0] ?? conn.identity),
       NOPE: () => { throw new GnpError("NOT_FOUND", "not found: nope"); },
     };`,
  ],
  [
    "upper-case named functions",
    `const kit = { fail() { const e = new Error("not found: nope"); throw e; } };
     export function HELLO(req: { args: string[] }, conn: { identity: string }): string { return "hello " + (req.args[0] ?? conn.identity); }
     export function NOPE() { kit.fail(); }
     export const helperNotACommand = 1;`,
  ],
];

describe("--handlers modules", () => {
  for (const [name, source] of SHAPES) {
    test(`${name} adds commands that answer`, async () => {
      const file = join(freshDir(), "commands.ts");
      writeFileSync(file, source);
      await using server = await memoryServer();
      expect((await loadHandlersModule(server, file)).sort()).toEqual(["HELLO", "NOPE"]);
      const received = await injectText(server, request("HELLO", "1") + request("hello world", "2") + request("NOPE", "3"));
      const nope = name === "upper-case named functions" ? "command 'NOPE' failed: not found: nope" : "not found: nope";
      const replies = [okReply("1", "hello alice"), okReply("2", "hello world"), errReply("3", nope)];
      // Async handlers may answer after the sync ones: compare without order.
      expect(received.length).toBe(GREETING.length + replies.join("").length);
      expect(received).toStartWith(GREETING);
      for (const expected of replies) expect(received).toContain(expected);
    });
  }

  test("a module that exports nothing usable is HANDLERS_INVALID", async () => {
    const file = join(freshDir(), "empty.ts");
    writeFileSync(file, "export const lowercase = () => 1;");
    await using server = await memoryServer();
    const error = await loadHandlersModule(server, file).catch((thrown: unknown) => thrown);
    expect(isGnpError(error, "HANDLERS_INVALID")).toBe(true);
    expect((error as Error).message).toContain("exports no command handler");
  });

  test("the CLI stops with one line when the module has a syntax error or is missing", async () => {
    const dir = freshDir();
    writeFileSync(join(dir, "broken.ts"), "export default { HELLO: () => ; }");
    const broken = await runCli([process.execPath, CLI, "serve", "--port", "0", "--data", "d", "--handlers", "broken.ts"], { cwd: dir });
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr.trim().split("\n")).toHaveLength(1);
    expect(broken.stderr).toMatch(/^gnp: cannot load --handlers broken\.ts: /);
    const missing = await runCli([process.execPath, CLI, "serve", "--port", "0", "--data", "d", "--handlers", "nope.ts"], { cwd: dir });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toBe("gnp: cannot load --handlers nope.ts: no such file\n");
  });
});
