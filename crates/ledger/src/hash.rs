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

/// The canonical JSON of `fields` split around its lane and sequence (which are set
/// to 0 here): `ledger_post()` picks the lane in the database and hashes
/// head || lane || `,"seq":` || seq || tail, the bytes `chain_hash` would hash.
pub fn chain_parts(fields: &Chained<'_>) -> (Vec<u8>, Vec<u8>) {
    const LANE: &[u8] = b"\"lane\":";
    const MARK: &[u8] = b"\"lane\":0,\"seq\":0";
    let zeroed = Chained {
        lane: 0,
        seq: 0,
        entries: fields.entries.clone(),
        ..*fields
    };
    let json = serde_json::to_vec(&zeroed).unwrap_or_default();
    // Only fixed-format fields (v, id, town) come before the lane, so the first
    // match is the field itself, never text inside the key or memo.
    let at = json
        .windows(MARK.len())
        .position(|w| w == MARK)
        .unwrap_or(json.len());
    let head = json[..(at + LANE.len()).min(json.len())].to_vec();
    let tail = json[(at + MARK.len()).min(json.len())..].to_vec();
    (head, tail)
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
    fn the_split_chain_bytes_hash_like_the_whole() {
        let entries = vec![
            (Uuid::now_v7(), cents(dec!(-1.5))),
            (Uuid::nil(), cents(dec!(1.5))),
        ];
        for (lane, seq, key, memo) in [
            (0_i16, 1_i64, "k", ""),
            (
                15,
                123_456_789_012,
                "\"lane\":0,\"seq\":0",
                "čšž \"lane\":7",
            ),
        ] {
            let fields = Chained {
                v: 1,
                id: Uuid::now_v7(),
                town: Uuid::now_v7(),
                lane,
                seq,
                key,
                kind: "redemption",
                memo,
                reverses: None,
                posted_at_us: 1_700_000_000_000_000,
                entries: entries.clone(),
            };
            let (head, tail) = chain_parts(&fields);
            let mut joined = head.clone();
            joined.extend_from_slice(format!("{lane},\"seq\":{seq}").as_bytes());
            joined.extend_from_slice(&tail);
            assert_eq!(joined, serde_json::to_vec(&fields).unwrap_or_default());
            let prev = [7_u8; 32];
            let mut h = Sha256::new();
            h.update(prev);
            h.update(&joined);
            assert_eq!(h.finalize().to_vec(), chain_hash(&prev, &fields));
        }
    }

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
