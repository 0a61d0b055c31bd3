// The one door to @peculiar/x509. tsyringe (inside it) throws at import time unless
// reflect-metadata has run, and the library needs a WebCrypto provider before any key or
// certificate operation; both happen here, once. Both packages are loaded with require(), in
// this order, on purpose: with ES imports Bun may evaluate the CommonJS tsyringe while linking,
// before reflect-metadata, and about one start in ten (from source or the compiled binary)
// died with "tsyringe requires a reflect polyfill". Types come from `import type`, which
// loads nothing: other modules write `X509.X509Certificate` for them.
import type * as X509 from "@peculiar/x509";

require("reflect-metadata");
const x509: typeof X509 = require("@peculiar/x509");

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
