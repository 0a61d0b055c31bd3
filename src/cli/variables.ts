// GNP_* variables that no command reads: a typo such as GNP_MAX_CONECTIONS=5 would otherwise
// be silently ignored, as an unknown gnp.toml key is not. Each becomes one warning with a "did
// you mean", made from the flag tables of every command (a variable one command reads, e.g.
// GNP_INSECURE for `gnp call`, is not unknown to another). Only variables the running command
// does not know make the others' tables load.

import { envName, type FlagTable } from "../config/flags.ts";
import { didYouMean } from "../wording.ts";
import type { CommandEntry, CommandModule } from "./command.ts";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The warnings for the GNP_* variables of `env` that no command reads, sorted by name.
 *
 * @example await unknownVariables({ GNP_MAX_CONECTIONS: "5" }, { running, commands }) // ["unknown environment variable GNP_MAX_CONECTIONS (did you mean GNP_MAX_CONNECTIONS?): it sets nothing"]
 */
export async function unknownVariables(env: Env, of: { running: CommandModule; commands: Readonly<Record<string, CommandEntry>> }): Promise<string[]> {
  const given = Object.keys(env).filter((name) => name.startsWith("GNP_") && env[name] !== undefined);
  if (given.length === 0) return [];
  const own = variablesOf(of.running);
  if (given.every((name) => own.has(name))) return [];
  const modules = await Promise.all(Object.values(of.commands).map((entry) => entry.load()));
  const known = new Set(modules.flatMap((module) => [...variablesOf(module)]));
  return given
    .filter((name) => !known.has(name))
    .sort()
    .map((name) => `unknown environment variable ${name}${didYouMean(name, [...known], (near) => near)}: it sets nothing`);
}

/** Every variable a command reads: one per flag that has one, and its own others. */
export function variablesOf(module: CommandModule): Set<string> {
  const tables: FlagTable[] = [module.flags, ...Object.values(module.subcommands ?? {})];
  const names = tables.flatMap((table) =>
    Object.entries(table)
      .filter(([, flag]) => flag.env !== false)
      .map(([name]) => envName(name)),
  );
  return new Set([...names, ...(module.variables ?? [])]);
}
