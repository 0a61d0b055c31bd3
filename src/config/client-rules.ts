// `[[clients]]`: who may run which commands. An entry names a client by thumbprint (which also
// admits it) or by subject (`"CN=reporting, O=Acme"`, matched only on certificates a trusted CA
// vouched for), and lists its commands (`allow = ["GET", "PING"]` or `"*"`). A client gets the
// union of the entries it matches. No entries: everyone may run everything; with entries, a
// client that matches none may run only WHOAMI (so it can see why).

import { GnpError } from "../errors.ts";
import { normalizeThumbprint } from "../certs/thumbprint.ts";
import { x509 } from "../certs/x509.ts";
import type { ClientCertificate, Connection } from "../server/connection.ts";

/** Commands every admitted client may run, whatever the rules: it shows the client its permissions. */
export const ALWAYS_ALLOWED: ReadonlySet<string> = new Set(["WHOAMI"]);

const COMMAND_NAME = /^[\x21-\x7e]+$/;
const ENTRY_KEYS = ["name", "thumbprint", "subject", "allow"];

export type ClientRule = Readonly<{
  name: string;
  /** Canonical: upper-case hex, no separators. */
  thumbprint: string | undefined;
  /** As written, for messages and --print-config. */
  subject: string | undefined;
  /** Attribute type to the value it must have. */
  attributes: ReadonlyMap<string, string> | undefined;
  /** "*" or upper-cased command names. */
  allow: "*" | readonly string[];
}>;

type Grant = { all: boolean; commands: ReadonlySet<string> };

const EVERYTHING: Grant = { all: true, commands: new Set() };
const NOTHING: Grant = { all: false, commands: new Set() };

/**
 * The per-client permissions of a configuration.
 *
 * @example
 * const rules = ClientRules.parse(file.clients, "gnp.toml");
 * server.setTrust({ allow: [...allow, ...rules.thumbprints], trustedCas });
 * server.authorize(rules.isEmpty ? undefined : rules.authorizer);
 */
export class ClientRules {
  static readonly NONE = new ClientRules([]);
  readonly rules: readonly ClientRule[];
  /** Grants are worked out once per connection; each ClientRules has its own, so a reload starts afresh. */
  readonly #grants = new WeakMap<Connection, Grant>();

  constructor(rules: readonly ClientRule[]) {
    this.rules = Object.freeze([...rules]);
  }

  /** Checks `[[clients]]` tables; `where` (the file) starts every message. Throws GnpError CONFIG_INVALID. */
  static parse(tables: readonly Record<string, unknown>[], where: string): ClientRules {
    const names = new Set<string>();
    const rules = tables.map((table, index) => {
      const rule = parseEntry(table, `${where}: clients[${index + 1}]`);
      if (names.has(rule.name)) throw new GnpError("CONFIG_INVALID", `${where}: clients[${index + 1}]: name ${JSON.stringify(rule.name)} is used twice`);
      names.add(rule.name);
      return rule;
    });
    return new ClientRules(rules);
  }

  get isEmpty(): boolean {
    return this.rules.length === 0;
  }

  /** Thumbprints of the thumbprint entries: these clients are admitted as well as authorized. */
  get thumbprints(): string[] {
    return this.rules.flatMap((rule) => (rule.thumbprint === undefined ? [] : [rule.thumbprint]));
  }

  /** Entries that match by subject, which only a trusted CA can vouch for. */
  get subjectRules(): ClientRule[] {
    return this.rules.filter((rule) => rule.attributes !== undefined);
  }

  /** For server.authorize(): may this connection run `command` (upper case)? */
  readonly authorizer = (connection: Connection, command: string): boolean => {
    const grant = this.#grantOf(connection);
    return grant.all || grant.commands.has(command) || ALWAYS_ALLOWED.has(command);
  };

  /** What WHOAMI reports: ["*"], or the commands granted, sorted. */
  readonly permissionsOf = (connection: Connection): readonly string[] => {
    const grant = this.#grantOf(connection);
    return grant.all ? ["*"] : [...grant.commands].sort();
  };

  /** Throws CONFIG_INVALID when an entry allows a command the server does not have (a typo grants nothing). */
  checkCommands(known: readonly string[], where: string): void {
    const have = new Set(known.map((name) => name.toUpperCase()));
    for (const rule of this.rules) {
      if (rule.allow === "*") continue;
      const missing = rule.allow.find((command) => !have.has(command));
      if (missing !== undefined) {
        throw new GnpError("CONFIG_INVALID", `${where}: client ${JSON.stringify(rule.name)} allows unknown command ${JSON.stringify(missing)} (known: ${[...have].sort().join(", ")})`);
      }
    }
  }

  /** What a certificate would be granted, uncached: for `gnp certs inspect`. */
  permissionsFor(certificate: ClientCertificate): readonly string[] {
    const grant = this.rules.length === 0 ? EVERYTHING : this.#match(certificate);
    return grant.all ? ["*"] : [...grant.commands].sort();
  }

  #grantOf(connection: Connection): Grant {
    if (this.rules.length === 0) return EVERYTHING;
    let grant = this.#grants.get(connection);
    if (grant === undefined) {
      grant = this.#match(connection.certificate);
      this.#grants.set(connection, grant);
    }
    return grant;
  }

  #match(certificate: ClientCertificate | undefined): Grant {
    if (certificate === undefined) return NOTHING;
    let subject: Map<string, string[]> | undefined;
    const commands = new Set<string>();
    for (const rule of this.rules) {
      let matches = false;
      if (rule.thumbprint !== undefined) {
        matches = rule.thumbprint === certificate.sha1 || rule.thumbprint === certificate.sha256;
      } else if (rule.attributes !== undefined && certificate.viaCa) {
        subject ??= certificateAttributes(certificate.subject);
        matches = [...rule.attributes].every(([type, value]) => subject!.get(type)?.includes(value) === true);
      }
      if (!matches) continue;
      if (rule.allow === "*") return EVERYTHING;
      for (const command of rule.allow) commands.add(command);
    }
    return commands.size === 0 ? NOTHING : { all: false, commands };
  }
}

function parseEntry(table: Record<string, unknown>, where: string): ClientRule {
  const unknown = Object.keys(table).find((key) => !ENTRY_KEYS.includes(key));
  const label = typeof table.name === "string" ? `${where} (${JSON.stringify(table.name)})` : where;
  if (unknown !== undefined) throw invalid(label, `unknown key ${JSON.stringify(unknown)} (expected name, thumbprint or subject, allow)`);
  const name = table.name;
  if (typeof name !== "string" || name.trim() === "") throw invalid(label, "name is required: a string naming the client");
  if (table.thumbprint === undefined && table.subject === undefined) throw invalid(label, "give thumbprint or subject to say which certificate this is");
  if (table.thumbprint !== undefined && table.subject !== undefined) throw invalid(label, "give thumbprint or subject, not both");
  let thumbprint: string | undefined;
  if (table.thumbprint !== undefined) {
    if (typeof table.thumbprint !== "string") throw invalid(label, "thumbprint must be a string");
    try {
      thumbprint = normalizeThumbprint(table.thumbprint);
    } catch {
      throw invalid(label, `malformed thumbprint ${JSON.stringify(table.thumbprint)}: expected 40 (SHA-1) or 64 (SHA-256) hex digits`);
    }
  }
  let attributes: Map<string, string> | undefined;
  if (table.subject !== undefined) {
    if (typeof table.subject !== "string") throw invalid(label, "subject must be a string");
    attributes = parseSubject(table.subject, label);
  }
  return Object.freeze({
    name,
    thumbprint,
    subject: typeof table.subject === "string" ? table.subject : undefined,
    attributes,
    allow: parseAllow(table.allow, label),
  });
}

function parseAllow(value: unknown, label: string): "*" | readonly string[] {
  const expected = `allow must be "*" or a list of command names, e.g. ["GET", "PING"]`;
  if (value === "*") return "*";
  if (!Array.isArray(value)) throw invalid(label, value === undefined ? `allow is required: ${expected.slice("allow must be ".length)}` : expected);
  const commands: string[] = [];
  for (const item of value) {
    if (typeof item !== "string" || !COMMAND_NAME.test(item)) throw invalid(label, `${expected}; got ${JSON.stringify(item)}`);
    if (item === "*") return "*";
    commands.push(item.toUpperCase());
  }
  return Object.freeze([...new Set(commands)]);
}

/** `"CN=reporting, O=Acme"` to its attributes; RFC 4514 escapes and quotes work, types in upper case. */
function parseSubject(text: string, label: string): Map<string, string> {
  let parsed: Map<string, string[]>;
  try {
    parsed = subjectAttributes(text);
  } catch {
    parsed = new Map();
  }
  const attributes = new Map<string, string>();
  for (const [type, values] of parsed) {
    if (values.length !== 1 || values[0] === "") throw invalid(label, `malformed subject ${JSON.stringify(text)}: ${type} needs exactly one non-empty value`);
    attributes.set(type, values[0]!);
  }
  if (attributes.size === 0) {
    throw invalid(label, `malformed subject ${JSON.stringify(text)}: expected TYPE=VALUE pairs such as "CN=reporting, O=Acme" (types CN, O, OU, C, L, ST, ... in upper case)`);
  }
  return attributes;
}

/** A distinguished name's attributes, by type (CN, O, ...); throws on text that is not one. */
function subjectAttributes(text: string): Map<string, string[]> {
  const attributes = new Map<string, string[]>();
  for (const rdn of new x509.Name(text).toJSON()) {
    for (const [type, values] of Object.entries(rdn)) attributes.set(type, [...(attributes.get(type) ?? []), ...values]);
  }
  return attributes;
}

/** A certificate's subject as the validator rendered it; one that does not parse matches no entry. */
function certificateAttributes(subject: string): Map<string, string[]> {
  try {
    return subjectAttributes(subject);
  } catch {
    return new Map();
  }
}

function invalid(label: string, message: string): GnpError {
  return new GnpError("CONFIG_INVALID", `${label}: ${message}`);
}
