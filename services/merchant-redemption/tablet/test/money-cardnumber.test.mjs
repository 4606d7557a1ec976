// Typed card numbers against tests/vectors/card-numbers.json (also checked by
// kernel::CardNumber in tests/rule_vectors.rs) and the money helpers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  checkCardNumber,
  formatAmount,
  formatCardNumber,
  makeCardNumber,
  parseAmount,
  parseMoney,
  toApi,
} from "../core/index.js";

const numbers = JSON.parse(
  readFileSync(new URL("../../tests/vectors/card-numbers.json", import.meta.url), "utf8"),
);

test("card numbers give the kernel's answers", () => {
  assert.ok(numbers.vectors.length >= 15);
  for (const v of numbers.vectors) {
    const r = checkCardNumber(v.text);
    if (v.expect === "ok") {
      assert.equal(r.ok, true, v.name);
      assert.equal(r.number, v.number, v.name);
      assert.equal(r.townCode, Number(v.number.slice(0, 3)), v.name);
    } else {
      assert.equal(r.ok, false, v.name);
      assert.equal(r.code, v.expect, v.name);
      assert.equal(typeof r.message, "string");
    }
  }
});

test("every single-digit typo and neighbour swap is caught", () => {
  for (const [town, serial] of [[101, 423], [102, 99999999], [999, 1]]) {
    const good = makeCardNumber(town, serial);
    assert.equal(checkCardNumber(good).ok, true);
    for (let i = 0; i < 12; i++) {
      for (let d = 1; d < 10; d++) {
        const typo = good.slice(0, i) + String((Number(good[i]) + d) % 10) + good.slice(i + 1);
        assert.equal(checkCardNumber(typo).code, "card_number_check_digit", typo);
      }
      if (i < 11 && good[i] !== good[i + 1]) {
        const swap = good.slice(0, i) + good[i + 1] + good[i] + good.slice(i + 2);
        assert.equal(checkCardNumber(swap).code, "card_number_check_digit", swap);
      }
    }
  }
  assert.equal(formatCardNumber(makeCardNumber(101, 423)), "1010 0000 4235");
});

test("the basket the cashier types", () => {
  assert.equal(parseAmount("12.5"), 1250n);
  assert.equal(parseAmount("12,50"), 1250n);
  assert.equal(parseAmount("12"), 1200n);
  assert.equal(parseAmount(" 0,01 "), 1n);
  assert.equal(parseAmount("7."), 700n);
  assert.equal(parseAmount("1000000000"), 100_000_000_000n);
  for (const bad of ["0", "0.00", "-1", "-0.5", "1.005", "12.500", "abc", "", " ", "1e3", "1.2.3", "12,5,0", ".5",
    "1 000", "1000000000.01", "NaN", "Infinity", "0x10", null, undefined]) {
    assert.throws(() => parseAmount(bad), { code: "invalid_amount" }, String(bad));
  }
  assert.equal(parseAmount(250n), 250n);
  assert.throws(() => parseAmount(0n), { code: "invalid_amount" });
});

test("API amounts and display", () => {
  assert.equal(toApi(1250n), "12.50");
  assert.equal(toApi(5n), "0.05");
  assert.equal(toApi(-5n), "-0.05");
  assert.equal(toApi(0n), "0.00");
  assert.equal(parseMoney("12.50"), 1250n);
  assert.equal(parseMoney("-3"), -300n);
  assert.equal(parseMoney("1.500"), 150n); // trailing zeros are not precision (kernel::Money)
  assert.equal(parseMoney("4,2"), 420n);
  assert.throws(() => parseMoney("1.005"), { code: "invalid_amount" });
  assert.throws(() => parseMoney("1e12"), { code: "invalid_amount" });
  assert.equal(formatAmount(1250n, "sl"), "12,50 €");
  assert.equal(formatAmount(123456789n, "sl"), "1.234.567,89 €");
  assert.equal(formatAmount(123456789n, "en"), "€1,234,567.89");
  assert.equal(formatAmount(-50n, "it"), "-0,50 €");
  assert.equal(formatAmount(0n), "0,00 €");
});
