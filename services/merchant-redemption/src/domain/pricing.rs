//! Discounts, the municipality/merchant split and reversals, by the one rounding
//! rule of `kernel::money` (docs/ledger.md "Rounding").

use kernel::{Money, Percent};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::rules::{Benefit, Promotion, Quote};

/// The discount, its split and the points for this basket (limits not checked).
pub fn quote(p: &Promotion, basket: Money) -> Quote {
    let r = &p.rules;
    let raw = match &r.benefit {
        Benefit::Percent { value } => Percent::try_from_decimal(*value)
            .map(|pct| basket.percent(pct))
            .unwrap_or(Money::ZERO),
        Benefit::Fixed { value } => Money::min(*value, basket),
        Benefit::FreeEntry => basket,
        Benefit::Points { .. } | Benefit::Stamps { .. } => Money::ZERO,
    };
    let discount = match r.max_discount {
        Some(cap) => raw.min(cap),
        None => raw,
    };
    let (municipality, merchant) = discount.split(p.co_financing);
    let points_earned = match &r.benefit {
        Benefit::Points { value } => (basket.amount().trunc() * value)
            .trunc()
            .to_i32()
            .unwrap_or(0),
        Benefit::Stamps { value } => *value,
        _ => 0,
    };
    let budget_use = if p.co_financing == Percent::ZERO {
        discount
    } else {
        municipality
    };
    Quote {
        basket,
        discount,
        municipality,
        merchant,
        points_earned,
        points_spent: r.points_cost.unwrap_or(0),
        budget_use,
    }
}

/// What a refund of `refunded` (of the original `basket`) reverses, given what is
/// already reversed: each share in proportion, never more than is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reversal {
    pub municipality: Money,
    pub merchant: Money,
    pub points: i32,
}

impl Reversal {
    pub fn discount(&self) -> Money {
        self.municipality + self.merchant
    }
}

pub struct Original {
    pub basket: Money,
    pub municipality: Money,
    pub merchant: Money,
    pub points: i32,
}

/// A partial refund: round(share × refunded / basket), capped by what is left.
pub fn refund(orig: &Original, left: &Reversal, refunded: Money) -> Reversal {
    let m = orig
        .municipality
        .proportion(refunded, orig.basket)
        .min(left.municipality);
    let s = orig
        .merchant
        .proportion(refunded, orig.basket)
        .min(left.merchant);
    let pts = if orig.basket.is_zero() {
        0
    } else {
        (Decimal::from(orig.points) * refunded.amount() / orig.basket.amount())
            .round()
            .to_i32()
            .unwrap_or(0)
            .min(left.points)
    };
    Reversal {
        municipality: m,
        merchant: s,
        points: pts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::Rules;
    use rust_decimal_macros::dec;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn promo(benefit: serde_json::Value, pct: Decimal) -> Promotion {
        let rules: Rules = serde_json::from_value(serde_json::json!({ "benefit": benefit }))
            .unwrap_or_else(|e| panic!("{e}"));
        Promotion {
            id: uuid::Uuid::nil(),
            name: "p".into(),
            co_financing: Percent::try_from_decimal(pct).unwrap_or_default(),
            starts_on: chrono::NaiveDate::MIN,
            ends_on: chrono::NaiveDate::MAX,
            rules,
            owner_merchant: None,
            closed: false,
        }
    }

    #[test]
    fn shares_add_up_to_the_cent() {
        let p = promo(
            serde_json::json!({"kind": "percent", "value": "15"}),
            dec!(33.33),
        );
        for cents in [1, 7, 99, 333, 1001, 123_457] {
            let q = quote(&p, Money::from_cents(cents));
            assert_eq!(q.municipality + q.merchant, q.discount, "{cents}");
        }
    }

    #[test]
    fn own_offers_count_the_discount_and_points_round_down() {
        let own = promo(
            serde_json::json!({"kind": "fixed", "value": "5.00"}),
            dec!(0),
        );
        let q = quote(&own, m("3.00"));
        assert_eq!(
            (q.discount, q.municipality, q.budget_use),
            (m("3.00"), Money::ZERO, m("3.00"))
        );
        let pts = promo(serde_json::json!({"kind": "points", "value": "2"}), dec!(0));
        assert_eq!(quote(&pts, m("12.99")).points_earned, 24);
    }

    #[test]
    fn refunds_never_reverse_more_than_is_left() {
        let orig = Original {
            basket: m("30.00"),
            municipality: m("1.50"),
            merchant: m("1.50"),
            points: 0,
        };
        let full = Reversal {
            municipality: orig.municipality,
            merchant: orig.merchant,
            points: 0,
        };
        let third = refund(&orig, &full, m("10.00"));
        assert_eq!(third.discount(), m("1.00"));
        let left = Reversal {
            municipality: m("0.10"),
            merchant: m("0.00"),
            points: 0,
        };
        assert_eq!(refund(&orig, &left, m("30.00")).discount(), m("0.10"));
    }
}
