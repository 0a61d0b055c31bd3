// `npm run image`: the build context of the FROM scratch runtime image (container/Dockerfile),
// made from a checkout with no registry: dist/gnp freshly built by build.ts, the shared
// libraries and loader `ldd` names for it at the paths ldd gives, passwd/group entries for uid
// 10001, /tmp, and an empty /data for that uid. Every file gets one fixed time, so the same
// checkout gives the same layers.

import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const DOCKERFILE = join(import.meta.dir, "Dockerfile");
export const DEFAULT_CONTEXT = join(ROOT, "dist", "image");
/** Where the binary lives in the image; the Dockerfile's ENTRYPOINT and HEALTHCHECK name it. */
export const GNP_IN_IMAGE = "/usr/local/bin/gnp";
export const IMAGE_UID = 10001;

/** Absolute paths of the shared libraries and the loader `ldd` reports for `file`; [] for a static one. */
export function lddPaths(file: string): string[] {
  const run = Bun.spawnSync(["ldd", file], { stderr: "pipe" });
  const output = run.stdout.toString() + run.stderr.toString();
  if (/not a dynamic executable|statically linked/.test(output)) return [];
  if (run.exitCode !== 0) throw new Error(`ldd ${file} failed: ${output.trim()}`);
  const paths = new Set<string>();
  for (const line of output.split("\n")) {
    if (/=>\s*not found/.test(line)) throw new Error(`ldd ${file}: ${line.trim()}`);
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)/.exec(line);
    if (match) paths.add(match[1]!);
  }
  return [...paths];
}

export type ImageContext = { dir: string; libraries: string[] };

/**
 * Writes the context for `binary` into `dir` (emptied first).
 *
 * @example const { dir } = prepareImageContext("dist/gnp", { dir: "dist/image" }); // then: podman build --format docker dist/image
 */
export function prepareImageContext(binary: string, options: { dir?: string; epochSeconds?: number } = {}): ImageContext {
  const dir = resolve(options.dir ?? DEFAULT_CONTEXT);
  const epoch = options.epochSeconds ?? 0;
  rmSync(dir, { recursive: true, force: true });
  const rootfs = join(dir, "rootfs");
  const place = (from: string, to: string, mode: number) => {
    mkdirSync(dirname(join(rootfs, to)), { recursive: true });
    // The library paths are often symlinks (the loader always is): the image gets the file itself.
    copyFileSync(realpathSync(from), join(rootfs, to));
    chmodSync(join(rootfs, to), mode);
  };
  place(binary, GNP_IN_IMAGE, 0o755);
  const libraries = lddPaths(binary);
  for (const library of libraries) place(library, library, 0o755);
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  // Names for the uids, for anything that asks (`ps`, os.userInfo()); no login shell exists.
  writeFileSync(join(rootfs, "etc", "passwd"), `root:x:0:0:root:/root:/sbin/nologin\ngnp:x:${IMAGE_UID}:${IMAGE_UID}:gnp:/data:/sbin/nologin\n`, { mode: 0o644 });
  writeFileSync(join(rootfs, "etc", "group"), `root:x:0:\ngnp:x:${IMAGE_UID}:\n`, { mode: 0o644 });
  mkdirSync(join(rootfs, "tmp"));
  chmodSync(join(rootfs, "tmp"), 0o1777);
  mkdirSync(join(dir, "owned", "data"), { recursive: true });
  chmodSync(join(dir, "owned", "data"), 0o755);
  copyFileSync(DOCKERFILE, join(dir, "Dockerfile"));
  stampTimes(dir, epoch);
  return { dir, libraries };
}

/** One modification time for everything under `dir`, deepest first (setting a file's time touches no directory). */
function stampTimes(dir: string, epochSeconds: number): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) stampTimes(path, epochSeconds);
    utimesSync(path, epochSeconds, epochSeconds);
  }
  utimesSync(dir, epochSeconds, epochSeconds);
}

function parseArgs(argv: string[]): { dir: string; binary: string | undefined } {
  let dir = DEFAULT_CONTEXT;
  let binary: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === "--out") dir = resolve(argv[++index] ?? "");
    else if (arg === "--binary") binary = resolve(argv[++index] ?? "");
    else if (arg === "--help" || arg === "-h") {
      console.log(
        `usage: npm run image [-- --out DIR] [--binary FILE]\n\n` +
          `  --out DIR      where the build context goes (default ${relative(process.cwd(), DEFAULT_CONTEXT) || "."}; emptied first)\n` +
          `  --binary FILE  use this gnp executable instead of building dist/gnp now`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}`);
  }
  return { dir, binary };
}

async function main(): Promise<number> {
  const { dir, binary: given } = parseArgs(process.argv.slice(2));
  let binary = given;
  if (binary === undefined) {
    // Built now, so that the image is the checkout's and never a stale dist/gnp.
    const build = Bun.spawnSync([process.execPath, join(ROOT, "build.ts")], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
    if (build.exitCode !== 0) return build.exitCode ?? 1;
    binary = join(ROOT, "dist", "gnp");
  }
  if (!existsSync(binary)) throw new Error(`no executable at ${binary}`);
  const context = prepareImageContext(binary, { dir, epochSeconds: Number(process.env.SOURCE_DATE_EPOCH ?? 0) });
  const shown = relative(process.cwd(), context.dir) || ".";
  console.log(`image context in ${shown}: ${GNP_IN_IMAGE} and ${context.libraries.length} files from ldd (${context.libraries.join(", ")})`);
  console.log(`build it:  podman build --format docker -t gnp ${shown}    or    docker build -t gnp ${shown}`);
  return 0;
}

if (import.meta.main) {
  try {
    process.exit(await main());
  } catch (error) {
    console.error(`image: ${(error as Error).message}`);
    process.exit(2);
  }
}
