//! A promotion's rules (stored as JSON in `promotions.rules`) and their evaluation
//! for one card, one basket, the current counters and a moment in time.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use kernel::{Money, Percent};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::limits::Counters;
use super::pricing;

/// What the card holder gets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Benefit {
    /// `value` percent of the basket (e.g. "10").
    Percent {
        #[schema(value_type = String)]
        value: Decimal,
    },
    /// A fixed amount off (never more than the basket).
    Fixed {
        #[schema(value_type = String)]
        value: Money,
    },
    /// Points earned per whole euro of the basket (rounded down).
    Points {
        #[schema(value_type = String)]
        value: Decimal,
    },
    /// A fixed number of stamps per visit.
    Stamps { value: i32 },
    /// Free entry: the whole basket (the ticket price) is the discount.
    FreeEntry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Hours {
    #[schema(value_type = String, example = "09:00:00")]
    pub from: NaiveTime,
    #[schema(value_type = String, example = "19:00:00")]
    pub to: NaiveTime,
}

/// The rules of DESIGN.md "Promotions". Absent limits are unlimited.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rules {
    pub benefit: Benefit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub min_basket: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub max_discount: Option<Money>,
    /// ISO weekdays (1 = Monday … 7 = Sunday); empty = every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<u8>,
    /// Opening hours in the town's time zone; absent = all day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<Hours>,
    /// Card product codes; empty = every product.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eligible_products: Vec<String>,
    /// Points the card spends to get this benefit (a reward).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_cost: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub budget_per_merchant: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub budget_per_day: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_card_per_day: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_card_per_merchant: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_card_per_promotion: Option<i32>,
}

impl Rules {
    /// Checks what cannot be expressed in the types.
    pub fn validate(&self) -> Result<(), String> {
        match &self.benefit {
            Benefit::Percent { value } => {
                Percent::try_from_decimal(*value).map_err(|e| e.to_string())?;
            }
            Benefit::Fixed { value } if !value.is_positive() => {
                return Err("a fixed benefit must be positive".into());
            }
            Benefit::Points { value } if *value <= Decimal::ZERO => {
                return Err("points per euro must be positive".into());
            }
            Benefit::Stamps { value } if *value <= 0 => {
                return Err("stamps per visit must be positive".into());
            }
            _ => {}
        }
        if self.weekdays.iter().any(|d| !(1..=7).contains(d)) {
            return Err("weekdays are 1 (Monday) to 7 (Sunday)".into());
        }
        if let Some(h) = self.hours
            && h.from >= h.to
        {
            return Err("hours.from must be before hours.to".into());
        }
        let limits = [
            self.per_card_per_day,
            self.per_card_per_merchant,
            self.per_card_per_promotion,
            self.points_cost,
        ];
        if limits.iter().flatten().any(|n| *n <= 0) {
            return Err("limits and points costs must be positive".into());
        }
        let moneys = [
            self.min_basket,
            self.max_discount,
            self.budget_per_merchant,
            self.budget_per_day,
        ];
        if moneys.iter().flatten().any(|m| m.is_negative()) {
            return Err("amounts cannot be negative".into());
        }
        Ok(())
    }
}

/// A promotion as the rules see it.
#[derive(Clone, Debug)]
pub struct Promotion {
    pub id: Uuid,
    pub name: String,
    pub co_financing: Percent,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub rules: Rules,
    pub owner_merchant: Option<Uuid>,
    pub closed: bool,
}

/// The card as the rules see it (already verified and valid).
#[derive(Clone, Debug)]
pub struct Card {
    pub id: Uuid,
    pub product_code: String,
    pub points: i64,
}

/// What one redemption gives, exact to the cent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub basket: Money,
    pub discount: Money,
    pub municipality: Money,
    pub merchant: Money,
    pub points_earned: i32,
    pub points_spent: i32,
    /// What counts against the per-merchant and per-day budgets.
    pub budget_use: Money,
}

/// Why a promotion cannot be given now; `code()` is the API code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Closed,
    NotStarted,
    Ended,
    WrongWeekday,
    OutsideHours,
    ProductNotEligible,
    BasketBelowMinimum,
    NothingToGive,
    CardDailyLimit,
    CardMerchantLimit,
    CardPromotionLimit,
    MerchantBudgetExhausted,
    DailyBudgetExhausted,
    PointsInsufficient,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Closed => "promotion_closed",
            Refusal::NotStarted => "promotion_not_started",
            Refusal::Ended => "promotion_ended",
            Refusal::WrongWeekday => "promotion_not_today",
            Refusal::OutsideHours => "promotion_outside_hours",
            Refusal::ProductNotEligible => "card_product_not_eligible",
            Refusal::BasketBelowMinimum => "basket_below_minimum",
            Refusal::NothingToGive => "nothing_to_redeem",
            Refusal::CardDailyLimit => "card_daily_limit_reached",
            Refusal::CardMerchantLimit => "card_merchant_limit_reached",
            Refusal::CardPromotionLimit => "card_promotion_limit_reached",
            Refusal::MerchantBudgetExhausted => "merchant_budget_exhausted",
            Refusal::DailyBudgetExhausted => "daily_budget_exhausted",
            Refusal::PointsInsufficient => "points_insufficient",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Closed => "the promotion has been closed",
            Refusal::NotStarted => "the promotion has not started yet",
            Refusal::Ended => "the promotion has ended",
            Refusal::WrongWeekday => "the promotion does not run today",
            Refusal::OutsideHours => "the promotion does not run at this hour",
            Refusal::ProductNotEligible => "this card product is not eligible",
            Refusal::BasketBelowMinimum => "the basket is below the promotion's minimum",
            Refusal::NothingToGive => "this basket gives no discount and no points",
            Refusal::CardDailyLimit => "the card has used this promotion as often as allowed today",
            Refusal::CardMerchantLimit => {
                "the card has used this promotion here as often as allowed"
            }
            Refusal::CardPromotionLimit => "the card has used this promotion as often as allowed",
            Refusal::MerchantBudgetExhausted => "this shop's budget for the promotion is used up",
            Refusal::DailyBudgetExhausted => "today's budget for the promotion is used up",
            Refusal::PointsInsufficient => "the card does not have enough points",
        }
    }
}

/// Whether the promotion runs at `now` (dates, weekdays, hours in the town's zone).
pub fn check_schedule(p: &Promotion, tz: Tz, now: DateTime<Utc>) -> Result<(), Refusal> {
    if p.closed {
        return Err(Refusal::Closed);
    }
    let local = now.with_timezone(&tz);
    let day = local.date_naive();
    if day < p.starts_on {
        return Err(Refusal::NotStarted);
    }
    if day > p.ends_on {
        return Err(Refusal::Ended);
    }
    let weekday = local.weekday().number_from_monday() as u8;
    if !p.rules.weekdays.is_empty() && !p.rules.weekdays.contains(&weekday) {
        return Err(Refusal::WrongWeekday);
    }
    if let Some(h) = p.rules.hours {
        let t = local.time();
        if t < h.from || t >= h.to {
            return Err(Refusal::OutsideHours);
        }
    }
    Ok(())
}

/// Evaluates one promotion for one card and basket. Pure: the caller supplies the
/// counters as they are now and enforces them again atomically when it redeems.
pub fn evaluate(
    p: &Promotion,
    card: &Card,
    basket: Money,
    counters: &Counters,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Quote, Refusal> {
    check_schedule(p, tz, now)?;
    let r = &p.rules;
    if !r.eligible_products.is_empty() && !r.eligible_products.contains(&card.product_code) {
        return Err(Refusal::ProductNotEligible);
    }
    if let Some(min) = r.min_basket
        && basket < min
    {
        return Err(Refusal::BasketBelowMinimum);
    }
    let q = pricing::quote(p, basket);
    if q.discount.is_zero() && q.points_earned == 0 {
        return Err(Refusal::NothingToGive);
    }
    counters.check(r, &q)?;
    if i64::from(q.points_spent) > card.points {
        return Err(Refusal::PointsInsufficient);
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;

    fn promo(rules: Rules) -> Promotion {
        Promotion {
            id: Uuid::nil(),
            name: "p".into(),
            co_financing: Percent::try_from_decimal(dec!(50)).unwrap_or_default(),
            starts_on: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
            ends_on: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or_default(),
            rules,
            owner_merchant: None,
            closed: false,
        }
    }

    fn rules(json: serde_json::Value) -> Rules {
        serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"))
    }

    fn card() -> Card {
        Card {
            id: Uuid::nil(),
            product_code: "KC48".into(),
            points: 0,
        }
    }

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn reads_the_seed_format_and_caps_the_discount() {
        let p = promo(rules(serde_json::json!({
            "benefit": { "kind": "percent", "value": "10" },
            "min_basket": "5.00", "max_discount": "20.00", "per_card_per_day": 1,
            "eligible_products": ["KC24", "KC48"],
        })));
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let tz = chrono_tz::Europe::Ljubljana;
        let q = evaluate(&p, &card(), m("33.35"), &Counters::default(), tz, now);
        let q = q.unwrap_or_else(|r| panic!("{r:?}"));
        assert_eq!(q.discount, m("3.34"));
        assert_eq!(q.municipality + q.merchant, q.discount);
        let big = evaluate(&p, &card(), m("500"), &Counters::default(), tz, now);
        assert_eq!(big.map(|q| q.discount), Ok(m("20.00")));
        let small = evaluate(&p, &card(), m("4.99"), &Counters::default(), tz, now);
        assert_eq!(small, Err(Refusal::BasketBelowMinimum));
        let mut other = card();
        other.product_code = "RES".into();
        let res = evaluate(&p, &other, m("10"), &Counters::default(), tz, now);
        assert_eq!(res, Err(Refusal::ProductNotEligible));
    }

    #[test]
    fn schedule_uses_ljubljana_time() {
        let p = promo(rules(serde_json::json!({
            "benefit": { "kind": "fixed", "value": "2.00" },
            "weekdays": [1, 2, 3, 4, 5, 6], "hours": { "from": "09:00:00", "to": "12:00:00" },
        })));
        let tz = chrono_tz::Europe::Ljubljana;
        // Saturday 21 Nov 2026, 08:30 UTC = 09:30 in Ljubljana (CET).
        let sat = Utc.with_ymd_and_hms(2026, 11, 21, 8, 30, 0).unwrap();
        assert_eq!(check_schedule(&p, tz, sat), Ok(()));
        let early = Utc.with_ymd_and_hms(2026, 11, 21, 7, 30, 0).unwrap();
        assert_eq!(check_schedule(&p, tz, early), Err(Refusal::OutsideHours));
        let sunday = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        assert_eq!(check_schedule(&p, tz, sunday), Err(Refusal::WrongWeekday));
        let after = Utc.with_ymd_and_hms(2027, 1, 1, 9, 0, 0).unwrap();
        assert_eq!(check_schedule(&p, tz, after), Err(Refusal::Ended));
    }

    #[test]
    fn counters_and_points_refuse() {
        let p = promo(rules(serde_json::json!({
            "benefit": { "kind": "free_entry" }, "points_cost": 10, "per_card_per_day": 1,
        })));
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let tz = chrono_tz::Europe::Ljubljana;
        let mut rich = card();
        rich.points = 10;
        let q = evaluate(&p, &rich, m("8.00"), &Counters::default(), tz, now);
        assert_eq!(
            q.as_ref().map(|q| (q.discount, q.points_spent)),
            Ok((m("8.00"), 10))
        );
        let poor = evaluate(&p, &card(), m("8.00"), &Counters::default(), tz, now);
        assert_eq!(poor, Err(Refusal::PointsInsufficient));
        let used = Counters {
            card_day: 1,
            ..Counters::default()
        };
        assert_eq!(
            evaluate(&p, &rich, m("8.00"), &used, tz, now),
            Err(Refusal::CardDailyLimit)
        );
    }

    #[test]
    fn invalid_rules_are_named() {
        let bad = rules(serde_json::json!({ "benefit": { "kind": "percent", "value": "120" } }));
        assert!(bad.validate().is_err());
        let bad = rules(
            serde_json::json!({ "benefit": { "kind": "stamps", "value": 1 }, "weekdays": [8] }),
        );
        assert!(bad.validate().is_err());
    }
}
