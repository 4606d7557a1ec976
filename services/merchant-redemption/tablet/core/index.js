// The tablet's offline core: pure functions, no DOM, no network. See README.md.
export * from "./errors.js";
export * from "./money.js";
export * from "./cardnumber.js";
export * from "./ed25519.js";
export * from "./token.js";
export * from "./rules.js";
