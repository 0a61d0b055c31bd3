// `gnp certs inspect FILE`: what a certificate says and whether a server would admit it. FILE
// may hold a whole chain (the client's certificate, then the intermediates it sends), which is
// judged the way the server judges what a client sends: the same validator, the same CRLs and
// chain limits, from --ca/--crl/--allow or from the `gnp serve` configured here (--server).
import { X509Certificate as NodeX509 } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseCertificate } from "../certs/certificate-facts.ts";
import { thumbprints } from "../certs/thumbprint.ts";
import type { TrustPolicy } from "../certs/trust-policy.ts";
import { CertificateValidator, formatInstant, type PeerCertificate } from "../certs/validator.ts";
import { x509 } from "../certs/x509.ts";
import type { FlagSpec } from "../config/flags.ts";
import type { CliIo } from "../io.ts";
import { loadLocalServerTrust } from "../serve/local-server-trust.ts";
import { systemReason } from "../wording.ts";
import { parse, readCertificates, readText, single } from "./certs-common.ts";
import type * as X509 from "@peculiar/x509";

export const INSPECT_FLAGS = {
  ca: { type: "string", arg: "CAFILE", multiple: true, env: false, help: "check against this trusted CA (repeatable)" },
  crl: { type: "string", arg: "CRLFILE", multiple: true, env: false, help: "check against this CRL of a trusted CA, PEM or DER (repeatable)" },
  allow: { type: "string", arg: "THUMBPRINT", multiple: true, env: false, help: "check against this allow-list thumbprint (repeatable)" },
  server: { type: "boolean", env: false, help: "check against the server configured here" },
  config: { type: "string", arg: "FILE", env: false, help: "that server's settings file" },
  json: { type: "boolean", env: false, help: "print the description and the verdict as one JSON object" },
} as const satisfies Record<string, FlagSpec>;

/** Runs `gnp certs inspect`; resolves to 1 when the certificate would be refused. */
export async function inspect(argv: string[], io: CliIo, usage: () => number): Promise<number> {
  const { values, positionals } = parse(argv, INSPECT_FLAGS);
  if (values.help) return usage();
  const [der, ...intermediates] = await readCertificates(single(positionals, { what: "FILE", required: true })!);
  const cert = new x509.X509Certificate(der!);
  const node = new NodeX509(der!);
  const digests = thumbprints(der!);
  // --server: the trust of the `gnp serve` configured here (src/serve/local-server-trust.ts).
  const local = values.server || values.config !== undefined ? loadLocalServerTrust(values.config, { env: process.env }) : undefined;
  const trust: TrustPolicy = {
    ...local?.trust,
    allow: [...(local?.trust.allow ?? []), ...values.allow],
    trustedCas: [...(local?.trust.trustedCas ?? []), ...(await Promise.all(values.ca.map((file) => readText(file, "given with --ca"))))],
    crls: [...(local?.trust.crls ?? []), ...(await Promise.all(values.crl.map(readBytes)))],
  };
  const checked = trust.trustedCas.length > 0 || trust.allow.length > 0;
  const admission = checked ? new CertificateValidator(trust, { cacheSize: 0 }).validate(presented([der!, ...intermediates])) : undefined;
  const verdict = !admission
    ? "not checked (give --ca or --allow)"
    : admission.ok
      ? `admitted ${admission.certificate.viaCa ? "by a trusted CA" : "by the allow-list"}${admission.certificate.warnings ? `, with a warning: ${admission.certificate.warnings.join("; ")}` : ""}`
      : `refused (${admission.code}): ${admission.reason}`;
  const facts = parseCertificate(der!, { identity: true, digests });
  const rows: [string, string][] = [
    ["Subject", cert.subject || "(empty)"],
    ["Issuer", cert.issuer || "(empty)"],
    ["SANs", describeSans(cert)],
    ["Not before", formatInstant(cert.notBefore)],
    ["Not after", formatInstant(cert.notAfter)],
    ["Key", describeKey(node)],
    ["CA", cert.getExtension(x509.BasicConstraintsExtension)?.ca ? "yes" : "no"],
    ["Serial", cert.serialNumber.toUpperCase()],
    ["SHA-1", digests.sha1],
    ["SHA-256", digests.sha256],
    ["SPKI pin", `sha256/${Buffer.from(facts.spki, "hex").toString("base64")}`],
    ["Identity", facts.identity],
  ];
  if (intermediates.length > 0) rows.push(["Sent with", intermediates.map((more) => parseCertificate(more, { identity: true }).name).join(", ")]);
  rows.push(["Admission", verdict]);
  const permissions = local !== undefined && admission?.ok ? local.clients.permissionsFor(admission.certificate) : undefined;
  if (local !== undefined) {
    rows.push(["Checked", `against ${local.source}`]);
    if (permissions !== undefined) rows.push(["Permissions", permissions.join(", ") || "none (only WHOAMI): matches no [[clients]] entry"]);
  }
  if (values.json) {
    const sans = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const described = {
      subject: cert.subject,
      issuer: cert.issuer,
      sans: sans === null ? [] : sans.names.items.map((n) => ({ type: SAN_LABELS[n.type] ?? n.type, value: n.value })),
      notBefore: formatInstant(cert.notBefore),
      notAfter: formatInstant(cert.notAfter),
      key: describeKey(node),
      ca: cert.getExtension(x509.BasicConstraintsExtension)?.ca === true,
      serial: cert.serialNumber.toUpperCase(),
      sha1: digests.sha1,
      sha256: digests.sha256,
      spki: `sha256/${Buffer.from(facts.spki, "hex").toString("base64")}`,
      identity: facts.identity,
      sentWith: intermediates.map((more) => parseCertificate(more, { identity: true }).name),
      admission:
        admission === undefined
          ? { checked: false }
          : admission.ok
            ? { checked: true, admitted: true, by: admission.certificate.viaCa ? "trusted CA" : "allow-list", ...(admission.certificate.warnings ? { warnings: admission.certificate.warnings } : {}) }
            : { checked: true, admitted: false, code: admission.code, reason: admission.reason },
      ...(local === undefined ? {} : { checkedAgainst: local.source, ...(permissions === undefined ? {} : { permissions }) }),
    };
    io.stdout(`${JSON.stringify(described)}\n`);
  } else io.stdout(rows.map(([label, value]) => `${label.padEnd(11)} ${value}\n`).join(""));
  return admission && !admission.ok ? 1 : 0;
}

/** What Bun's getPeerCertificate(false) would give for a client that sent these, in order. */
function presented(ders: readonly Uint8Array[]): PeerCertificate {
  return ders.reduceRight<PeerCertificate | undefined>((issuer, raw) => ({ raw, ...(issuer ? { issuerCertificate: issuer } : {}) }), undefined)!;
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new Error(`cannot read ${resolve(path)}: ${systemReason(error)} (given with --crl)`);
  }
}

const SAN_LABELS: Record<string, string> = { dns: "DNS", ip: "IP", email: "email", url: "URI" };

function describeSans(cert: X509.X509Certificate): string {
  const extension = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!extension) return "(none)";
  try {
    return extension.names.items.map((n) => `${SAN_LABELS[n.type] ?? n.type}:${n.value}`).join(", ");
  } catch {
    return "(present, not readable)";
  }
}

// node:crypto reports OpenSSL's curve names; people know the NIST ones.
const CURVE_NAMES: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };

function describeKey(node: NodeX509): string {
  const key = node.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "ec") {
    const curve = details.namedCurve ?? "unknown curve";
    return `ECDSA ${CURVE_NAMES[curve] ?? curve}`;
  }
  if (key.asymmetricKeyType === "rsa") return `RSA ${details.modulusLength ?? "?"} bits`;
  return key.asymmetricKeyType ?? "unknown";
}
