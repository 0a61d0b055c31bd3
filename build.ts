// `bun run build`: compiles src/cli.ts into one executable, dist/gnp, for this machine (minified,
// with bytecode). `--target all` (or a comma-separated list) adds other platforms, built only
// from a Bun runtime already on disk, or fetched through npm with `--fetch`: an unavailable
// optional target is reported and skipped, never a failure of the default build. Bun's own
// download is never used, so a build without --fetch makes no network request.

import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join, relative } from "node:path";

const ROOT = import.meta.dir;
const ENTRY = join(ROOT, "src", "cli.ts");
/**
 * Threads the program starts with `new Worker`: the bundler does not follow those, so each is
 * an entry point of its own, kept at its path under src/ inside the executable.
 */
const WORKERS = [join(ROOT, "src", "app", "sqlite-commit-worker.ts")];
const DIST = join(ROOT, "dist");
/** Runtimes fetched with --fetch, one directory per npm package and version (dist/ is not committed). */
const RUNTIME_CACHE = join(DIST, ".runtimes");

/** Every target this script knows, with the npm package that carries its Bun runtime. */
const TARGETS = {
  "bun-linux-x64": { pkg: "@oven/bun-linux-x64", exe: "bin/bun", out: "gnp-linux-x64" },
  "bun-linux-arm64": { pkg: "@oven/bun-linux-aarch64", exe: "bin/bun", out: "gnp-linux-arm64" },
  "bun-linux-x64-musl": { pkg: "@oven/bun-linux-x64-musl", exe: "bin/bun", out: "gnp-linux-x64-musl" },
  "bun-darwin-arm64": { pkg: "@oven/bun-darwin-aarch64", exe: "bin/bun", out: "gnp-darwin-arm64" },
} as const;
type Target = keyof typeof TARGETS;

type Outcome =
  | { target: string; built: true; file: string; bytes: number; notes: string[] }
  | { target: string; built: false; reason: string; required: boolean };

/** The compile target of the running Bun, or undefined when this script does not know it. */
function hostTarget(): Target | undefined {
  const arch = process.arch === "x64" ? "x64" : process.arch === "arm64" ? "arm64" : undefined;
  if (arch === undefined) return undefined;
  const musl = process.platform === "linux" && !existsSync("/lib64/ld-linux-x86-64.so.2") && existsSync(`/lib/ld-musl-${process.arch === "x64" ? "x86_64" : "aarch64"}.so.1`);
  const name = `bun-${process.platform}-${arch}${musl ? "-musl" : ""}`;
  return name in TARGETS ? (name as Target) : undefined;
}

/** A runtime for `target` already on disk: node_modules, our cache, then Bun's own cache. */
function localRuntime(target: Target): string | undefined {
  const { pkg, exe } = TARGETS[target];
  const bunCache = process.env.BUN_INSTALL_CACHE_DIR ?? join(process.env.BUN_INSTALL ?? join(homedir(), ".bun"), "install", "cache");
  const candidates = [
    join(ROOT, "node_modules", pkg, exe),
    join(RUNTIME_CACHE, `${pkg.slice("@oven/".length)}-${Bun.version}`, exe),
    // Where `bun build --compile --target=...` keeps what it downloaded itself.
    join(bunCache, `${pkg.slice("@oven/".length)}-v${Bun.version}`),
  ];
  return candidates.find((path) => existsSync(path) && statSync(path).size > 1_000_000);
}

/** Fetches `pkg@<this Bun's version>` with `npm pack` (npm checks its integrity) and unpacks it. */
async function fetchRuntime(target: Target): Promise<string> {
  const { pkg, exe } = TARGETS[target];
  const dir = join(RUNTIME_CACHE, `${pkg.slice("@oven/".length)}-${Bun.version}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const packed = Bun.spawnSync(["npm", "pack", `${pkg}@${Bun.version}`, "--silent", "--pack-destination", dir], { cwd: dir, stderr: "pipe" });
  const tarball = packed.stdout.toString().trim().split("\n").pop() ?? "";
  if (packed.exitCode !== 0 || tarball === "") {
    throw new Error(`npm pack ${pkg}@${Bun.version} failed: ${packed.stderr.toString().trim().split("\n").pop() ?? `exit ${packed.exitCode}`}`);
  }
  const unpacked = Bun.spawnSync(["tar", "-xzf", join(dir, tarball), "-C", dir, "--strip-components=1", "package/" + exe], { stderr: "pipe" });
  rmSync(join(dir, tarball), { force: true });
  if (unpacked.exitCode !== 0) throw new Error(`cannot unpack ${tarball}: ${unpacked.stderr.toString().trim()}`);
  chmodSync(join(dir, exe), 0o755);
  return join(dir, exe);
}

async function compile(target: Target | "host", outfile: string, executablePath: string | undefined, bytecode: boolean): Promise<void> {
  // Build beside the final name and rename, so a failed build never leaves half a dist/gnp
  // that a test would take for fresh; the pid keeps two builds at once (test runs) apart. The
  // pid goes in a directory's name, not the file's: Bun embeds the output's file name in the
  // executable, and a name that differs per build would make every build differ.
  const partialDir = join(DIST, `.partial-${process.pid}`);
  const partial = join(partialDir, basename(outfile));
  rmSync(partialDir, { recursive: true, force: true });
  mkdirSync(partialDir, { recursive: true });
  const result = await Bun.build({
    entrypoints: [ENTRY, ...WORKERS],
    minify: true,
    // Bytecode needs ES module output here (the CLI uses top-level await).
    bytecode,
    format: "esm",
    throw: false,
    compile: {
      ...(target === "host" ? {} : { target }),
      ...(executablePath === undefined ? {} : { executablePath }),
      outfile: partial,
      // The binary is configured by flags and GNP_* variables only: a stray .env or
      // bunfig.toml in whatever directory it is started from must not change it.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  });
  if (!result.success) {
    rmSync(partialDir, { recursive: true, force: true });
    const lines = result.logs.filter((log) => log.level === "error").map((log) => {
      const where = log.position ? ` (${relative(ROOT, log.position.file)}:${log.position.line})` : "";
      return `${log.message}${where}`;
    });
    throw new Error(lines.join("; ") || "Bun.build failed without a message");
  }
  renameSync(partial, outfile);
  rmSync(partialDir, { recursive: true, force: true });
}

/** Runs the fresh host binary from an empty directory: `version`, and `serve --help`, which loads the certificate code. */
function smokeTest(file: string): string {
  const cwd = join(DIST, `.smoke-${process.pid}`);
  rmSync(cwd, { recursive: true, force: true });
  mkdirSync(cwd, { recursive: true });
  try {
    for (const args of [["version"], ["serve", "--help"]]) {
      const run = Bun.spawnSync([file, ...args], { cwd, stderr: "pipe", timeout: 15_000 });
      if (run.exitCode !== 0) throw new Error(`${relative(ROOT, file)} ${args.join(" ")} exited ${run.exitCode}: ${run.stderr.toString().trim().split("\n")[0]}`);
    }
    return Bun.spawnSync([file, "version"], { cwd }).stdout.toString().trim();
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

async function buildTarget(target: Target | "host", required: boolean, fetch: boolean): Promise<Outcome> {
  const host = hostTarget();
  const isHost = target === "host" || target === host;
  const label = target === "host" ? (host ?? `bun-${process.platform}-${process.arch}`) : target;
  const outfile = isHost ? join(DIST, "gnp") : join(DIST, TARGETS[target as Target].out);
  let executablePath: string | undefined;
  const notes: string[] = [];
  if (!isHost) {
    executablePath = localRuntime(target as Target);
    if (executablePath === undefined && !fetch) {
      const { pkg } = TARGETS[target as Target];
      return { target: label, built: false, required, reason: `no ${pkg}@${Bun.version} runtime on disk (offline build); \`bun build.ts --target ${target} --fetch\` gets it with npm pack` };
    }
    if (executablePath === undefined) {
      try {
        executablePath = await fetchRuntime(target as Target);
        notes.push("runtime fetched with npm pack");
      } catch (error) {
        return { target: label, built: false, required, reason: (error as Error).message };
      }
    }
    notes.push(`runtime ${relative(ROOT, executablePath).startsWith("..") ? executablePath : relative(ROOT, executablePath)}`);
  }
  // Bytecode is only produced where it can be checked: a cross-compiled binary cannot run
  // here, and a bytecode cache the target rejects would cost startup instead of saving it.
  const bytecode = isHost;
  try {
    await compile(isHost ? "host" : (target as Target), outfile, executablePath, bytecode);
  } catch (error) {
    return { target: label, built: false, required, reason: `build failed: ${(error as Error).message}` };
  }
  notes.push(bytecode ? "minified, bytecode" : "minified, no bytecode (cannot be run here to check it)");
  if (isHost) {
    try {
      notes.push(`smoke test ok: ${smokeTest(outfile)}`);
    } catch (error) {
      rmSync(outfile, { force: true });
      return { target: label, built: false, required, reason: `smoke test failed: ${(error as Error).message}` };
    }
  }
  return { target: label, built: true, file: outfile, bytes: statSync(outfile).size, notes };
}

function parseArgs(argv: string[]): { targets: (Target | "host")[]; explicit: boolean; fetch: boolean } {
  let spec = "host";
  let fetch = false;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === "--fetch") fetch = true;
    else if (arg === "--target") spec = argv[++index] ?? "";
    else if (arg.startsWith("--target=")) spec = arg.slice("--target=".length);
    else if (arg === "--help" || arg === "-h") {
      console.log(`usage: bun build.ts [--target host|all|${Object.keys(TARGETS).join(",")}] [--fetch]\n\n` +
        `  --target  host (default) builds dist/gnp for this machine; all adds every other target\n` +
        `  --fetch   get a missing target runtime with npm pack (otherwise only runtimes on disk are used)`);
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (spec === "host") return { targets: ["host"], explicit: false, fetch };
  if (spec === "all") {
    const host = hostTarget();
    return { targets: ["host", ...(Object.keys(TARGETS) as Target[]).filter((target) => target !== host)], explicit: false, fetch };
  }
  const targets = spec.split(",").map((name) => name.trim());
  for (const name of targets) {
    if (name !== "host" && !(name in TARGETS)) throw new Error(`unknown target ${JSON.stringify(name)}: expected host, all or one of ${Object.keys(TARGETS).join(", ")}`);
  }
  return { targets: targets as (Target | "host")[], explicit: true, fetch };
}

async function main(): Promise<number> {
  const { targets, explicit, fetch } = parseArgs(process.argv.slice(2));
  mkdirSync(DIST, { recursive: true });
  const outcomes: Outcome[] = [];
  for (const target of targets) {
    const started = performance.now();
    const outcome = await buildTarget(target, target === "host" || explicit, fetch);
    outcomes.push(outcome);
    if (outcome.built) {
      const mb = (outcome.bytes / 1e6).toFixed(1);
      console.log(`built    ${outcome.target.padEnd(20)} ${relative(ROOT, outcome.file)}  ${mb} MB  ${((performance.now() - started) / 1000).toFixed(1)} s  (${outcome.notes.join("; ")})`);
    } else {
      console.log(`not built ${outcome.target.padEnd(19)} ${outcome.reason}`);
    }
  }
  // Only a target that was asked for by name (or the host) fails the build.
  return outcomes.some((outcome) => !outcome.built && outcome.required) ? 1 : 0;
}

try {
  process.exit(await main());
} catch (error) {
  console.error(`build: ${(error as Error).message}`);
  process.exit(2);
}
