// Reads the .cpuprofile files Bun's --cpu-prof wrote (one per thread: the event loop and the
// store's commit worker) and says where the samples went: by part of gnp (the store, the
// server's request path, the protocol, native code, garbage collection) and the busiest
// functions, as shares of the busy samples (idle ones left out).

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] };

function partOf(url: string, name: string): string {
  if (name === "(idle)" || name === "(program)" || name === "(root)") return name;
  if (name === "(garbage collector)") return "garbage collection";
  const at = url.indexOf("/src/");
  if (at < 0) return url === "" ? "native (sockets, TLS, SQLite, ...)" : "runtime";
  const file = url.slice(at + 5);
  if (file.startsWith("app/")) return /store|commit|sqlite|group/.test(file) ? "store (src/app/*store*, commit path)" : "commands (src/app)";
  return `${file.split("/")[0]}/`;
}

/** A table of busy time by part and the top functions, over every profile in `dir`. */
export function summarizeProfile(dir: string): string {
  const byPart = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  const files = readdirSync(dir).filter((name) => name.endsWith(".cpuprofile"));
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    profile.samples.forEach((id, i) => {
      const node = nodes.get(id);
      if (node === undefined) return;
      const { functionName, url, lineNumber } = node.callFrame;
      const part = partOf(url, functionName);
      if (part === "(idle)" || part === "(root)") return;
      const micros = profile.timeDeltas[i] ?? 0;
      busy += micros;
      byPart.set(part, (byPart.get(part) ?? 0) + micros);
      const where = url.includes("/src/") ? `${url.slice(url.indexOf("/src/") + 1)}:${lineNumber + 1}` : url || "native";
      const key = `${functionName || "(anonymous)"} ${where}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
    });
  }
  const share = (micros: number) => `${((micros / busy) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`${files.length} profile file(s), ${(busy / 1e6).toFixed(2)} s busy`, "", "by part:"];
  for (const [part, micros] of [...byPart].sort((a, b) => b[1] - a[1])) lines.push(`  ${share(micros)}  ${part}`);
  lines.push("", "top functions (self time):");
  for (const [name, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 25)) lines.push(`  ${share(micros)}  ${name}`);
  return lines.join("\n");
}
