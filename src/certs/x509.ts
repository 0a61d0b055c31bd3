// The one door to @peculiar/x509. tsyringe (inside it) throws at import time
// unless reflect-metadata is loaded first, and the library needs a WebCrypto
// provider before any key or certificate operation; both happen here, once,
// so every other module imports `x509` from this file and never directly.
import "./reflect-polyfill.ts";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
