//! Money in EUR as `Decimal` with at most two decimals, and the rounding rules.
//!
//! Rounding (docs/ledger.md "Rounding"): every computed amount is rounded once,
//! half away from zero, to the cent. A split always gives the first part rounded
//! and the second as the exact remainder, so the parts sum to the whole.

use std::fmt;
use std::ops::{Add, Neg, Sub};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest amount we accept anywhere: fits `numeric(18,2)` with room to sum.
const MAX_ABS: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

impl Default for Money {
    fn default() -> Money {
        Money::ZERO
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not a decimal amount: {0:?}")]
    NotANumber(String),
    #[error("an amount has at most two decimals (cents): {0}")]
    TooPrecise(String),
    #[error("amount out of range: {0}")]
    OutOfRange(String),
    #[error("amount must be greater than zero: {0}")]
    NotPositive(String),
    #[error("percent must be between 0 and 100 with at most two decimals: {0}")]
    BadPercent(String),
}

impl Money {
    /// Zero with its cents, so that it prints "0.00" like every other amount.
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// Parses "12.50" or "12,50" (Slovenian decimal comma). Rejects sub-cent amounts.
    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let t = s.trim().replace(',', ".");
        let d = Decimal::from_str(&t).map_err(|_| MoneyError::NotANumber(s.to_owned()))?;
        Self::try_from_decimal(d)
    }

    /// Parses an amount a customer pays or a discount: strictly positive.
    pub fn parse_positive(s: &str) -> Result<Self, MoneyError> {
        let m = Self::parse(s)?;
        if m.0 <= Decimal::ZERO {
            return Err(MoneyError::NotPositive(s.to_owned()));
        }
        Ok(m)
    }

    pub fn try_from_decimal(d: Decimal) -> Result<Self, MoneyError> {
        let n = d.normalize();
        if n.scale() > 2 {
            return Err(MoneyError::TooPrecise(d.to_string()));
        }
        if n.abs() > MAX_ABS {
            return Err(MoneyError::OutOfRange(d.to_string()));
        }
        Ok(Money(with_cents(n)))
    }

    /// Rounds any decimal to the cent by the project's one rule (half away from zero).
    pub fn round(d: Decimal) -> Self {
        Money(with_cents(d.round_dp_with_strategy(
            2,
            RoundingStrategy::MidpointAwayFromZero,
        )))
    }

    pub fn from_cents(cents: i64) -> Self {
        Money(Decimal::new(cents, 2))
    }

    pub fn amount(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn is_positive(self) -> bool {
        self.0 > Decimal::ZERO
    }

    pub fn is_negative(self) -> bool {
        self.0 < Decimal::ZERO
    }

    pub fn min(self, other: Money) -> Money {
        if self <= other { self } else { other }
    }

    /// `pct` percent of this amount, rounded to the cent.
    pub fn percent(self, pct: Percent) -> Money {
        Money::round(self.0 * pct.0 / Decimal::ONE_HUNDRED)
    }

    /// Splits into (`share` percent, the rest). The parts always add up exactly.
    pub fn split(self, share: Percent) -> (Money, Money) {
        let first = self.percent(share);
        (first, self - first)
    }

    /// The part of this amount that `part / whole` represents, rounded; used to
    /// reverse a discount in proportion to a partial refund.
    pub fn proportion(self, part: Money, whole: Money) -> Money {
        if whole.is_zero() {
            return Money::ZERO;
        }
        Money::round(self.0 * part.0 / whole.0)
    }
}

fn with_cents(mut d: Decimal) -> Decimal {
    d.rescale(2);
    d
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl From<Money> for Decimal {
    fn from(m: Money) -> Decimal {
        m.0
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Amounts travel as JSON strings ("12.50"): a JSON number would pass through a
/// float in many clients and could not be checked for sub-cent digits.
impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Money::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A percentage between 0 and 100 with at most two decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Percent(Decimal);

impl Percent {
    pub const ZERO: Percent = Percent(Decimal::ZERO);
    pub const HUNDRED: Percent = Percent(Decimal::ONE_HUNDRED);

    pub fn parse(s: &str) -> Result<Self, MoneyError> {
        let d = Decimal::from_str(s.trim()).map_err(|_| MoneyError::BadPercent(s.to_owned()))?;
        Self::try_from_decimal(d)
    }

    pub fn try_from_decimal(d: Decimal) -> Result<Self, MoneyError> {
        let n = d.normalize();
        if n.scale() > 2 || n < Decimal::ZERO || n > Decimal::ONE_HUNDRED {
            return Err(MoneyError::BadPercent(d.to_string()));
        }
        Ok(Percent(n))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Percent::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn zero_prints_its_cents_like_any_amount() {
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(Money::default().to_string(), "0.00");
        assert_eq!(Money::ZERO, Money::from_cents(0));
        assert_eq!(Money::ZERO.amount(), Decimal::ZERO);
        assert!(Money::ZERO.is_zero());
    }

    #[test]
    fn parses_cents_and_decimal_comma() {
        assert_eq!(Money::parse("12,5").map(Money::amount), Ok(dec!(12.50)));
        assert_eq!(
            Money::parse(" 3 ").map(|m| m.to_string()),
            Ok("3.00".into())
        );
        assert!(matches!(
            Money::parse("1.005"),
            Err(MoneyError::TooPrecise(_))
        ));
        assert!(matches!(
            Money::parse("abc"),
            Err(MoneyError::NotANumber(_))
        ));
        assert!(matches!(
            Money::parse_positive("0"),
            Err(MoneyError::NotPositive(_))
        ));
        assert!(matches!(
            Money::parse_positive("-1"),
            Err(MoneyError::NotPositive(_))
        ));
        assert!(Money::parse("1e12").is_err());
        // Trailing zeros beyond the cent are not extra precision.
        assert_eq!(Money::parse("1.500").map(Money::amount), Ok(dec!(1.50)));
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(Money::round(dec!(0.125)).amount(), dec!(0.13));
        assert_eq!(Money::round(dec!(-0.125)).amount(), dec!(-0.13));
        assert_eq!(Money::round(dec!(0.124)).amount(), dec!(0.12));
        let basket = Money::parse("19.99").unwrap_or_default();
        let ten = Percent::parse("10").unwrap_or_default();
        assert_eq!(basket.percent(ten).amount(), dec!(2.00));
    }

    #[test]
    fn percent_is_bounded() {
        assert!(Percent::parse("100").is_ok());
        assert!(Percent::parse("100.01").is_err());
        assert!(Percent::parse("-1").is_err());
        assert!(Percent::parse("12.345").is_err());
    }

    #[test]
    fn json_amounts_are_strings() {
        let m: Result<Money, _> = serde_json::from_str("\"4.20\"");
        assert_eq!(m.map(Money::amount).ok(), Some(dec!(4.20)));
        assert!(serde_json::from_str::<Money>("4.2").is_err());
        assert!(serde_json::from_str::<Money>("\"4.201\"").is_err());
        assert_eq!(
            serde_json::to_string(&Money::from_cents(5)).ok(),
            Some("\"0.05\"".into())
        );
    }

    proptest! {
        #[test]
        fn a_split_adds_up_to_the_cent(cents in -10_000_000i64..10_000_000, bp in 0u32..=10_000) {
            let whole = Money::from_cents(cents);
            let share = Percent::try_from_decimal(Decimal::new(i64::from(bp), 2)).unwrap_or_default();
            let (a, b) = whole.split(share);
            prop_assert_eq!(a + b, whole);
            prop_assert!(a.amount().scale() == 2 && b.amount().scale() == 2);
            prop_assert!(a.amount().abs() <= whole.amount().abs());
        }

        #[test]
        fn proportions_never_exceed_the_whole(d in 0i64..100_000, part in 0i64..100_000, whole in 1i64..100_000) {
            let part = part.min(whole);
            let r = Money::from_cents(d).proportion(Money::from_cents(part), Money::from_cents(whole));
            prop_assert!(r <= Money::from_cents(d));
            prop_assert!(!r.is_negative());
        }
    }
}
