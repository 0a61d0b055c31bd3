// docs/existing-pki.md must hold settings that work: every gnp.toml on the page is read by the
// real config loader (gnp serve's settings and [[clients]] rules, with their checks), and says
// what the page says it says: the trust files, the CRLs and the client rules.
import { afterEach, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { resolveServeConfig } from "../../src/config/serve-config.ts";
import { cleanupCli, freshDir } from "../cli/cli-process.ts";

afterEach(cleanupCli);

const page = readFileSync(resolve(import.meta.dir, "../../docs/existing-pki.md"), "utf8");
const examples = [...page.matchAll(/```toml\n# gnp\.toml for (.+)\n([\s\S]*?)```/g)].map((match) => ({ name: match[1]!, text: match[2]! }));

function load(text: string) {
  const cwd = freshDir("gnp-doc-");
  writeFileSync(join(cwd, "gnp.toml"), text);
  return resolveServeConfig(["--config", join(cwd, "gnp.toml")], { env: {}, cwd });
}

test("the page has a gnp.toml for step-ca, cert-manager and SPIFFE", () => {
  expect(examples.map((example) => example.name)).toEqual(["step-ca", "cert-manager", "SPIFFE"]);
});

test("every gnp.toml on the page is read by the real config loader as the page describes it", () => {
  const read = examples.map(({ name, text }) => {
    const { settings, clients } = load(text);
    return { name, cert: settings.certFile, ca: settings.caFiles, crl: settings.crlFiles, clients: clients.rules.map((rule) => `${rule.name} by ${rule.match.by}`) };
  });
  expect(read).toEqual([
    { name: "step-ca", cert: "/etc/gnp/server.crt", ca: ["/etc/gnp/root_ca.crt", "/etc/gnp/intermediate_ca.crt"], crl: ["/etc/gnp/step.crl"], clients: ["reporting by subject", "ops by dns"] },
    { name: "cert-manager", cert: "/etc/gnp/tls/tls.crt", ca: ["/etc/gnp/ca/ca.crt"], crl: [], clients: ["billing by subject"] },
    { name: "SPIFFE", cert: "/run/spiffe/svid.pem", ca: ["/run/spiffe/svid_bundle.pem"], crl: [], clients: ["api by uri", "prod-readers by uri", "pinned-batch by spki"] },
  ]);
});
