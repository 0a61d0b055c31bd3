// The commit worker: a thread that owns the SQLite write connection, so the fsync of a
// commit never blocks the event loop (reads, PINGs and handshakes go on meanwhile). It gets
// one round at a time (sqlite-batch.ts), commits it with SqliteWriter and answers with
// the results, or with the failure's message: a full disk or an I/O error is an answer too.
// build.ts lists this file as a second entry point of the compiled executable.

import { decodeRound, type EncodedRound, type SqliteSync } from "./sqlite-batch.ts";
import { SqliteWriter } from "./sqlite-writer.ts";

export type ToWorker =
  | { readonly type: "open"; readonly path: string; readonly sync: SqliteSync }
  | { readonly type: "commit"; readonly round: number; readonly writes: EncodedRound }
  | { readonly type: "close" };

export type FromWorker =
  | { readonly type: "opened" }
  | { readonly type: "committed"; readonly round: number; readonly results: Float64Array }
  | { readonly type: "failed"; readonly round: number | undefined; readonly message: string }
  | { readonly type: "closed" };

declare var self: Worker;

let writer: SqliteWriter | undefined;
let openFailure: string | undefined;

function answer(message: FromWorker, transfer: Bun.Transferable[] = []): void {
  self.postMessage(message, transfer);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Installed before anything is awaited, so no message posted during start-up is dropped.
self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "open":
      try {
        writer = new SqliteWriter(message.path, message.sync);
        answer({ type: "opened" });
      } catch (error) {
        openFailure = describe(error);
        answer({ type: "failed", round: undefined, message: openFailure });
      }
      return;
    case "commit": {
      if (writer === undefined) {
        answer({ type: "failed", round: message.round, message: openFailure ?? "the store's writer is not open" });
        return;
      }
      try {
        const results = writer.commit(decodeRound(message.writes));
        answer({ type: "committed", round: message.round, results }, [results.buffer as ArrayBuffer]);
      } catch (error) {
        answer({ type: "failed", round: message.round, message: describe(error) });
      }
      return;
    }
    case "close":
      try {
        writer?.close();
      } finally {
        writer = undefined;
        answer({ type: "closed" });
      }
      return;
  }
};
