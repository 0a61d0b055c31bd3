// The client side of gnp's public surface: connect(), the client, its reply and push types,
// the error type it rejects with, and the incremental reply parser for callers that drive
// sockets themselves (gnp bench). src/index.ts re-exports this file for Bun; the package's
// "./client" entry (and "." under Node.js) is this file built by build-client.ts.

export { connect, GnpClient, type Subscription } from "./client.ts";
export { DEFAULT_CLIENT_HOST, DEFAULT_CLIENT_TIMEOUT_MS, type CallOptions, type ConnectOptions } from "./connect-options.ts";
export { Message, type Push, type Reply } from "./message.ts";
export type { PushListener } from "./pending-calls.ts";
export { GnpError, isGnpError, type ErrorCode } from "../errors.ts";
export { ReplyParser, DEFAULT_MAX_REPLY_BODY, type ReplyEvent, type ReplyMessage, type ReplyParserOptions } from "../protocol/reply-parser.ts";
