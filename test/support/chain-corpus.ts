// The corpus of the differential test: client certificate chains of every shape issue 11
// names (good chains of depth 1 to 4, broken links of each kind, revocation), generated per
// test process. Each case says what the client sends, which CAs are trusted and which CRLs
// are loaded, and the verdict RFC 5280 gives, so that gnp and openssl agreeing on a wrong
// answer would still fail.
import { x509 } from "../../src/certs/x509.ts";
import { ANY_EKU, CLIENT_AUTH, SERVER_AUTH, forge, forgeCa, forgeCrl, forgeLeaf, nameConstraints, type Forged } from "./chains.ts";

const KU = x509.KeyUsageFlags;
const DAY_MS = 86_400_000;

export type ChainCase = {
  name: string;
  expected: "admit" | "refuse";
  leaf: Forged;
  /** Sent by the client after its own certificate, in this order. */
  sent: Forged[];
  /** Self-signed roots: openssl's -CAfile, and gnp's trusted CAs. */
  roots: Forged[];
  /** Intermediates gnp must know to check their CRLs (openssl reads them from the chain). */
  knownIntermediates?: Forged[];
  /** CRL PEM texts; when present, openssl runs with -crl_check_all. */
  crls?: string[];
};

/** An unknown extension, critical: RFC 5280 section 4.2 says refuse. */
const unknownCritical = () => new x509.Extension("1.3.6.1.4.1.55555.99", true, new Uint8Array([0x05, 0x00]));
const unknownPlain = () => new x509.Extension("1.3.6.1.4.1.55555.98", false, new Uint8Array([0x05, 0x00]));

/** A chain root -> n intermediates -> leaf; intermediates listed top-down. */
async function ladder(prefix: string, depth: number, root?: Forged): Promise<{ root: Forged; ints: Forged[]; leaf: Forged }> {
  const top = root ?? (await forgeCa(`${prefix} root`));
  const ints: Forged[] = [];
  let issuer = top;
  for (let i = 1; i < depth; i++) {
    issuer = await forgeCa(`${prefix} int ${i}`, issuer);
    ints.push(issuer);
  }
  return { root: top, ints, leaf: await forgeLeaf(`${prefix} leaf`, issuer) };
}

/** Sent order: the leaf's issuer first, as TLS clients send it. */
const upward = (ints: Forged[]) => [...ints].reverse();

export async function buildCorpus(): Promise<ChainCase[]> {
  const cases: ChainCase[] = [];
  const add = (c: ChainCase) => cases.push(c);

  for (const depth of [1, 2, 3, 4]) {
    const { root, ints, leaf } = await ladder(`good${depth}`, depth);
    add({ name: `good chain of depth ${depth}`, expected: "admit", leaf, sent: upward(ints), roots: [root] });
  }
  const root = await forgeCa("Acme Root");
  const int = await forgeCa("Acme Issuing CA", root);
  const int2 = await forgeCa("Acme Issuing CA 2", int);
  const good = await forgeLeaf("carol", int2);
  add({ name: "depth 3 sent in reverse order", expected: "admit", leaf: good, sent: [int, int2], roots: [root] });
  add({ name: "depth 3 with the root sent too", expected: "admit", leaf: good, sent: [int2, int, root], roots: [root] });
  add({ name: "depth 3 with an unrelated certificate sent", expected: "admit", leaf: good, sent: [int2, await forgeCa("stranger"), int], roots: [root] });
  add({ name: "depth 3 without the middle intermediate", expected: "refuse", leaf: good, sent: [int2], roots: [root] });
  const rsaRoot = await forgeCa("rsa root", undefined, { algorithm: "rsa" });
  const rsaInt = await forgeCa("rsa int", rsaRoot);
  add({ name: "RSA root over an ECDSA intermediate", expected: "admit", leaf: await forgeLeaf("rsa leaf", rsaInt), sent: [rsaInt], roots: [rsaRoot] });
  add({ name: "leaf without extended key usage", expected: "admit", leaf: await forgeLeaf("no eku", int, { eku: undefined }), sent: [int], roots: [root] });
  add({ name: "leaf without any key usage extension", expected: "admit", leaf: await forge({ cn: "bare", issuer: int }), sent: [int], roots: [root] });
  add({ name: "leaf with an unknown non-critical extension", expected: "admit", leaf: await forgeLeaf("extra", int, { extensions: [unknownPlain()] }), sent: [int], roots: [root] });
  const pathOk = await forgeCa("pathlen 1 root", undefined, { pathLength: 1 });
  const pathOkInt = await forgeCa("pathlen ok int", pathOk);
  add({ name: "pathLenConstraint 1 with one intermediate", expected: "admit", leaf: await forgeLeaf("pl ok", pathOkInt), sent: [pathOkInt], roots: [pathOk] });
  const clientOnly = await forgeCa("client-only CA", root, { eku: [CLIENT_AUTH] });
  add({ name: "intermediate restricted to clientAuth", expected: "admit", leaf: await forgeLeaf("eku ca ok", clientOnly), sent: [clientOnly], roots: [root] });

  // Dates of every link.
  const now = Date.now();
  add({ name: "expired leaf", expected: "refuse", leaf: await forgeLeaf("old", int, { validFromDays: -30, validToDays: -1 }), sent: [int], roots: [root] });
  add({ name: "leaf not yet valid", expected: "refuse", leaf: await forgeLeaf("early", int, { validFromDays: 2, validToDays: 30 }), sent: [int], roots: [root] });
  const oldInt = await forgeCa("Acme Issuing CA old", root, { validFromDays: -60, validToDays: -1 });
  add({ name: "expired intermediate", expected: "refuse", leaf: await forgeLeaf("under old", oldInt, { validFromDays: -30 }), sent: [oldInt], roots: [root] });
  const futureInt = await forgeCa("Acme Issuing CA future", root, { validFromDays: 3, validToDays: 90 });
  add({ name: "intermediate not yet valid", expected: "refuse", leaf: await forgeLeaf("under future", futureInt), sent: [futureInt], roots: [root] });
  const oldRoot = await forgeCa("old root", undefined, { notBefore: new Date(now - 90 * DAY_MS), notAfter: new Date(now - DAY_MS) });
  add({ name: "expired root", expected: "refuse", leaf: await forgeLeaf("under old root", oldRoot, { validFromDays: -30 }), sent: [], roots: [oldRoot] });

  // Names and signatures.
  add({ name: "wrong issuer name", expected: "refuse", leaf: await forgeLeaf("misnamed", int, { issuerName: "CN=Acme Issuing CA X" }), sent: [int], roots: [root] });
  const attacker = await forgeCa("attacker");
  const forgedInt = await forgeCa("Acme Issuing CA", root, { signingKey: attacker.keys.privateKey });
  add({ name: "forged intermediate with the real one's name", expected: "refuse", leaf: await forgeLeaf("mallory", forgedInt), sent: [forgedInt], roots: [root] });
  add({ name: "leaf signed by another key under a real intermediate's name", expected: "refuse", leaf: await forgeLeaf("eve", int, { signingKey: attacker.keys.privateKey }), sent: [int], roots: [root] });
  const otherInt = await forgeCa("other int", attacker);
  add({ name: "chain to an untrusted root", expected: "refuse", leaf: await forgeLeaf("outsider", otherInt), sent: [otherInt, attacker], roots: [root] });
  add({ name: "self-signed leaf", expected: "refuse", leaf: await forge({ cn: "lonely", ca: false, keyUsage: KU.digitalSignature, eku: [CLIENT_AUTH] }), sent: [], roots: [root] });

  // CA rules on intermediates.
  const notCa = await forgeCa("not a CA", root, { ca: false });
  add({ name: "intermediate with cA false", expected: "refuse", leaf: await forgeLeaf("under not-ca", notCa), sent: [notCa], roots: [root] });
  const noBc = await forge({ cn: "no basicConstraints", issuer: root, keyUsage: KU.keyCertSign | KU.cRLSign });
  add({ name: "intermediate without basicConstraints", expected: "refuse", leaf: await forgeLeaf("under no-bc", noBc), sent: [noBc], roots: [root] });
  const noSign = await forgeCa("no keyCertSign", root, { keyUsage: KU.digitalSignature | KU.cRLSign });
  add({ name: "intermediate without keyCertSign", expected: "refuse", leaf: await forgeLeaf("under no-kcs", noSign), sent: [noSign], roots: [root] });
  const tight = await forgeCa("pathlen 0 int", root, { pathLength: 0 });
  const below = await forgeCa("below pathlen 0", tight);
  add({ name: "pathLenConstraint 0 exceeded", expected: "refuse", leaf: await forgeLeaf("too deep", below), sent: [below, tight], roots: [root] });
  const rootPl0 = await forgeCa("pathlen 0 root", undefined, { pathLength: 0 });
  const underRootPl0 = await forgeCa("under pathlen 0 root", rootPl0);
  add({ name: "root pathLenConstraint 0 exceeded", expected: "refuse", leaf: await forgeLeaf("pl root", underRootPl0), sent: [underRootPl0], roots: [rootPl0] });
  const serverCa = await forgeCa("server-only CA", root, { eku: [SERVER_AUTH] });
  add({ name: "intermediate restricted to serverAuth", expected: "refuse", leaf: await forgeLeaf("under server ca", serverCa), sent: [serverCa], roots: [root] });
  const criticalInt = await forgeCa("critical int", root, { extensions: [unknownCritical()] });
  add({ name: "unknown critical extension on an intermediate", expected: "refuse", leaf: await forgeLeaf("under critical", criticalInt), sent: [criticalInt], roots: [root] });
  {
    const { root: deepRoot, ints, leaf } = await ladder("deep", 10);
    add({ name: "nine intermediates, one more than the depth limit", expected: "refuse", leaf, sent: upward(ints), roots: [deepRoot] });
  }

  // The leaf's own usage.
  add({ name: "serverAuth-only leaf", expected: "refuse", leaf: await forgeLeaf("web", int, { eku: [SERVER_AUTH] }), sent: [int], roots: [root] });
  add({ name: "anyExtendedKeyUsage-only leaf", expected: "refuse", leaf: await forgeLeaf("any", int, { eku: [ANY_EKU] }), sent: [int], roots: [root] });
  add({ name: "leaf whose keyUsage lacks digitalSignature", expected: "refuse", leaf: await forgeLeaf("encipher", int, { keyUsage: KU.keyEncipherment }), sent: [int], roots: [root] });
  add({ name: "unknown critical extension on the leaf", expected: "refuse", leaf: await forgeLeaf("critical leaf", int, { extensions: [unknownCritical()] }), sent: [int], roots: [root] });
  add({ name: "a CA certificate as the client's", expected: "refuse", leaf: await forgeCa("ca as client", int), sent: [int], roots: [root] });

  // Name constraints (RFC 5280 section 4.2.1.10), critical as corporate CAs carry them.
  const acme = await forgeCa("Acme Constrained CA", root, {
    extensions: [nameConstraints({ permitted: [{ dns: "acme.example" }, { email: "acme.example" }, { uri: ".acme.example" }, { ip: "10.0.0.0/8" }], excluded: [{ dns: "secret.acme.example" }] })],
  });
  const under = (cn: string, more: Partial<Parameters<typeof forgeLeaf>[2]> = {}) => forgeLeaf(cn, acme, more);
  const constrained = (name: string, expected: ChainCase["expected"], leaf: Forged) => add({ name: `nameConstraints: ${name}`, expected, leaf, sent: [acme], roots: [root] });
  constrained("DNS name within a permitted subtree", "admit", await under("api", { sans: ["api.acme.example"] }));
  constrained("DNS name equal to the permitted subtree", "admit", await under("apex", { sans: ["acme.example"] }));
  constrained("DNS name outside the permitted subtrees", "refuse", await under("web", { sans: ["api.evil.example"] }));
  constrained("DNS name that only ends like the subtree", "refuse", await under("near", { sans: ["notacme.example"] }));
  constrained("DNS name within an excluded subtree", "refuse", await under("spy", { sans: ["db.secret.acme.example"] }));
  constrained("e-mail address within a permitted domain", "admit", await under("alice", { altNames: [{ type: "email", value: "alice@acme.example" }] }));
  constrained("e-mail address outside the permitted domain", "refuse", await under("bob", { altNames: [{ type: "email", value: "bob@evil.example" }] }));
  constrained("SPIFFE ID whose trust domain is within a permitted URI subtree", "admit", await under("svc", { altNames: [{ type: "url", value: "spiffe://prod.acme.example/ns/api/sa/web" }] }));
  constrained("SPIFFE ID of another trust domain", "refuse", await under("svc2", { altNames: [{ type: "url", value: "spiffe://evil.example/ns/api" }] }));
  constrained("IP address within a permitted range", "admit", await under("box", { altNames: [{ type: "ip", value: "10.1.2.3" }] }));
  constrained("IP address outside the permitted range", "refuse", await under("box2", { altNames: [{ type: "ip", value: "192.168.1.1" }] }));
  constrained("a common name that is a host name outside them, without DNS names", "refuse", await under("api.evil.example"));
  constrained("a common name that is no host name, without any SAN", "admit", await under("carol"));
  const dirCa = await forgeCa("Acme Directory CA", root, { extensions: [nameConstraints({ permitted: [{ dirName: "C=US, O=Acme" }] })] });
  add({ name: "nameConstraints: subject within a permitted directoryName", expected: "admit", leaf: await forgeLeaf("x", dirCa, { subject: "C=US, O=Acme, CN=dora" }), sent: [dirCa], roots: [root] });
  add({ name: "nameConstraints: subject outside the permitted directoryName", expected: "refuse", leaf: await forgeLeaf("x", dirCa, { subject: "C=US, O=Evil, CN=mallory" }), sent: [dirCa], roots: [root] });
  const strayInt = await forgeCa("stray", dirCa, { subject: "C=US, O=Elsewhere, CN=Stray CA" });
  add({ name: "nameConstraints: an intermediate below outside them", expected: "refuse", leaf: await forgeLeaf("x", strayInt, { subject: "C=US, O=Acme, CN=erin" }), sent: [strayInt, dirCa], roots: [root] });
  const rootNc = await forgeCa("Constrained Root", undefined, { extensions: [nameConstraints({ permitted: [{ dns: "acme.example" }] })] });
  const rootNcInt = await forgeCa("Under Constrained Root", rootNc);
  add({ name: "nameConstraints on the trusted root, obeyed", expected: "admit", leaf: await forgeLeaf("ok", rootNcInt, { sans: ["a.acme.example"] }), sent: [rootNcInt], roots: [rootNc] });
  add({ name: "nameConstraints on the trusted root, broken two levels down", expected: "refuse", leaf: await forgeLeaf("far", rootNcInt, { sans: ["a.evil.example"] }), sent: [rootNcInt], roots: [rootNc] });

  // Revocation: a CRL for every CA on the path, as openssl's -crl_check_all needs.
  const crlRoot = await forgeCa("CRL Root");
  const crlInt = await forgeCa("CRL Issuing CA", crlRoot);
  const revokedInt = await forgeCa("CRL Revoked CA", crlRoot);
  const fine = await forgeLeaf("dana", crlInt);
  const revokedLeaf = await forgeLeaf("frank", crlInt);
  const underRevoked = await forgeLeaf("grace", revokedInt);
  const rootCrl = (await forgeCrl(crlRoot, { revoked: [{ serial: revokedInt.serial }] })).pem;
  const intCrl = (await forgeCrl(crlInt, { revoked: [{ serial: revokedLeaf.serial }] })).pem;
  const revokedIntCrl = (await forgeCrl(revokedInt)).pem;
  const staleIntCrl = (await forgeCrl(crlInt, { thisUpdate: new Date(now - 40 * DAY_MS), nextUpdate: new Date(now - DAY_MS) })).pem;
  const futureIntCrl = (await forgeCrl(crlInt, { thisUpdate: new Date(now + DAY_MS), nextUpdate: new Date(now + 30 * DAY_MS) })).pem;
  const known = [crlInt, revokedInt];
  add({ name: "CRLs loaded, nothing revoked on the path", expected: "admit", leaf: fine, sent: [crlInt], roots: [crlRoot], knownIntermediates: known, crls: [rootCrl, intCrl, revokedIntCrl] });
  add({ name: "revoked leaf", expected: "refuse", leaf: revokedLeaf, sent: [crlInt], roots: [crlRoot], knownIntermediates: known, crls: [rootCrl, intCrl, revokedIntCrl] });
  add({ name: "revoked intermediate", expected: "refuse", leaf: underRevoked, sent: [revokedInt], roots: [crlRoot], knownIntermediates: known, crls: [rootCrl, intCrl, revokedIntCrl] });
  add({ name: "expired CRL of the leaf's issuer", expected: "refuse", leaf: fine, sent: [crlInt], roots: [crlRoot], knownIntermediates: known, crls: [rootCrl, staleIntCrl] });
  add({ name: "CRL of the leaf's issuer not yet valid", expected: "refuse", leaf: fine, sent: [crlInt], roots: [crlRoot], knownIntermediates: known, crls: [rootCrl, futureIntCrl] });
  add({ name: "revoked in a CRL with a future revocation date", expected: "refuse", leaf: revokedLeaf, sent: [crlInt], roots: [crlRoot], knownIntermediates: known, crls: [rootCrl, (await forgeCrl(crlInt, { revoked: [{ serial: revokedLeaf.serial, at: new Date(now + DAY_MS) }] })).pem] });
  return cases;
}
