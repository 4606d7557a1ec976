//! The vector files the tablet's JavaScript core shares with the Rust code, so the
//! two cannot drift apart (no database needed):
//! - tests/vectors/rules.json through `domain::rules::evaluate` (the tablet runs it
//!   in tablet/test/rules.test.mjs);
//! - tests/vectors/qr-edge.json through `cardtoken::verify` (tablet/test/token.test.mjs);
//! - tests/vectors/card-numbers.json through `kernel::CardNumber::parse`
//!   (tablet/test/money-cardnumber.test.mjs).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use kernel::card_number::CardNumberError;
use kernel::{CardNumber, Money, Percent};
use merchant_redemption::domain::limits::Counters;
use merchant_redemption::domain::rules::{self, Card, Promotion, Rules};
use serde::Deserialize;
use uuid::Uuid;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/rules.json");
const CARD_NUMBERS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/card-numbers.json"
);
const QR_EDGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/qr-edge.json");

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

/// One offer as the offline pack carries it (`GET /devices/offline-pack`).
#[derive(Deserialize)]
struct Offer {
    promotion_id: Uuid,
    name: String,
    co_financing_percent: Percent,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    rules: serde_json::Value,
    #[serde(default)]
    closed: bool,
}

#[derive(Deserialize)]
struct CaseCard {
    product_code: String,
    points: i64,
}

#[derive(Default, Deserialize)]
struct CaseCounters {
    #[serde(default)]
    card_day: i64,
    #[serde(default)]
    card_merchant: i64,
    #[serde(default)]
    card_promotion: i64,
    merchant_budget: Option<Money>,
    day_budget: Option<Money>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    offer: Offer,
    card: CaseCard,
    basket: Money,
    now: DateTime<Utc>,
    time_zone: String,
    #[serde(default)]
    counters: CaseCounters,
    expect: BTreeMap<String, serde_json::Value>,
}

fn answer(c: &Case) -> BTreeMap<String, serde_json::Value> {
    let rules: Rules = serde_json::from_value(c.offer.rules.clone())
        .unwrap_or_else(|e| panic!("{}: rules: {e}", c.name));
    let promo = Promotion {
        id: c.offer.promotion_id,
        name: c.offer.name.clone(),
        co_financing: c.offer.co_financing_percent,
        starts_on: c.offer.starts_on,
        ends_on: c.offer.ends_on.unwrap_or(NaiveDate::MAX),
        rules,
        owner_merchant: None,
        closed: c.offer.closed,
    };
    let card = Card {
        id: Uuid::nil(),
        product_code: c.card.product_code.clone(),
        points: c.card.points,
    };
    let n = &c.counters;
    let counters = Counters {
        card_day: n.card_day,
        card_merchant: n.card_merchant,
        card_promotion: n.card_promotion,
        merchant_budget: n.merchant_budget.unwrap_or(Money::ZERO).amount(),
        day_budget: n.day_budget.unwrap_or(Money::ZERO).amount(),
    };
    let tz: Tz = c
        .time_zone
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
    // Compared to the cent: Money::ZERO (the discount of a points or stamps offer)
    // displays as "0", every computed amount as "0.00".
    let s = |m: Money| serde_json::Value::String(format!("{:.2}", m.amount()));
    match rules::evaluate(&promo, &card, c.basket, &counters, tz, c.now) {
        Ok(q) => BTreeMap::from([
            ("discount".to_owned(), s(q.discount)),
            ("to_pay".to_owned(), s(c.basket - q.discount)),
            ("municipality".to_owned(), s(q.municipality)),
            ("merchant".to_owned(), s(q.merchant)),
            ("points_earned".to_owned(), q.points_earned.into()),
            ("points_spent".to_owned(), q.points_spent.into()),
        ]),
        Err(r) => BTreeMap::from([("refusal".to_owned(), r.code().into())]),
    }
}

#[test]
fn every_rule_vector_gives_its_expected_answer() {
    let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("{PATH}: {e}"));
    let file: File = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{PATH}: {e}"));
    assert!(file.cases.len() >= 40, "about 40 cases");
    let failures: Vec<String> = file
        .cases
        .iter()
        .filter_map(|c| {
            let got = answer(c);
            (got != c.expect).then(|| format!("{}: got {got:?}, want {:?}", c.name, c.expect))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vector_names_are_unique() {
    let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("{PATH}: {e}"));
    let file: File = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{PATH}: {e}"));
    let mut names: Vec<&str> = file.cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len());
}

#[derive(Deserialize)]
struct QrEdge {
    town_code: u16,
    keys: Vec<QrKey>,
    vectors: Vec<QrVector>,
}

#[derive(Deserialize)]
struct QrKey {
    kid: String,
    public_key_hex: String,
}

#[derive(Deserialize)]
struct QrVector {
    name: String,
    token: String,
    expect: String,
    card_id: Option<String>,
    token_serial: Option<u32>,
}

#[test]
fn qr_edge_vectors_give_cardtokens_answers() {
    let text = std::fs::read_to_string(QR_EDGE).unwrap_or_else(|e| panic!("{QR_EDGE}: {e}"));
    let file: QrEdge = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{QR_EDGE}: {e}"));
    let keys: Vec<(String, ed25519_dalek::VerifyingKey)> = file
        .keys
        .iter()
        .map(|k| {
            let bytes: [u8; 32] = hex::decode(&k.public_key_hex)
                .ok()
                .and_then(|b| b.try_into().ok())
                .unwrap_or_else(|| panic!("key {}", k.kid));
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .unwrap_or_else(|e| panic!("key {}: {e}", k.kid));
            (k.kid.clone(), key)
        })
        .collect();
    let lookup = |kid: &str| keys.iter().find(|(k, _)| k == kid).map(|(_, key)| *key);
    let failures: Vec<String> = file
        .vectors
        .iter()
        .filter_map(|v| {
            let got = match cardtoken::verify(&v.token, file.town_code, lookup) {
                Ok(c) => (
                    "ok".to_owned(),
                    Some(c.card_id.to_string()),
                    Some(c.token_serial),
                ),
                Err(e) => (e.code().to_owned(), None, None),
            };
            let want = (v.expect.clone(), v.card_id.clone(), v.token_serial);
            (got != want).then(|| format!("{}: got {got:?}, want {want:?}", v.name))
        })
        .collect();
    assert!(file.vectors.len() >= 50);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(Deserialize)]
struct CardNumbers {
    vectors: Vec<CardNumberVector>,
}

#[derive(Deserialize)]
struct CardNumberVector {
    name: String,
    text: String,
    expect: String,
    number: Option<String>,
}

#[test]
fn card_number_vectors_give_the_kernels_answers() {
    let text =
        std::fs::read_to_string(CARD_NUMBERS).unwrap_or_else(|e| panic!("{CARD_NUMBERS}: {e}"));
    let file: CardNumbers =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{CARD_NUMBERS}: {e}"));
    let failures: Vec<String> = file
        .vectors
        .iter()
        .filter_map(|v| {
            // The tablet names a typo apart from a wrong length; the server says
            // card_number_invalid for both.
            let got = match CardNumber::parse(&v.text) {
                Ok(n) => ("ok", Some(n.digits())),
                Err(CardNumberError::BadCheckDigit) => ("card_number_check_digit", None),
                Err(_) => ("card_number_invalid", None),
            };
            let want = (v.expect.as_str(), v.number.clone());
            (got != want).then(|| format!("{}: got {got:?}, want {want:?}", v.name))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
