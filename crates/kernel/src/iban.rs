//! IBAN, checked by length per country (where known) and the ISO 13616 mod-97 rule.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Iban(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    #[error("an IBAN is a country code, two check digits and up to 30 letters or digits")]
    Malformed,
    #[error("wrong length for a {0} IBAN")]
    WrongLength(String),
    #[error("the IBAN check digits do not match")]
    BadChecksum,
}

/// Lengths of the countries our towns' merchants bank in; others get the generic checks.
const LENGTHS: &[(&str, usize)] = &[
    ("SI", 19),
    ("AT", 20),
    ("DE", 22),
    ("HR", 21),
    ("IT", 27),
    ("HU", 28),
    ("FR", 27),
    ("BE", 16),
    ("NL", 18),
];

impl Iban {
    pub fn parse(s: &str) -> Result<Self, IbanError> {
        let compact: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let b = compact.as_bytes();
        if !(15..=34).contains(&b.len())
            || !b[..2].iter().all(u8::is_ascii_uppercase)
            || !b[2..4].iter().all(u8::is_ascii_digit)
            || !b.iter().all(u8::is_ascii_alphanumeric)
        {
            return Err(IbanError::Malformed);
        }
        let country = &compact[..2];
        if let Some((_, len)) = LENGTHS.iter().find(|(c, _)| *c == country)
            && b.len() != *len
        {
            return Err(IbanError::WrongLength(country.to_owned()));
        }
        let rearranged = compact[4..].bytes().chain(compact[..4].bytes());
        let rem = rearranged.fold(0u32, |acc, c| {
            if c.is_ascii_digit() {
                (acc * 10 + u32::from(c - b'0')) % 97
            } else {
                (acc * 100 + u32::from(c - b'A' + 10)) % 97
            }
        });
        if rem != 1 {
            return Err(IbanError::BadChecksum);
        }
        Ok(Iban(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn country(&self) -> &str {
        &self.0[..2]
    }
}

impl fmt::Display for Iban {
    /// Groups of four, as printed on statements.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let groups: Vec<&str> = self
            .0
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        f.write_str(&groups.join(" "))
    }
}

impl FromStr for Iban {
    type Err = IbanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Iban::parse(s)
    }
}

impl Serialize for Iban {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Iban {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Iban::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_ibans_in_any_spacing() {
        let i = Iban::parse("si56 1910 0000 0123 438").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(i.as_str(), "SI56191000000123438");
        assert_eq!(i.to_string(), "SI56 1910 0000 0123 438");
        assert!(Iban::parse("DE89370400440532013000").is_ok());
    }

    #[test]
    fn rejects_bad_ones() {
        assert_eq!(
            Iban::parse("SI56191000000123439"),
            Err(IbanError::BadChecksum)
        );
        assert_eq!(
            Iban::parse("SI5619100000012343"),
            Err(IbanError::WrongLength("SI".into()))
        );
        assert_eq!(Iban::parse("hello"), Err(IbanError::Malformed));
        assert_eq!(
            Iban::parse("SI56 1910 0000 0123 43$"),
            Err(IbanError::Malformed)
        );
    }
}
