// `gnp certs` run in-process with its output captured, and the shape every failure of it has:
// the given status, nothing on stdout, one line on stderr, no stack.
import { expect } from "bun:test";
import { runCerts } from "../../src/cli/certs.ts";

export type CertsRun = { code: number; stdout: string; stderr: string };

export async function runCertsCaptured(...argv: string[]): Promise<CertsRun> {
  let stdout = "";
  let stderr = "";
  const code = await runCerts(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

export function expectOneLineFailure(result: CertsRun, code: number, pattern: RegExp): void {
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code, stdout: "" });
  expect(result.stderr).toMatch(/^[^\n]+\n$/);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toContain("    at ");
}
