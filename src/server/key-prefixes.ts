// Key scopes as values: which keys a connection may read or write, "*" or key prefixes, and
// the two questions asked of them, is this key in it, and which part of it lies under a
// prefix (for a listing or a watch). Pure functions, no connection, no cache.

export type KeyAccess = "read" | "write";

/** Every key ("*"), or the keys that start with one of the prefixes ([] for none). */
export type KeyScope = "*" | readonly string[];

/** True when `key` is in `scope`. */
export function inScope(scope: KeyScope, key: string): boolean {
  if (scope === "*") return true;
  for (const prefix of scope) if (key.startsWith(prefix)) return true;
  return false;
}

/**
 * The part of `scope` under `prefix`, as prefixes that do not overlap, in key order: what a
 * listing or a watch of `prefix` may show. "*" when all of it; [] when none of it.
 *
 * @example narrowScope(["users/alice/", "reports/"], "") // ["reports/", "users/alice/"]
 * @example narrowScope(["users/"], "users/bob/") // ["users/bob/"]
 */
export function narrowScope(scope: KeyScope, prefix: string): KeyScope {
  if (scope === "*") return "*";
  const within = new Set<string>();
  for (const allowed of scope) {
    if (prefix.startsWith(allowed)) return "*";
    if (allowed.startsWith(prefix)) within.add(allowed);
  }
  // A prefix inside another adds nothing; what is left, sorted, lists keys in order.
  const sorted = [...within].sort(compareByCodePoint);
  return sorted.filter((candidate) => !sorted.some((other) => other !== candidate && candidate.startsWith(other)));
}

/** Code point order, which is the UTF-8 byte order the stores list keys in. */
function compareByCodePoint(a: string, b: string): number {
  const left = [...a];
  const right = [...b];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const d = left[i]!.codePointAt(0)! - right[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return left.length - right.length;
}
