// The client side of gnp's public surface: connect(), the client, its reply and push types,
// and the incremental reply parser for callers that drive sockets themselves (gnp bench).
// src/index.ts re-exports this file; nothing here imports the server.

export { connect, GnpClient, type Subscription } from "./client.ts";
export { DEFAULT_CLIENT_HOST, DEFAULT_CLIENT_TIMEOUT_MS, type CallOptions, type ConnectOptions } from "./connect-options.ts";
export { Message, type Push, type Reply } from "./message.ts";
export type { PushListener } from "./pending-calls.ts";
export { ReplyParser, DEFAULT_MAX_REPLY_BODY, type ReplyEvent, type ReplyMessage, type ReplyParserOptions } from "../protocol/reply-parser.ts";
