// The tablet's rules port against tests/vectors/rules.json, the file
// tests/rule_vectors.rs runs through domain::rules::evaluate: same answers or fail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { evaluate, localTime, parseMoney, toApi } from "../core/index.js";

const file = JSON.parse(
  readFileSync(new URL("../../tests/vectors/rules.json", import.meta.url), "utf8"),
);

function run(c) {
  const n = c.counters ?? {};
  const local = {
    cardDay: n.card_day ?? 0,
    cardMerchant: n.card_merchant ?? 0,
    cardPromotion: n.card_promotion ?? 0,
    merchantBudget: parseMoney(n.merchant_budget ?? "0"),
    dayBudget: parseMoney(n.day_budget ?? "0"),
  };
  const card = { productCode: c.card.product_code, points: c.card.points };
  return evaluate(c.offer, card, parseMoney(c.basket), new Date(c.now), c.time_zone, local);
}

test("every rule vector gives the Rust answer", () => {
  assert.ok(file.cases.length >= 40, "about 40 cases");
  const failures = [];
  for (const c of file.cases) {
    const r = run(c);
    const got = r.ok
      ? {
          discount: toApi(r.discount),
          to_pay: toApi(r.toPay),
          municipality: toApi(r.municipality),
          merchant: toApi(r.merchant),
          points_earned: r.pointsEarned,
          points_spent: r.pointsSpent,
        }
      : { refusal: r.code };
    try {
      assert.deepEqual(got, c.expect);
    } catch {
      failures.push(`${c.name}: got ${JSON.stringify(got)}, want ${JSON.stringify(c.expect)}`);
    }
  }
  assert.deepEqual(failures, []);
});

test("refusals carry the server's message and amounts are bigint cents", () => {
  const c = file.cases.find((x) => x.name === "percent_ten");
  const r = run(c);
  assert.equal(typeof r.discount, "bigint");
  assert.equal(r.discount + r.toPay, parseMoney(c.basket));
  const closed = run(file.cases.find((x) => x.name === "closed"));
  assert.deepEqual(closed, {
    ok: false,
    code: "promotion_closed",
    message: "the promotion has been closed",
  });
});

test("an offer whose rules do not parse is not given", () => {
  const c = file.cases.find((x) => x.name === "percent_ten");
  for (const rules of [
    {},
    { benefit: { kind: "cashback", value: "1" } },
    { benefit: { kind: "percent", value: 10 } }, // Decimal is read from strings only
    { benefit: { kind: "fixed", value: "1.005" } },
    { benefit: { kind: "fixed", value: "1.00" }, hours: { from: "9h", to: "12:00" } },
  ]) {
    const r = evaluate({ ...c.offer, rules }, { productCode: "KC24", points: 0 }, 1000n, new Date(c.now), c.time_zone);
    assert.equal(r.code, "offer_not_found", JSON.stringify(rules));
  }
});

test("local time follows the zone's DST rules", () => {
  const lj = "Europe/Ljubljana";
  assert.deepEqual(localTime(new Date("2026-03-29T00:59:59.250Z"), lj), {
    date: "2026-03-29",
    weekday: 7,
    ms: (1 * 3600 + 59 * 60 + 59) * 1000 + 250,
  });
  assert.equal(localTime(new Date("2026-03-29T01:00:00Z"), lj).ms, 3 * 3600 * 1000);
  assert.equal(localTime(new Date("2026-11-21T23:00:00Z"), lj).date, "2026-11-22");
  assert.equal(localTime(new Date("2026-11-21T23:00:00Z"), lj).ms, 0);
});
