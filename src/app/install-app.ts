// Everything `gnp serve` answers, installed on a server in one call: the document commands,
// WATCH/UNWATCH, WHOAMI/INFO/TIME, then the user's --handlers module (which may replace any
// of them). The library user picks pieces; `gnp serve` (src/serve/serve.ts) takes them all.

import type { GnpServer } from "../server/server.ts";
import { registerBuiltinCommands } from "./builtin-commands.ts";
import type { DocumentStore } from "./document-store.ts";
import { loadHandlersModule } from "./handlers-module.ts";
import { registerInfoCommands, type PermissionsOf } from "./info-commands.ts";
import { registerWatchCommands } from "./watch-commands.ts";

export type AppOptions = { handlersFile?: string | undefined; permissionsOf?: PermissionsOf };

/** What installApp made: the commands the handlers module added, and how many watches are open. */
export type InstalledApp = { added: string[]; watchesOpen: () => number };

/** Installs the app. */
export async function installApp(server: GnpServer, store: DocumentStore, options: AppOptions = {}): Promise<InstalledApp> {
  registerBuiltinCommands(server, store);
  const watches = registerWatchCommands(server, store);
  registerInfoCommands(server, store, {
    watchers: () => watches.size,
    ...(options.permissionsOf ? { permissionsOf: options.permissionsOf } : {}),
  });
  const added = options.handlersFile === undefined ? [] : await loadHandlersModule(server, options.handlersFile);
  return { added, watchesOpen: () => watches.size };
}
