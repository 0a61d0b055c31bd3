// The two images agree, and each Dockerfile finds what it copies, checked without an engine:
// the two-stage Dockerfile (for machines with a registry) and container/Dockerfile (FROM
// scratch, built by test/ops/container.test.ts) give the same runtime settings and health
// check; every COPY source of the two-stage build is in the checkout and not ignored; the
// context `npm run image` prepares holds what container/Dockerfile copies, the same each time.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { GNP_IN_IMAGE, IMAGE_UID, lddPaths, prepareImageContext } from "../../container/image-context.ts";

const ROOT = resolve(import.meta.dir, "../..");
const TWO_STAGE = readFileSync(join(ROOT, "Dockerfile"), "utf8");
const SCRATCH = readFileSync(join(ROOT, "container", "Dockerfile"), "utf8");
const RUNTIME = new Set(["ENV", "USER", "WORKDIR", "VOLUME", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK", "ENTRYPOINT", "CMD"]);

/** Instructions with continuation lines joined and spaces collapsed; comments dropped. */
function instructions(dockerfile: string): string[] {
  const joined = dockerfile
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  return joined.split("\n").map((line) => line.trim().replace(/\s+/g, " ")).filter(Boolean);
}

/** The runtime instructions of the last stage. */
function runtimeOf(dockerfile: string): string[] {
  const all = instructions(dockerfile);
  const lastFrom = all.findLastIndex((line) => line.startsWith("FROM "));
  return all.slice(lastFrom).filter((line) => RUNTIME.has(line.split(" ")[0]!));
}

const temp: string[] = [];
afterAll(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

describe("Dockerfile and container/Dockerfile", () => {
  test("give the same runtime settings, user, volume and health check (gnp health, no shell)", () => {
    const scratch = runtimeOf(SCRATCH);
    expect(scratch).toContain('HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/local/bin/gnp", "health"]');
    expect(scratch).toContain("USER 10001:10001");
    expect(runtimeOf(TWO_STAGE)).toEqual(scratch);
  });

  test("the two-stage build copies only files that are in the checkout and not in .dockerignore", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
    const isIgnored = (path: string) => ignored.some((pattern) => (pattern.startsWith("*") ? path.endsWith(pattern.slice(1)) : path === pattern || path.startsWith(`${pattern}/`)));
    const sources = instructions(TWO_STAGE)
      .filter((line) => line.startsWith("COPY ") && !line.includes("--from="))
      .flatMap((line) => line.split(" ").slice(1, -1).filter((word) => !word.startsWith("--")));
    expect(sources.length).toBeGreaterThan(3);
    expect(sources.filter((path) => !existsSync(join(ROOT, path)) || isIgnored(path))).toEqual([]);
  });
});

describe("npm run image's context (container/image-context.ts)", () => {
  // A small dynamic executable stands in for dist/gnp: the layout does not depend on which.
  const binary = "/bin/true";

  function listing(dir: string): string[] {
    const walk = (path: string): string[] =>
      readdirSync(path).flatMap((name) => {
        const full = join(path, name);
        const stat = statSync(full);
        const line = `${relative(dir, full)} ${(stat.mode & 0o7777).toString(8)} ${stat.mtimeMs} ${stat.isDirectory() ? "dir" : Bun.hash(readFileSync(full)).toString(16)}`;
        return stat.isDirectory() ? [line, ...walk(full)] : [line];
      });
    return walk(dir).sort();
  }

  test.skipIf(process.platform !== "linux" || Bun.which("ldd") === null)("holds what container/Dockerfile copies: the binary, ldd's libraries, uid 10001 entries, /tmp and /data; the same on every run", () => {
    const first = join(mkdtempSync(join(tmpdir(), "gnp-context-")), "context");
    const second = join(mkdtempSync(join(tmpdir(), "gnp-context-")), "context");
    temp.push(resolve(first, ".."), resolve(second, ".."));
    const { libraries } = prepareImageContext(binary, { dir: first });
    prepareImageContext(binary, { dir: second });

    expect(libraries).toEqual(lddPaths(binary));
    expect(libraries.some((path) => path.includes("ld-linux"))).toBe(true);
    const copied = instructions(readFileSync(join(first, "Dockerfile"), "utf8")).filter((line) => line.startsWith("COPY "));
    expect(copied).toEqual(["COPY rootfs/ /", `COPY --chown=${IMAGE_UID}:${IMAGE_UID} owned/ /`]);
    for (const path of [GNP_IN_IMAGE, ...libraries]) expect(existsSync(join(first, "rootfs", path))).toBe(true);
    expect(statSync(join(first, "rootfs", "tmp")).mode & 0o7777).toBe(0o1777);
    expect(readFileSync(join(first, "rootfs", "etc", "passwd"), "utf8")).toContain(`gnp:x:${IMAGE_UID}:${IMAGE_UID}:`);
    expect(readdirSync(join(first, "owned"))).toEqual(["data"]);
    expect(listing(first)).toEqual(listing(second));
    expect(new Set(listing(first).map((line) => line.split(" ")[2]))).toEqual(new Set(["0"]));
  });
});
