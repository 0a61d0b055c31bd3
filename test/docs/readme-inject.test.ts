// The README's example of testing commands without a socket is a test file of its own: this
// takes it out of README.md as it stands, gives it the certificate files it reads and a "gnp"
// that resolves to this checkout, and runs it with bun test. A README that drifts from the
// library fails here.

import { expect, test } from "bun:test";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeTempDir, makeTestPki } from "../support/pki.ts";

const ROOT = resolve(import.meta.dir, "../..");

/** The first ```ts block after `heading` in README.md. */
function exampleAfter(heading: string): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf(heading);
  if (at < 0) throw new Error(`README.md has no ${JSON.stringify(heading)}`);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block) throw new Error(`README.md has no ts block after ${JSON.stringify(heading)}`);
  return block[1]!;
}

test("the README's server.inject example passes as a test file", async () => {
  const example = exampleAfter("### Testing commands without a socket");
  expect(example).toContain("server.inject(");
  const pki = await makeTestPki();
  await using dir = await makeTempDir();
  writeFileSync(join(dir.path, "server.crt"), pki.server.certificatePem);
  writeFileSync(join(dir.path, "server.key"), pki.server.privateKeyPem);
  writeFileSync(join(dir.path, "ca.crt"), pki.ca.certificatePem);
  // `import ... from "gnp"` finds this checkout as an installed package would be found.
  mkdirSync(join(dir.path, "node_modules"));
  symlinkSync(ROOT, join(dir.path, "node_modules", "gnp"));
  writeFileSync(join(dir.path, "example.test.ts"), example);
  const run = Bun.spawn([process.execPath, "test", "./example.test.ts"], { cwd: dir.path, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [stdout, stderr, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
  expect({ code, passed: /\b1 pass\b/.test(stderr + stdout), failed: /\b0 fail\b/.test(stderr + stdout) }).toEqual({ code: 0, passed: true, failed: true });
});
