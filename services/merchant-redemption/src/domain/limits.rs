//! Per-card limits and per-merchant/per-day budgets as counters. Each limited
//! thing is one counter row; redeeming raises every applicable row with a
//! conditional upsert in the same transaction as the ledger posting.

use chrono::NaiveDate;
use kernel::Money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::rules::{Quote, Refusal, Rules};

/// Current counts for one card, merchant, promotion and day (read for a quote).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    pub card_day: i64,
    pub card_merchant: i64,
    pub card_promotion: i64,
    pub merchant_budget: Decimal,
    pub day_budget: Decimal,
}

impl Counters {
    /// Records a counter row's value under its scope.
    pub fn set(&mut self, scope: &str, used: Decimal) {
        use rust_decimal::prelude::ToPrimitive;
        let n = used.trunc().to_i64().unwrap_or(0);
        match scope {
            "card_day" => self.card_day = n,
            "card_merchant" => self.card_merchant = n,
            "card_promotion" => self.card_promotion = n,
            "merchant_budget" => self.merchant_budget = used,
            _ => self.day_budget = used,
        }
    }

    /// Would one more redemption of `q` stay within every limit?
    pub fn check(&self, r: &Rules, q: &Quote) -> Result<(), Refusal> {
        let within = |used: i64, limit: Option<i32>| limit.is_none_or(|l| used < i64::from(l));
        if !within(self.card_day, r.per_card_per_day) {
            return Err(Refusal::CardDailyLimit);
        }
        if !within(self.card_merchant, r.per_card_per_merchant) {
            return Err(Refusal::CardMerchantLimit);
        }
        if !within(self.card_promotion, r.per_card_per_promotion) {
            return Err(Refusal::CardPromotionLimit);
        }
        let fits = |used: Decimal, limit: Option<Money>| {
            limit.is_none_or(|l| used + q.budget_use.amount() <= l.amount())
        };
        if !fits(self.merchant_budget, r.budget_per_merchant) {
            return Err(Refusal::MerchantBudgetExhausted);
        }
        if !fits(self.day_budget, r.budget_per_day) {
            return Err(Refusal::DailyBudgetExhausted);
        }
        Ok(())
    }
}

/// One counter row a redemption raises (and a void lowers again).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bump {
    pub scope: String,
    pub key: String,
    pub by: Decimal,
    pub limit: Decimal,
}

impl Bump {
    pub fn refusal(&self) -> Refusal {
        match self.scope.as_str() {
            "card_day" => Refusal::CardDailyLimit,
            "card_merchant" => Refusal::CardMerchantLimit,
            "card_promotion" => Refusal::CardPromotionLimit,
            "merchant_budget" => Refusal::MerchantBudgetExhausted,
            _ => Refusal::DailyBudgetExhausted,
        }
    }

    /// Counts are reversed only by a void; budgets by any reversal.
    pub fn is_count(&self) -> bool {
        self.scope.starts_with("card_")
    }
}

/// The counter keys of one card at one merchant on one (local) day.
pub struct Keys {
    pub card_day: String,
    pub card_merchant: String,
    pub card_promotion: String,
    pub merchant_budget: String,
    pub day_budget: String,
}

/// Every counter scope, in the lock order (the order of `bumps`).
pub const SCOPES: [&str; 5] = [
    "card_day",
    "card_merchant",
    "card_promotion",
    "merchant_budget",
    "day_budget",
];

impl Keys {
    /// (scope, key) of every counter, in the lock order.
    pub fn all(&self) -> [(&'static str, &str); 5] {
        let keys = [
            &self.card_day,
            &self.card_merchant,
            &self.card_promotion,
            &self.merchant_budget,
            &self.day_budget,
        ];
        std::array::from_fn(|n| (SCOPES[n], keys[n].as_str()))
    }
}

pub fn keys(card: Uuid, merchant: Uuid, day: NaiveDate) -> Keys {
    Keys {
        card_day: format!("{card}:{day}"),
        card_merchant: format!("{card}:{merchant}"),
        card_promotion: card.to_string(),
        merchant_budget: merchant.to_string(),
        day_budget: day.to_string(),
    }
}

/// Every counter the redemption must raise, in a fixed order (the lock order).
pub fn bumps(r: &Rules, q: &Quote, k: &Keys) -> Vec<Bump> {
    let count = |scope: &str, key: &str, limit: Option<i32>| {
        limit.map(|l| Bump {
            scope: scope.into(),
            key: key.into(),
            by: Decimal::ONE,
            limit: Decimal::from(l),
        })
    };
    let budget = |scope: &str, key: &str, limit: Option<Money>| {
        limit.filter(|_| !q.budget_use.is_zero()).map(|l| Bump {
            scope: scope.into(),
            key: key.into(),
            by: q.budget_use.amount(),
            limit: l.amount(),
        })
    };
    [
        count("card_day", &k.card_day, r.per_card_per_day),
        count("card_merchant", &k.card_merchant, r.per_card_per_merchant),
        count(
            "card_promotion",
            &k.card_promotion,
            r.per_card_per_promotion,
        ),
        budget("merchant_budget", &k.merchant_budget, r.budget_per_merchant),
        budget("day_budget", &k.day_budget, r.budget_per_day),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What is left of the card's per-card limits for this promotion (None = unlimited).
pub fn limits_left(bumps: &[Bump], current: &Counters) -> serde_json::Value {
    let left = |scope: &str, used: i64| {
        bumps
            .iter()
            .find(|b| b.scope == scope)
            .map(|b| (b.limit - Decimal::from(used)).max(Decimal::ZERO))
    };
    serde_json::json!({
        "per_day": left("card_day", current.card_day),
        "per_merchant": left("card_merchant", current.card_merchant),
        "per_promotion": left("card_promotion", current.card_promotion),
    })
}
