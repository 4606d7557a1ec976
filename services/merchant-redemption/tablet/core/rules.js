// A promotion's rules for one card, basket and moment: an exact port of
// src/domain/rules.rs `evaluate`, domain/pricing.rs `quote` and domain/limits.rs
// `Counters::check`. tests/vectors/rules.json holds both implementations to the
// same answers (tablet/test/rules.test.mjs and tests/rule_vectors.rs).

import { parseDecimal, parseMoney, parsePercent, percentOf } from "./money.js";

const MESSAGES = {
  promotion_closed: "the promotion has been closed",
  promotion_not_started: "the promotion has not started yet",
  promotion_ended: "the promotion has ended",
  promotion_not_today: "the promotion does not run today",
  promotion_outside_hours: "the promotion does not run at this hour",
  card_product_not_eligible: "this card product is not eligible",
  basket_below_minimum: "the basket is below the promotion's minimum",
  nothing_to_redeem: "this basket gives no discount and no points",
  card_daily_limit_reached: "the card has used this promotion as often as allowed today",
  card_merchant_limit_reached: "the card has used this promotion here as often as allowed",
  card_promotion_limit_reached: "the card has used this promotion as often as allowed",
  merchant_budget_exhausted: "this shop's budget for the promotion is used up",
  daily_budget_exhausted: "today's budget for the promotion is used up",
  points_insufficient: "the card does not have enough points",
  offer_not_found: "this shop does not give that promotion",
};

const refusal = (code) => ({ ok: false, code, message: MESSAGES[code] });

const I32_MAX = 2_147_483_647n;

class BadRules extends Error {}

function money(v) {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") throw new BadRules("amounts are strings");
  try {
    return parseMoney(v);
  } catch {
    throw new BadRules(`bad amount ${v}`);
  }
}

function int(v) {
  if (v === undefined || v === null) return null;
  if (!Number.isInteger(v) || v < -(2 ** 31) || v > 2 ** 31 - 1) throw new BadRules("not an i32");
  return v;
}

function decimal(v) {
  // rust_decimal with "serde-str" reads only JSON strings.
  const d = typeof v === "string" ? parseDecimal(v) : null;
  if (!d) throw new BadRules(`bad decimal ${v}`);
  return d;
}

// chrono's NaiveTime::from_str: "HH:MM", "HH:MM:SS" or "HH:MM:SS.fff", as milliseconds
// of the day.
function time(v) {
  const re = /^\s*(\d{1,2})\s*:\s*(\d{1,2})(?:\s*:\s*(\d{1,2})(?:\.(\d+))?)?\s*$/;
  const m = typeof v === "string" ? re.exec(v) : null;
  if (!m || +m[1] > 23 || +m[2] > 59 || +(m[3] ?? 0) > 59) throw new BadRules(`bad time ${v}`);
  const ms = Number((m[4] ?? "").padEnd(3, "0").slice(0, 3));
  return ((+m[1] * 60 + +m[2]) * 60 + +(m[3] ?? 0)) * 1000 + ms;
}

// The rules JSON as domain::rules::Rules reads it (serde), or a BadRules error.
export function readRules(json) {
  if (!json || typeof json !== "object") throw new BadRules("rules must be an object");
  const b = json.benefit;
  if (!b || typeof b !== "object") throw new BadRules("benefit is required");
  let benefit;
  switch (b.kind) {
    case "percent":
      benefit = { kind: "percent", value: decimal(b.value), raw: String(b.value) };
      break;
    case "fixed":
      benefit = { kind: "fixed", value: money(b.value) };
      if (benefit.value === null) throw new BadRules("fixed value is required");
      break;
    case "points":
      benefit = { kind: "points", value: decimal(b.value) };
      break;
    case "stamps":
      benefit = { kind: "stamps", value: int(b.value) };
      if (benefit.value === null) throw new BadRules("stamps value is required");
      break;
    case "free_entry":
      benefit = { kind: "free_entry" };
      break;
    default:
      throw new BadRules(`unknown benefit ${b.kind}`);
  }
  const list = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : null);
  const weekdays = list(json.weekdays);
  const products = list(json.eligible_products);
  if (weekdays === null || products === null) throw new BadRules("lists expected");
  let hours = null;
  if (json.hours !== undefined && json.hours !== null) {
    hours = { from: time(json.hours.from), to: time(json.hours.to) };
  }
  return {
    benefit,
    minBasket: money(json.min_basket),
    maxDiscount: money(json.max_discount),
    weekdays: weekdays.map(Number),
    hours,
    eligibleProducts: products.map(String),
    pointsCost: int(json.points_cost),
    budgetPerMerchant: money(json.budget_per_merchant),
    budgetPerDay: money(json.budget_per_day),
    perCardPerDay: int(json.per_card_per_day),
    perCardPerMerchant: int(json.per_card_per_merchant),
    perCardPerPromotion: int(json.per_card_per_promotion),
  };
}

const formatters = new Map();

// The local date ("YYYY-MM-DD"), ISO weekday (1 = Monday) and milliseconds of the
// day of `now` in `timeZone` (what chrono's with_timezone gives the server).
export function localTime(now, timeZone) {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    });
    formatters.set(timeZone, f);
  }
  const d = new Date(now);
  const p = {};
  for (const part of f.formatToParts(d)) p[part.type] = part.value;
  const y = Number(p.year);
  const mo = Number(p.month);
  const da = Number(p.day);
  const h = Number(p.hour) % 24; // some engines say "24" at midnight
  const ms = d.getTime() - Math.floor(d.getTime() / 1000) * 1000;
  const weekday = new Date(Date.UTC(y, mo - 1, da)).getUTCDay() || 7;
  const date = `${String(y).padStart(4, "0")}-${String(mo).padStart(2, "0")}-${String(da).padStart(2, "0")}`;
  return { date, weekday, ms: ((h * 60 + Number(p.minute)) * 60 + Number(p.second)) * 1000 + ms };
}

// check_schedule: closed, dates, weekday, hours; null when the promotion runs.
function schedule(offer, r, now, timeZone) {
  if (offer.closed) return "promotion_closed";
  const local = localTime(now, timeZone);
  if (offer.starts_on && local.date < offer.starts_on) return "promotion_not_started";
  if (offer.ends_on && local.date > offer.ends_on) return "promotion_ended";
  if (r.weekdays.length > 0 && !r.weekdays.includes(local.weekday)) return "promotion_not_today";
  if (r.hours && (local.ms < r.hours.from || local.ms >= r.hours.to)) {
    return "promotion_outside_hours";
  }
  return null;
}

// pricing::quote: the discount, its split and the points (limits not checked).
export function quote(r, coFinancingBp, basket) {
  const b = r.benefit;
  let raw = 0n;
  if (b.kind === "percent") {
    const bp = parsePercent(b.raw);
    raw = bp === null ? 0n : percentOf(basket, bp);
  } else if (b.kind === "fixed") {
    raw = b.value < basket ? b.value : basket;
  } else if (b.kind === "free_entry") {
    raw = basket;
  }
  const discount = r.maxDiscount !== null && r.maxDiscount < raw ? r.maxDiscount : raw;
  const municipality = percentOf(discount, coFinancingBp);
  const merchant = discount - municipality;
  let pointsEarned = 0;
  if (b.kind === "points") {
    // trunc(trunc(basket in euros) * value), 0 when it does not fit an i32.
    const euros = basket / 100n; // bigint division truncates toward zero
    const p = (euros * b.value.m) / 10n ** BigInt(b.value.s);
    pointsEarned = p > I32_MAX || p < -I32_MAX - 1n ? 0 : Number(p);
  } else if (b.kind === "stamps") {
    pointsEarned = b.value;
  }
  return {
    discount,
    municipality,
    merchant,
    pointsEarned,
    pointsSpent: r.pointsCost ?? 0,
    budgetUse: coFinancingBp === 0n ? discount : municipality,
  };
}

const cents = (v) => (v === undefined || v === null ? 0n : BigInt(v));

// Counters::check against what the tablet knows (its own queue); budgets default
// to unused, like the server's evaluate before it raises the counters.
function limits(r, q, local) {
  const within = (used, limit) => limit === null || BigInt(used ?? 0) < BigInt(limit);
  if (!within(local.cardDay, r.perCardPerDay)) return "card_daily_limit_reached";
  if (!within(local.cardMerchant, r.perCardPerMerchant)) return "card_merchant_limit_reached";
  if (!within(local.cardPromotion, r.perCardPerPromotion)) return "card_promotion_limit_reached";
  const fits = (used, limit) => limit === null || cents(used) + q.budgetUse <= limit;
  if (!fits(local.merchantBudget, r.budgetPerMerchant)) return "merchant_budget_exhausted";
  if (!fits(local.dayBudget, r.budgetPerDay)) return "daily_budget_exhausted";
  return null;
}

// One offer of the offline pack for one card ({productCode, points}) and basket
// (bigint cents) at `now` in the town's zone. `local` = {cardDay, cardMerchant,
// cardPromotion} (and optionally merchantBudget/dayBudget in cents) from the
// tablet's own queue. Returns {ok: true, discount, toPay, municipality, merchant,
// pointsEarned, pointsSpent, budgetUse} (cents as bigint) or {ok: false, code, message}.
export function evaluate(offer, card, basketCents, now, timeZone, local = {}) {
  let r;
  try {
    r = readRules(offer?.rules);
  } catch {
    return refusal("offer_not_found"); // the server skips a row whose rules do not parse
  }
  const coBp = parsePercent(offer?.co_financing_percent ?? "0");
  if (coBp === null) return refusal("offer_not_found");
  const basket = BigInt(basketCents);
  const late = schedule(offer, r, now, timeZone);
  if (late) return refusal(late);
  const product = card?.productCode ?? card?.product_code;
  if (r.eligibleProducts.length > 0 && !r.eligibleProducts.includes(product)) {
    return refusal("card_product_not_eligible");
  }
  if (r.minBasket !== null && basket < r.minBasket) return refusal("basket_below_minimum");
  const q = quote(r, coBp, basket);
  if (q.discount === 0n && q.pointsEarned === 0) return refusal("nothing_to_redeem");
  const over = limits(r, q, local ?? {});
  if (over) return refusal(over);
  if (BigInt(q.pointsSpent) > BigInt(card?.points ?? 0)) return refusal("points_insufficient");
  return { ok: true, toPay: basket - q.discount, ...q };
}
