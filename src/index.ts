// gnp's public surface: the server, its handler API, the client, the error type and the
// protocol's framing, for programs that embed gnp. Everything else is internal.

export { createServer, GnpServer, type ServerStats, type CommandOptions } from "./server/server.ts";
export type { Authorizer, KeyAccess, KeyAuthorizer, KeyScope } from "./server/permissions.ts";
export { inScope, narrowScope } from "./server/key-prefixes.ts";
export { GnpRequest, json, type CommandHandler, type HandlerResult, type ReplyInit, type RequestParts } from "./server/request.ts";
/** @deprecated The old name of GnpRequest; it shadows the Fetch API's global `Request` where imported. */
export { GnpRequest as Request } from "./server/request.ts";
export { Connection, describeClient, type ClientCertificate } from "./server/connection.ts";
export type { ServerEvents, RefusalInfo, CloseInfo } from "./server/hooks.ts";
export type { InMemoryConnection, InMemoryOptions } from "./server/memory-transport.ts";
export {
  resolveOptions,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_BODY,
  DEFAULT_MAX_OUTPUT,
  DEFAULT_IDLE_TIMEOUT_S,
  DEFAULT_HANDSHAKE_TIMEOUT_S,
  type ServerOptions,
  type ResolvedOptions,
} from "./options.ts";
export { GnpError, isGnpError, ERROR_CATALOG, refusalCodes, type ErrorCode, type ErrorKind, type RefusalCode, type RefusalKind } from "./errors.ts";
export type { TrustPolicy } from "./certs/trust-policy.ts";
export { registerBuiltinCommands } from "./app/builtin-commands.ts";
export { MemoryStore } from "./app/memory-store.ts";
export { SqliteStore } from "./app/sqlite-store.ts";
export type { DocumentStore, StoredDocument, Change, ChangeListener, StoreInfo } from "./app/document-store.ts";
export { registerWatchCommands, WatchRegistry } from "./app/watch-commands.ts";
export { registerInfoCommands } from "./app/info-commands.ts";
export { MAX_HEAD_BYTES } from "./protocol/head-scanner.ts";
export * from "./client/index.ts";
export { VERSION } from "./version.ts";
