// `[[clients]]`: who may run which commands. An entry names a client by one of: `thumbprint`
// (one certificate) or `spki` (one key, SHA-256 of its SubjectPublicKeyInfo, hex or
// `sha256/BASE64`), either of which also admits it; or by what a trusted CA vouched for, which
// only CA-admitted certificates match: `subject` ("CN=reporting, O=Acme"), `uri` (a SPIFFE ID,
// exact or a prefix ending in `*`), `dns` (`*.` for one label) or `email`. It lists its
// commands (`allow = ["GET", "PING"]` or `"*"`) and, optionally, the keys it may read and
// write (`read = ["reports/"]`, `write = ["users/alice/"]`, key prefixes or "*"). A client gets
// the union of the entries it matches; without read or write in any of them, every key. No
// entries: everyone may run everything; with entries, a client that matches none may run
// only WHOAMI (so it can see why).

import { GnpError } from "../errors.ts";
import { normalizeSpkiPin, normalizeThumbprint, spkiPinHex } from "../certs/thumbprint.ts";
import { x509 } from "../certs/x509.ts";
import type { ClientCertificate, Connection } from "../server/connection.ts";
import type { KeyAccess, KeyScope } from "../server/key-prefixes.ts";

/** Commands every admitted client may run, whatever the rules: it shows the client its permissions. */
export const ALWAYS_ALLOWED: ReadonlySet<string> = new Set(["WHOAMI"]);

const COMMAND_NAME = /^[\x21-\x7e]+$/;
/** The ways an entry can name its client; exactly one per entry. */
const MATCHERS = ["thumbprint", "spki", "subject", "uri", "dns", "email"] as const;
const ENTRY_KEYS: readonly string[] = ["name", ...MATCHERS, "allow", "read", "write"];
/** Longest key prefix, in bytes of UTF-8: a key is at most 512 (builtin-commands.ts). */
const MAX_PREFIX_BYTES = 512;

/** How an entry names its client, checked and in canonical form; `value` is as written. */
export type ClientMatch = Readonly<
  | { by: "thumbprint"; value: string; thumbprint: string }
  | { by: "spki"; value: string; pin: string; hex: string }
  | { by: "subject"; value: string; attributes: ReadonlyMap<string, string> }
  | { by: "uri"; value: string; uri: string; prefix: boolean }
  | { by: "dns"; value: string; dns: string; wildcard: boolean }
  | { by: "email"; value: string; local: string; domain: string }
>;

export type ClientRule = Readonly<{
  name: string;
  match: ClientMatch;
  /** "*" or upper-cased command names. */
  allow: "*" | readonly string[];
  /** Key prefixes (or "*") it may read and write; undefined when the entry does not say. */
  read: KeyScope | undefined;
  write: KeyScope | undefined;
}>;

type Grant = { all: boolean; commands: ReadonlySet<string>; read: KeyScope; write: KeyScope };

const EVERYTHING: Grant = { all: true, commands: new Set(), read: "*", write: "*" };
const NOTHING: Grant = { all: false, commands: new Set(), read: [], write: [] };

/**
 * The per-client permissions of a configuration.
 *
 * @example
 * const rules = ClientRules.parse(file.clients, "gnp.toml");
 * server.setTrust({ allow: [...allow, ...rules.pins], trustedCas });
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

  /** The thumbprints and SPKI pins (`sha256/BASE64`) of the entries that name one certificate or key: these clients are admitted as well as authorized. */
  get pins(): string[] {
    return this.rules.flatMap(({ match }) => (match.by === "thumbprint" ? [match.thumbprint] : match.by === "spki" ? [match.pin] : []));
  }

  /** Entries that match what a trusted CA vouched for (subject, uri, dns, email). */
  get caRules(): ClientRule[] {
    return this.rules.filter((rule) => rule.match.by !== "thumbprint" && rule.match.by !== "spki");
  }

  /** For server.authorize(): may this connection run `command` (upper case)? */
  readonly authorizer = (connection: Connection, command: string): boolean => {
    const grant = this.#grantOf(connection);
    return grant.all || grant.commands.has(command) || ALWAYS_ALLOWED.has(command);
  };

  /** True when an entry says which keys (read, write): then server.scopeKeys(keyScopes) applies them. */
  get scopesKeys(): boolean {
    return this.rules.some((rule) => rule.read !== undefined || rule.write !== undefined);
  }

  /** For server.scopeKeys(): the keys this connection may read or write. */
  readonly keyScopes = (connection: Connection, access: KeyAccess): KeyScope => this.#grantOf(connection)[access];

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
    const commands = new Set<string>();
    let all = false;
    // Entries that say which keys bound them; an entry that does not say adds none.
    let scoped = false;
    const read = new KeyUnion();
    const write = new KeyUnion();
    const subject = lazy(() => certificateAttributes(certificate.subject));
    for (const rule of this.rules) {
      if (!matches(rule.match, certificate, subject)) continue;
      if (rule.allow === "*") all = true;
      else for (const command of rule.allow) commands.add(command);
      if (rule.read === undefined && rule.write === undefined) continue;
      scoped = true;
      read.add(rule.read);
      write.add(rule.write);
    }
    if (!all && commands.size === 0) return NOTHING;
    return { all, commands, read: scoped ? read.scope : "*", write: scoped ? write.scope : "*" };
  }
}

/** Does `match` name this certificate? Names a CA vouches for match only CA-admitted certificates. */
function matches(match: ClientMatch, certificate: ClientCertificate, subject: () => Map<string, string[]>): boolean {
  switch (match.by) {
    case "thumbprint":
      return match.thumbprint === certificate.sha1 || match.thumbprint === certificate.sha256;
    case "spki":
      return match.hex === certificate.spki;
    default:
      if (!certificate.viaCa) return false;
  }
  const names = certificate.altNames;
  switch (match.by) {
    case "subject":
      return [...match.attributes].every(([type, value]) => subject().get(type)?.includes(value) === true);
    case "uri":
      return names.uri.some((uri) => (match.prefix ? uri.startsWith(match.uri) : uri === match.uri));
    case "dns":
      return names.dns.some((dns) => {
        const name = dns.toLowerCase();
        if (!match.wildcard) return name === match.dns;
        const dot = name.indexOf(".");
        return dot > 0 && name.slice(dot + 1) === match.dns;
      });
    case "email":
      return names.email.some((email) => {
        const at = email.lastIndexOf("@");
        return email.slice(0, at) === match.local && email.slice(at + 1).toLowerCase() === match.domain;
      });
  }
}

function parseEntry(table: Record<string, unknown>, where: string): ClientRule {
  const unknown = Object.keys(table).find((key) => !ENTRY_KEYS.includes(key));
  const label = typeof table.name === "string" ? `${where} (${JSON.stringify(table.name)})` : where;
  if (unknown !== undefined) throw invalid(label, `unknown key ${JSON.stringify(unknown)} (expected name, one of ${MATCHERS.join(", ")}, allow, and optionally read and write)`);
  const name = table.name;
  if (typeof name !== "string" || name.trim() === "") throw invalid(label, "name is required: a string naming the client");
  const given = MATCHERS.filter((key) => table[key] !== undefined);
  if (given.length === 0) throw invalid(label, `give one of ${MATCHERS.join(", ")} to say which certificate this is`);
  if (given.length > 1) throw invalid(label, `give one of ${MATCHERS.join(", ")}, not ${given.join(" and ")}`);
  const by = given[0]!;
  const value = table[by];
  if (typeof value !== "string") throw invalid(label, `${by} must be a string`);
  return Object.freeze({
    name,
    match: Object.freeze(parseMatch(by, value, label)),
    allow: parseAllow(table.allow, label),
    read: parseKeys(table.read, "read", label),
    write: parseKeys(table.write, "write", label),
  });
}

/** `read` / `write`: "*" or a list of key prefixes (`"users/alice/"`; "" is every key). */
function parseKeys(value: unknown, key: "read" | "write", label: string): KeyScope | undefined {
  if (value === undefined) return undefined;
  if (value === "*") return "*";
  const expected = `${key} must be "*" or a list of key prefixes, e.g. ["reports/", "users/alice/"]`;
  if (!Array.isArray(value)) throw invalid(label, expected);
  const prefixes: string[] = [];
  for (const item of value) {
    if (typeof item !== "string" || /[\s\u0000-\u001f\u007f-\u009f]/.test(item) || Buffer.byteLength(item) > MAX_PREFIX_BYTES) {
      throw invalid(label, `${expected}; got ${JSON.stringify(item)} (no spaces or control characters, at most ${MAX_PREFIX_BYTES} bytes)`);
    }
    if (item === "*") return "*";
    prefixes.push(item);
  }
  return Object.freeze([...new Set(prefixes)]);
}

/** The union of key scopes: "*" once any is "*". */
class KeyUnion {
  #all = false;
  readonly #prefixes = new Set<string>();

  add(scope: KeyScope | undefined): void {
    if (scope === "*") this.#all = true;
    else for (const prefix of scope ?? []) this.#prefixes.add(prefix);
  }

  get scope(): KeyScope {
    return this.#all ? "*" : Object.freeze([...this.#prefixes]);
  }
}

function parseMatch(by: (typeof MATCHERS)[number], value: string, label: string): ClientMatch {
  switch (by) {
    case "thumbprint":
      try {
        return { by, value, thumbprint: normalizeThumbprint(value) };
      } catch {
        throw invalid(label, `malformed thumbprint ${JSON.stringify(value)}: expected 40 (SHA-1) or 64 (SHA-256) hex digits`);
      }
    case "spki":
      try {
        return { by, value, pin: normalizeSpkiPin(value), hex: spkiPinHex(value) };
      } catch (error) {
        throw invalid(label, (error as Error).message.replace(/^invalid SPKI pin/, "malformed spki pin"));
      }
    case "subject":
      return { by, value, attributes: parseSubject(value, label) };
    case "uri":
      return parseUri(value, label);
    case "dns": {
      const wildcard = value.startsWith("*.");
      const dns = (wildcard ? value.slice(2) : value).toLowerCase();
      if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/.test(dns)) {
        throw invalid(label, `malformed dns ${JSON.stringify(value)}: expected a DNS name such as "api.example.org", or "*.example.org" for one label under it`);
      }
      return { by, value, dns, wildcard };
    }
    case "email": {
      const at = value.lastIndexOf("@");
      if (at < 1 || at === value.length - 1 || /\s/.test(value)) throw invalid(label, `malformed email ${JSON.stringify(value)}: expected an address such as "alice@example.org"`);
      return { by, value, local: value.slice(0, at), domain: value.slice(at + 1).toLowerCase() };
    }
  }
}

/**
 * `spiffe://example.org/ns/prod/sa/api` (that ID only), `spiffe://example.org/ns/prod/*`
 * (every ID under that path) or `spiffe://example.org/ns/prod*` (every ID that starts so).
 */
function parseUri(value: string, label: string): ClientMatch {
  const prefix = value.endsWith("*");
  const uri = prefix ? value.slice(0, -1) : value;
  const expected = `expected a URI such as "spiffe://example.org/ns/prod/sa/api", with * at the end for a prefix ("spiffe://example.org/ns/prod/*")`;
  if (uri.includes("*") || /\s/.test(uri) || !/^[a-zA-Z][a-zA-Z0-9+.-]*:\S/.test(uri)) throw invalid(label, `uri ${JSON.stringify(value)} is not a URI: ${expected}`);
  // A prefix cut inside the authority (`spiffe://exa*`) is still checked as far as it goes.
  if (!URL.canParse(prefix && !uri.includes("/", uri.indexOf("//") + 2) ? `${uri}x` : uri)) throw invalid(label, `uri ${JSON.stringify(value)} is not a URI: ${expected}`);
  return { by: "uri", value, uri, prefix };
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

function lazy<T>(make: () => T): () => T {
  let value: { made: T } | undefined;
  return () => (value ??= { made: make() }).made;
}

function invalid(label: string, message: string): GnpError {
  return new GnpError("CONFIG_INVALID", `${label}: ${message}`);
}
