//! Canonical bytes of a journal transaction and its chain hash.
//!
//! A transaction's hash is SHA-256(previous hash of its lane || canonical JSON of
//! its fields and entries). The audit recomputes it from the stored rows, so any
//! edited field, entry or missing row breaks the chain from that point on.

use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const GENESIS: [u8; 32] = [0; 32];

/// The fields the chain covers; built the same way by `post` and by the audit.
#[derive(Serialize)]
pub struct Chained<'a> {
    pub v: u8,
    pub id: Uuid,
    pub town: Uuid,
    pub lane: i16,
    pub seq: i64,
    pub key: &'a str,
    pub kind: &'a str,
    pub memo: &'a str,
    pub reverses: Option<Uuid>,
    pub posted_at_us: i64,
    pub entries: Vec<(Uuid, String)>,
}

/// The part of a posting an idempotent replay must match.
#[derive(Serialize)]
struct Body<'a> {
    kind: &'a str,
    memo: &'a str,
    reverses: Option<Uuid>,
    entries: Vec<(Uuid, String)>,
}

pub fn cents(d: Decimal) -> String {
    let mut d = d;
    d.rescale(2);
    d.to_string()
}

pub fn chain_hash(prev: &[u8], fields: &Chained<'_>) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev);
    // Serializing plain structs, strings and numbers cannot fail.
    h.update(serde_json::to_vec(fields).unwrap_or_default());
    h.finalize().to_vec()
}

pub fn body_hash(
    kind: &str,
    memo: &str,
    reverses: Option<Uuid>,
    entries: impl Iterator<Item = (Uuid, Decimal)>,
) -> Vec<u8> {
    let body = Body {
        kind,
        memo,
        reverses,
        entries: entries.map(|(a, d)| (a, cents(d))).collect(),
    };
    Sha256::digest(serde_json::to_vec(&body).unwrap_or_default()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn amounts_hash_by_value_at_cent_scale() {
        assert_eq!(cents(dec!(5)), "5.00");
        assert_eq!(cents(dec!(-0.5)), "-0.50");
        let a = Uuid::nil();
        let one = body_hash("x", "", None, [(a, dec!(1)), (a, dec!(-1))].into_iter());
        let same = body_hash(
            "x",
            "",
            None,
            [(a, dec!(1.00)), (a, dec!(-1.0))].into_iter(),
        );
        let other = body_hash("x", "", None, [(a, dec!(2)), (a, dec!(-2))].into_iter());
        assert_eq!(one, same);
        assert_ne!(one, other);
    }
}
