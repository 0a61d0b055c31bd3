// `gnp completion bash|zsh|fish`: a completion script for that shell, generated from the same
// command list and flag tables as --help (nothing here names a flag), so a new flag completes
// as soon as it exists. It completes commands, certs subcommands, flags, the few values a flag
// takes (--log-format text|json) and files or directories for FILE and DIR values.

import type { FlagSpec, FlagTable } from "../config/flags.ts";
import { CliFailure } from "../io.ts";
import { didYouMean } from "../wording.ts";
import type { CommandEntry, CommandModule } from "./command.ts";

const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

/** One command (or certs subcommand) as the scripts see it. */
type Completed = { path: string[]; summary: string; flags: [string, FlagSpec][]; words: readonly string[]; subcommands: string[] };

/** What a flag's value completes to. */
function valueKind(flag: FlagSpec): "none" | "file" | "dir" | "choices" | "any" {
  if (flag.type === "boolean") return "none";
  if (flag.choices !== undefined) return "choices";
  if (flag.arg === "DIR") return "dir";
  if (flag.arg !== undefined && /FILE|PREFIX/.test(flag.arg)) return "file";
  return "any";
}

/**
 * The script for `shell`, made from `commands`.
 *
 * @example io.stdout(await completionScript("bash", COMMANDS));
 */
export async function completionScript(shell: Shell, commands: Readonly<Record<string, CommandEntry>>): Promise<string> {
  const loaded = await Promise.all(Object.entries(commands).map(async ([name, entry]) => [name, entry, await entry.load()] as const));
  const all: Completed[] = [];
  for (const [name, entry, module] of loaded) {
    const subcommands = Object.keys(module.subcommands ?? {});
    all.push({ path: [name], summary: entry.summary, flags: Object.entries(module.flags), words: wordsOf(name, module), subcommands });
    for (const [sub, table] of Object.entries(module.subcommands ?? {})) {
      all.push({ path: [name, sub], summary: `gnp ${name} ${sub}`, flags: Object.entries(table as FlagTable), words: [], subcommands: [] });
    }
  }
  if (shell === "bash") return bashScript(all);
  if (shell === "zsh") return zshScript(all);
  return fishScript(all);
}

function wordsOf(name: string, module: CommandModule): readonly string[] {
  return name === "completion" ? SHELLS : (module.words ?? []);
}

function bashScript(all: Completed[]): string {
  const top = all.filter((c) => c.path.length === 1);
  const branch = (c: Completed, indent: string): string => {
    const lines: string[] = [];
    if (c.subcommands.length > 0) {
      lines.push(`${indent}if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=($(compgen -W "${c.subcommands.join(" ")}" -- "$cur")); return; fi`);
      lines.push(`${indent}case "\${COMP_WORDS[2]}" in`);
      for (const sub of all.filter((s) => s.path.length === 2 && s.path[0] === c.path[0])) {
        lines.push(`${indent}  ${sub.path[1]})`, ...bashFlags(sub, `${indent}    `), `${indent}    ;;`);
      }
      lines.push(`${indent}esac`);
      return lines.join("\n");
    }
    return bashFlags(c, indent).join("\n");
  };
  return `# bash completion for gnp, made by \`gnp completion bash\` from gnp's flag tables.
# Use: source <(gnp completion bash), or save it as /etc/bash_completion.d/gnp.
_gnp() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" flags="" words=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${top.map((c) => c.path[0]).join(" ")}" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${top.map((c) => `    ${c.path[0]})\n${branch(c, "      ")}\n      ;;`).join("\n")}
  esac
  if [ -n "$words" ] && [ "$COMP_CWORD" -eq 2 ] && [[ "$cur" != -* ]]; then COMPREPLY=($(compgen -W "$words" -- "$cur")); return; fi
  COMPREPLY=($(compgen -W "$flags" -- "$cur"))
}
complete -o default -F _gnp gnp
`;
}

/** The lines of one case branch: the value of the flag before the cursor, else the flag names. */
function bashFlags(c: Completed, indent: string): string[] {
  const lines = [`${indent}case "$prev" in`];
  const names = (kind: string) => c.flags.filter(([, flag]) => valueKind(flag) === kind).map(([name]) => `--${name}`);
  if (names("file").length > 0) lines.push(`${indent}  ${names("file").join("|")}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`);
  if (names("dir").length > 0) lines.push(`${indent}  ${names("dir").join("|")}) COMPREPLY=($(compgen -d -- "$cur")); return ;;`);
  for (const [name, flag] of c.flags.filter(([, flag]) => valueKind(flag) === "choices")) {
    lines.push(`${indent}  --${name}) COMPREPLY=($(compgen -W "${flag.choices!.join(" ")}" -- "$cur")); return ;;`);
  }
  if (names("any").length > 0) lines.push(`${indent}  ${names("any").join("|")}) COMPREPLY=(); return ;;`);
  lines.push(`${indent}esac`);
  const flags = c.flags.flatMap(([name, flag]) => [`--${name}`, ...(flag.short ? [`-${flag.short}`] : [])]);
  lines.push(`${indent}flags="${flags.join(" ")}"`);
  if (c.words.length > 0) lines.push(`${indent}words="${c.words.join(" ")}"`);
  return lines;
}

function zshScript(all: Completed[]): string {
  const top = all.filter((c) => c.path.length === 1);
  const branch = (c: Completed): string => {
    if (c.subcommands.length === 0) return `      _arguments -s ${zshSpecs(c)}`;
    const subs = all.filter((s) => s.path.length === 2 && s.path[0] === c.path[0]);
    return [
      `      if (( CURRENT == 2 )); then _values 'subcommand' ${c.subcommands.join(" ")}; return; fi`,
      `      (( CURRENT-- )); shift words`,
      `      case $words[1] in`,
      ...subs.map((sub) => `        ${sub.path[1]}) _arguments -s ${zshSpecs(sub)} ;;`),
      `      esac`,
    ].join("\n");
  };
  return `#compdef gnp
# zsh completion for gnp, made by \`gnp completion zsh\` from gnp's flag tables.
# Use: source <(gnp completion zsh) after compinit, or save it as _gnp in a directory of $fpath.
_gnp() {
  local -a commands
  commands=(
${top.map((c) => `    ${zshQuote(`${c.path[0]}:${c.summary}`)}`).join("\n")}
  )
  if (( CURRENT == 2 )); then _describe 'command' commands; return; fi
  (( CURRENT-- )); shift words
  case $words[1] in
${top.map((c) => `    ${c.path[0]})\n${branch(c)}\n      ;;`).join("\n")}
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _gnp "$@"; else compdef _gnp gnp; fi
`;
}

function zshSpecs(c: Completed): string {
  const specs = c.flags.map(([name, flag]) => {
    const help = flag.help.replaceAll("[", "(").replaceAll("]", ")").replaceAll(":", " -");
    const repeat = flag.multiple ? "*" : "";
    const kind = valueKind(flag);
    const value =
      kind === "none" ? "" : kind === "file" ? `:${flag.arg}:_files` : kind === "dir" ? `:${flag.arg}:_files -/` : kind === "choices" ? `:${flag.arg}:(${flag.choices!.join(" ")})` : `:${flag.arg ?? "VALUE"}: `;
    const names = flag.short ? `{-${flag.short},--${name}}` : `--${name}`;
    // {-h,--help} is brace expansion, left outside the quotes.
    return flag.short ? `${repeat}${names}${zshQuote(`[${help}]${value}`)}` : zshQuote(`${repeat}${names}[${help}]${value}`);
  });
  if (c.words.length > 0) specs.push(zshQuote(`1:argument:(${c.words.join(" ")})`));
  return specs.join(" ");
}

function zshQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function fishScript(all: Completed[]): string {
  const top = all.filter((c) => c.path.length === 1);
  const lines = [
    "# fish completion for gnp, made by `gnp completion fish` from gnp's flag tables.",
    "# Use: gnp completion fish | source, or save it as ~/.config/fish/completions/gnp.fish.",
    "complete -c gnp -f",
    ...top.map((c) => `complete -c gnp -n __fish_use_subcommand -a ${c.path[0]} -d ${fishQuote(c.summary)}`),
  ];
  for (const c of all) {
    const [command, sub] = c.path as [string, string | undefined];
    const siblings = top.find((t) => t.path[0] === command)!.subcommands;
    const condition =
      sub !== undefined
        ? `__fish_seen_subcommand_from ${command}; and __fish_seen_subcommand_from ${sub}`
        : siblings.length > 0
          ? `__fish_seen_subcommand_from ${command}; and not __fish_seen_subcommand_from ${siblings.join(" ")}`
          : `__fish_seen_subcommand_from ${command}`;
    const when = `-n ${fishQuote(condition)}`;
    if (siblings.length > 0 && sub === undefined) lines.push(`complete -c gnp ${when} -a ${fishQuote(siblings.join(" "))}`);
    if (c.words.length > 0) lines.push(`complete -c gnp ${when} -a ${fishQuote(c.words.join(" "))}`);
    for (const [name, flag] of c.flags) {
      const kind = valueKind(flag);
      const value = kind === "none" ? "" : kind === "file" || kind === "dir" ? " -r -F" : kind === "choices" ? ` -x -a ${fishQuote(flag.choices!.join(" "))}` : " -x";
      const short = flag.short ? ` -s ${flag.short}` : "";
      lines.push(`complete -c gnp ${when} -l ${name}${short}${value} -d ${fishQuote(flag.help)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function fishQuote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** `gnp completion SHELL`: prints the script. A missing or unknown shell exits 2. */
export const COMPLETION_COMMAND: CommandModule = {
  run: async (argv, io, context) => {
    const [shell, ...rest] = argv;
    if (shell === "--help" || shell === "-h") {
      io.stdout(`usage: gnp completion bash|zsh|fish\n\n  source <(gnp completion bash)      # or zsh; fish: gnp completion fish | source\n`);
      return 0;
    }
    if (shell === undefined || rest.length > 0 || !(SHELLS as readonly string[]).includes(shell)) {
      const given = shell === undefined ? "no shell" : rest.length > 0 ? `unexpected argument ${JSON.stringify(rest[0])}` : `unknown shell ${JSON.stringify(shell)}${didYouMean(shell, SHELLS)}`;
      throw new CliFailure(`completion: ${given}: expected bash, zsh or fish`, 2);
    }
    io.stdout(await completionScript(shell as Shell, context.commands));
    return 0;
  },
  flags: { help: { type: "boolean", short: "h", env: false, help: "show this help" } },
};
