//! The printed card number: 3-digit town code, 8-digit serial, 1 Damm check digit,
//! shown as three groups of four ("1010 0000 0423"). The Damm algorithm catches
//! every single-digit typo and every swap of two neighbouring digits, so a
//! mistyped number is refused before any lookup.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardNumber {
    town_code: u16,
    serial: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardNumberError {
    #[error("a card number has 12 digits")]
    WrongLength,
    #[error("the check digit does not match: the number was mistyped")]
    BadCheckDigit,
    #[error("town code must be 100..=999 and serial below 100000000")]
    OutOfRange,
}

const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

fn damm(digits: impl Iterator<Item = u8>) -> u8 {
    digits.fold(0, |interim, d| DAMM[usize::from(interim)][usize::from(d)])
}

impl CardNumber {
    pub fn new(town_code: u16, serial: u32) -> Result<Self, CardNumberError> {
        if !(100..=999).contains(&town_code) || serial >= 100_000_000 {
            return Err(CardNumberError::OutOfRange);
        }
        Ok(Self { town_code, serial })
    }

    /// Accepts spaces and dashes between digits, as people type them.
    pub fn parse(s: &str) -> Result<Self, CardNumberError> {
        let digits: Vec<u8> = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .map(|c| c.to_digit(10).map(|d| d as u8))
            .collect::<Option<_>>()
            .ok_or(CardNumberError::WrongLength)?;
        if digits.len() != 12 {
            return Err(CardNumberError::WrongLength);
        }
        if damm(digits.iter().copied()) != 0 {
            return Err(CardNumberError::BadCheckDigit);
        }
        let num = |r: std::ops::Range<usize>| {
            digits[r]
                .iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(*d))
        };
        let town_code = u16::try_from(num(0..3)).map_err(|_| CardNumberError::OutOfRange)?;
        Self::new(town_code, num(3..11))
    }

    pub fn town_code(&self) -> u16 {
        self.town_code
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// The 12 digits without spaces.
    pub fn digits(&self) -> String {
        let body = format!("{:03}{:08}", self.town_code, self.serial);
        let check = damm(body.bytes().map(|b| b - b'0'));
        format!("{body}{check}")
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        write!(f, "{} {} {}", &d[0..4], &d[4..8], &d[8..12])
    }
}

impl FromStr for CardNumber {
    type Err = CardNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CardNumber::parse(s)
    }
}

impl Serialize for CardNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CardNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CardNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_and_parses() {
        let n = CardNumber::new(101, 423).unwrap_or_else(|e| panic!("{e}"));
        let shown = n.to_string();
        assert_eq!(shown.len(), 14);
        assert!(shown.starts_with("1010 0000 423"));
        assert_eq!(CardNumber::parse(&shown), Ok(n));
        assert_eq!(CardNumber::parse(&n.digits()), Ok(n));
        assert_eq!(CardNumber::parse("12"), Err(CardNumberError::WrongLength));
        assert_eq!(
            CardNumber::parse("1010 0000 04x3"),
            Err(CardNumberError::WrongLength)
        );
    }

    proptest! {
        #[test]
        fn any_single_digit_typo_is_caught(town in 100u16..=999, serial in 0u32..100_000_000, pos in 0usize..12, delta in 1u8..10) {
            let good = CardNumber::new(town, serial).unwrap_or_else(|e| panic!("{e}")).digits();
            let mut bytes = good.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let typo = String::from_utf8(bytes).unwrap_or_default();
            prop_assert_eq!(CardNumber::parse(&typo), Err(CardNumberError::BadCheckDigit));
        }

        #[test]
        fn any_neighbour_swap_is_caught(town in 100u16..=999, serial in 0u32..100_000_000, pos in 0usize..11) {
            let good = CardNumber::new(town, serial).unwrap_or_else(|e| panic!("{e}")).digits();
            let mut bytes = good.into_bytes();
            prop_assume!(bytes[pos] != bytes[pos + 1]);
            bytes.swap(pos, pos + 1);
            let typo = String::from_utf8(bytes).unwrap_or_default();
            prop_assert_eq!(CardNumber::parse(&typo), Err(CardNumberError::BadCheckDigit));
        }
    }
}
