// `--handlers FILE`: a TypeScript or JavaScript module of the user's own commands, loaded at
// start-up with no build step (Bun transpiles it, from source or inside the compiled
// executable). A module may export, in order of preference:
//   export default function setup(server, gnp) { server.command("HELLO", ...) }
//   export default { HELLO: (req, conn) => ..., ... }
//   export function HELLO(req, conn) { ... }          (upper-case named exports)
// `gnp` holds GnpError and json, so a module needs no import of its own from gnp.

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { GnpError } from "../errors.ts";
import { json, type CommandHandler } from "../server/request.ts";
import type { GnpServer } from "../server/server.ts";

const COMMAND_EXPORT = /^[A-Z][A-Z0-9_]*$/;

/** What a setup function receives besides the server. */
export const HANDLER_KIT = Object.freeze({ GnpError, json });

export type HandlerSetup = (server: GnpServer, gnp: typeof HANDLER_KIT) => void | Promise<void>;

/** Loads `file` and registers what it exports on `server`. Returns the command names added. */
export async function loadHandlersModule(server: GnpServer, file: string): Promise<string[]> {
  const path = resolve(file);
  if (!existsSync(path)) throw new GnpError("HANDLERS_INVALID", `cannot load --handlers ${file}: no such file`);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new GnpError("HANDLERS_INVALID", `cannot load --handlers ${file}: ${describeLoadError(error)}`, { cause: error });
  }
  const before = new Set(server.commands);
  const registrationsBefore = server.registrations;
  const registered: string[] = [];
  const fallback = module.default;
  if (typeof fallback === "function") {
    try {
      await (fallback as HandlerSetup)(server, HANDLER_KIT);
    } catch (error) {
      throw new GnpError("HANDLERS_INVALID", `--handlers ${file}: its setup function threw: ${(error as Error).message ?? error}`, { cause: error });
    }
  } else {
    const table = fallback !== null && typeof fallback === "object" ? (fallback as Record<string, unknown>) : module;
    for (const [name, handler] of Object.entries(table)) {
      if (!COMMAND_EXPORT.test(name)) continue;
      if (typeof handler !== "function") {
        throw new GnpError("HANDLERS_INVALID", `--handlers ${file}: export ${name} is not a function`);
      }
      server.command(name, handler as CommandHandler);
      registered.push(name);
    }
  }
  if (typeof fallback === "function") {
    const added = server.commands.filter((name) => !before.has(name));
    // Replacing a built-in (say GET) adds no name: count registrations, not names.
    if (server.registrations === registrationsBefore) {
      throw new GnpError("HANDLERS_INVALID", `--handlers ${file}: its setup function registered no command`);
    }
    return added;
  }
  if (registered.length === 0) {
    throw new GnpError(
      "HANDLERS_INVALID",
      `--handlers ${file} exports no command handler: export a default setup(server) function, a default { NAME: handler } object, or upper-case named functions`,
    );
  }
  return registered;
}

/** Bun's build errors carry the first problem with its position; say that, not "2 errors building". */
function describeLoadError(error: unknown): string {
  const first = (error as { errors?: { message?: string; position?: { line?: number; column?: number } | null }[] }).errors?.[0];
  if (first?.message) {
    const where = first.position?.line !== undefined ? ` (line ${first.position.line}, column ${(first.position.column ?? 0) + 1})` : "";
    return `${first.message}${where}`;
  }
  return error instanceof Error ? (error.message.split("\n")[0] ?? error.message) : String(error);
}
