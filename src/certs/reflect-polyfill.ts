// Loads reflect-metadata, which tsyringe (inside @peculiar/x509) needs before it is imported.
// It is a module of its own on purpose: when Bun bundles a module, it runs that module's ES
// imports (tsyringe) before its CommonJS ones (reflect-metadata) whatever their order, so the
// compiled executable died at start; an ES module that only imports it keeps the order.
import "reflect-metadata";
