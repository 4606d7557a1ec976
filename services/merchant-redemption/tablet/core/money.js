// Euro amounts as bigint cents, never floats: the same rules as kernel::Money
// (at most two decimals, decimal comma accepted, half away from zero).

import { fail } from "./errors.js";

// kernel::money MAX_ABS: 1 000 000 000 euros.
const MAX_CENTS = 100_000_000_000n;

// A decimal as an exact fraction `m / 10^s` (bigint m, s >= 0), trailing zeros removed.
export function parseDecimal(text) {
  const t = String(text).trim();
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return null;
  let frac = (m[3] ?? "").replace(/0+$/, "");
  const digits = (m[2] || "0") + frac;
  let value = BigInt(digits);
  if (m[1] === "-") value = -value;
  return { m: value, s: frac.length };
}

// round(n / d) half away from zero, d > 0.
export function roundDiv(n, d) {
  const q = n / d;
  const r = n % d;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice >= d) return n < 0n ? q - 1n : q + 1n;
  return q;
}

function amountError(text) {
  fail("invalid_amount", `not a valid amount: ${JSON.stringify(String(text))}`);
}

// kernel::Money::parse: any sign, "12,50" or "12.50", at most two significant decimals.
export function parseMoney(text) {
  const d = parseDecimal(String(text).replace(",", "."));
  if (!d || d.s > 2) amountError(text);
  const cents = d.m * 10n ** BigInt(2 - d.s);
  if ((cents < 0n ? -cents : cents) > MAX_CENTS) amountError(text);
  return cents;
}

// What the cashier types as the basket: "12", "12.5", "12,50". Zero, negative,
// three decimals or anything else throws {code: "invalid_amount"}.
export function parseAmount(text) {
  if (typeof text === "bigint") {
    if (text <= 0n || text > MAX_CENTS) amountError(text);
    return text;
  }
  const t = String(text ?? "").trim();
  const m = /^(\d*)(?:[.,](\d{0,2}))?$/.exec(t);
  if (!m || m[1] === "") amountError(text);
  const cents = BigInt(m[1]) * 100n + BigInt((m[2] ?? "").padEnd(2, "0") || "0");
  if (cents <= 0n || cents > MAX_CENTS) amountError(text);
  return cents;
}

// Percent as basis points (hundredths of a percent), kernel::Percent::parse rules.
export function parsePercent(text) {
  const d = parseDecimal(String(text));
  if (!d || d.s > 2) return null;
  const bp = d.m * 10n ** BigInt(2 - d.s);
  if (bp < 0n || bp > 10_000n) return null;
  return bp;
}

// `bp` basis points of `cents`, rounded to the cent (Money::percent).
export function percentOf(cents, bp) {
  return roundDiv(cents * bp, 10_000n);
}

// "12.50", the API's form (Money's Display).
export function toApi(cents) {
  const c = BigInt(cents);
  const neg = c < 0n;
  const a = neg ? -c : c;
  const frac = String(a % 100n).padStart(2, "0");
  return `${neg ? "-" : ""}${a / 100n}.${frac}`;
}

// Alias kept for readers who look for the inverse of toApi.
export const fromApi = parseMoney;

// "12,50 €" (Slovenian, Italian, German, Croatian …) or "€12.50" (English).
export function formatAmount(cents, lang = "sl") {
  const c = BigInt(cents);
  const neg = c < 0n;
  const a = neg ? -c : c;
  const english = String(lang).toLowerCase().startsWith("en");
  const group = english ? "," : ".";
  const whole = String(a / 100n).replace(/\B(?=(\d{3})+(?!\d))/g, group);
  const frac = String(a % 100n).padStart(2, "0");
  const sign = neg ? "-" : "";
  return english ? `${sign}€${whole}.${frac}` : `${sign}${whole},${frac} €`;
}
