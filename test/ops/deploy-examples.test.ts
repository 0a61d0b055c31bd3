// The deployment examples of docs/ (docs/operations.md): the systemd unit passes
// `systemd-analyze verify` with nothing to say (where systemd is installed; .ci/run installs
// it), the Kubernetes manifest parses and holds what the docs promise (probes on /readyz and
// /healthz at the admin port, scrape annotations, the Secret mounted read-only with mode 0440,
// uid 10001, a grace period longer than the drain), and every GNP_* variable either sets is
// one that gnp reads.

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { variablesOf } from "../../src/cli/variables.ts";

const DOCS = resolve(import.meta.dir, "../../docs");
const UNIT = readFileSync(join(DOCS, "systemd", "gnp.service"), "utf8");
/** The parts of the manifest the tests read. */
type Probe = { httpGet: { path: string; port: string } };
type Container = {
  env: { name: string; value: string }[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  startupProbe: Probe;
  securityContext: unknown;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
};
type PodSpec = {
  containers: Container[];
  securityContext: unknown;
  terminationGracePeriodSeconds: number;
  volumes: { name: string; secret?: { secretName: string; defaultMode: number } }[];
};
type Doc = {
  apiVersion: string;
  kind: string;
  spec: {
    replicas?: number;
    strategy?: { type: string };
    template: { metadata: { annotations: Record<string, string> }; spec: PodSpec };
    ports: { port: number }[];
  };
};
const MANIFEST = Bun.YAML.parse(readFileSync(join(DOCS, "kubernetes", "gnp.yaml"), "utf8")) as Doc[];
const SYSTEMD_ANALYZE = Bun.which("systemd-analyze");

/** Every GNP_* variable some gnp command reads, from the commands' own flag tables. */
async function knownVariables(): Promise<Set<string>> {
  const modules = await Promise.all([
    import("../../src/cli/serve.ts").then((m) => m.SERVE_COMMAND),
    import("../../src/cli/call.ts").then((m) => m.CALL_COMMAND),
    import("../../src/cli/health.ts").then((m) => m.HEALTH_COMMAND),
    import("../../src/cli/reload.ts").then((m) => m.RELOAD_COMMAND),
  ]);
  return new Set(modules.flatMap((module) => [...variablesOf(module)]));
}

describe("docs/systemd/gnp.service", () => {
  test.skipIf(SYSTEMD_ANALYZE === null && process.env.CI !== "true")("systemd-analyze verify has nothing to say about it", () => {
    if (SYSTEMD_ANALYZE === null) throw new Error("systemd-analyze is not installed; .ci/run installs Debian's systemd package");
    const dir = mkdtempSync(join(tmpdir(), "gnp-unit-"));
    try {
      // verify wants ExecStart's program to exist; every other line is checked as written.
      const unit = join(dir, "gnp.service");
      writeFileSync(unit, UNIT.replaceAll("/usr/local/bin/gnp", process.execPath));
      const run = Bun.spawnSync([SYSTEMD_ANALYZE, "verify", unit], { stdout: "pipe", stderr: "pipe" });
      expect([run.exitCode, run.stdout.toString(), run.stderr.toString()]).toEqual([0, "", ""]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("runs gnp serve as a dynamic user in its state directory, reloads with SIGHUP, waits longer than the drain", () => {
    const settings = new Map([...UNIT.matchAll(/^([A-Za-z]+)=(.*)$/gm)].map((match) => [match[1]!, match[2]!]));
    expect({
      exec: settings.get("ExecStart"),
      reload: settings.get("ExecReload"),
      user: settings.get("DynamicUser"),
      state: settings.get("StateDirectory"),
      stopSec: settings.get("TimeoutStopSec"),
      noWX: settings.has("MemoryDenyWriteExecute"),
    }).toEqual({ exec: "/usr/local/bin/gnp serve", reload: "/bin/kill -HUP $MAINPID", user: "yes", state: "gnp", stopSec: "15s", noWX: false });
    const shutdown = Number(/GNP_SHUTDOWN_TIMEOUT=(\d+)/.exec(UNIT)?.[1]);
    expect(Number.parseInt(settings.get("TimeoutStopSec")!, 10)).toBeGreaterThan(shutdown);
    expect(/^Environment=GNP_DATA=\/var\/lib\/gnp$/m.test(UNIT)).toBe(true);
  });

  test("every GNP_* variable it sets, the commented ones too, is a gnp setting", async () => {
    const known = await knownVariables();
    const named = [...UNIT.matchAll(/\b(GNP_[A-Z_]+)=/g)].map((match) => match[1]!);
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((name) => !known.has(name))).toEqual([]);
  });
});

describe("docs/kubernetes/gnp.yaml", () => {
  const deployment = MANIFEST.find((doc) => doc.kind === "Deployment")!;
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0]!;
  const env: Record<string, string> = Object.fromEntries(container.env.map((item) => [item.name, item.value]));

  test("parses into a PersistentVolumeClaim, a Deployment and a Service", () => {
    expect(MANIFEST.map((doc) => `${doc.apiVersion} ${doc.kind}`)).toEqual(["v1 PersistentVolumeClaim", "apps/v1 Deployment", "v1 Service"]);
  });

  test("probes /readyz and /healthz on the admin port that GNP_ADMIN opens, and is annotated for Prometheus", () => {
    const admin = container.ports.find((port) => port.name === "admin")!;
    expect([container.readinessProbe.httpGet, container.livenessProbe.httpGet, container.startupProbe.httpGet]).toEqual([
      { path: "/readyz", port: "admin" },
      { path: "/healthz", port: "admin" },
      { path: "/readyz", port: "admin" },
    ]);
    expect(env.GNP_ADMIN).toBe(`0.0.0.0:${admin.containerPort}`);
    expect(deployment.spec.template.metadata.annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": String(admin.containerPort), "prometheus.io/path": "/metrics" });
    const service = MANIFEST.find((doc) => doc.kind === "Service")!;
    expect(service.spec.ports.map((port) => port.port)).toEqual([Number(env.GNP_PORT)]);
  });

  test("the certificates come from the Secret, read-only, mode 0440, where GNP_CERT, GNP_KEY and GNP_CA point", () => {
    const volume = pod.volumes.find((v) => v.name === "pki")!;
    const mount = container.volumeMounts.find((m) => m.name === "pki")!;
    expect([volume.secret?.secretName, volume.secret?.defaultMode, mount.readOnly]).toEqual(["gnp-pki", 0o440, true]);
    for (const name of ["GNP_CERT", "GNP_KEY", "GNP_CA"]) expect(env[name]).toStartWith(`${mount.mountPath}/`);
    const data = container.volumeMounts.find((m) => m.name === "data")!;
    expect(data.mountPath).toBe(env.GNP_DATA!);
  });

  test("runs as the image's uid 10001 without privileges, drains before it is killed, one pod at a time", () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(env.GNP_SHUTDOWN_TIMEOUT));
    expect([deployment.spec.replicas, deployment.spec.strategy?.type]).toEqual([1, "Recreate"]);
    const dockerfile = readFileSync(resolve(DOCS, "../container/Dockerfile"), "utf8");
    expect(dockerfile).toContain("USER 10001:10001");
  });

  test("every GNP_* variable it sets is a gnp setting", async () => {
    const known = await knownVariables();
    expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([]);
    expect(Object.keys(env).length).toBeGreaterThan(5);
  });
});
