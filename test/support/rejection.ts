// The GnpError a promise rejects with, for tests that check codes and messages; a promise that
// resolves, or rejects with anything else, fails the test.

import { GnpError } from "../../src/errors.ts";

export async function rejection(promise: Promise<unknown>): Promise<GnpError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GnpError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}
