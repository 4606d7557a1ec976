//! The committed test vectors (proto/testvectors/qr-v1.json) are the format's contract:
//! every implementation (this crate, a tablet's offline verifier) must give the same
//! answers. Regenerate only on purpose: `REGENERATE_QR_VECTORS=1 cargo test -p cardtoken`.

use cardtoken::{Claim, TokenError, encode, is_superseded, verify};
use ed25519_dalek::{SigningKey, VerifyingKey};
use kernel::CardId;
use prost::Message;
use qrcode::{EcLevel, QrCode, Version};
use serde::{Deserialize, Serialize};
use towncard_proto::qr::{CardClaim, SignedCard};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../proto/testvectors/qr-v1.json"
);

#[derive(Serialize, Deserialize)]
struct Vectors {
    description: String,
    /// Test-only keys: the seed is published so anyone can re-sign the vectors.
    keys: Vec<Key>,
    vectors: Vec<Vector>,
}

#[derive(Serialize, Deserialize)]
struct Key {
    kid: String,
    seed_hex: String,
    public_key_hex: String,
}

#[derive(Serialize, Deserialize)]
struct Vector {
    name: String,
    token: String,
    /// The town the verifier belongs to.
    town_code: u16,
    /// The card's current token serial as the service knows it.
    current_token_serial: u32,
    /// `ok`, or the stable error code.
    expect: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    card_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token_serial: Option<u32>,
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn card() -> CardId {
    CardId::from_uuid(uuid::Uuid::from_u128(
        0x0193_5b2e_8c4a_7d10_9f3e_0a1b_2c3d_4e5f,
    ))
}

fn claim(serial: u32) -> Claim {
    Claim {
        town_code: 101,
        card_id: card(),
        token_serial: serial,
    }
}

/// A correctly signed token whose claim says format version 2.
fn wrong_version(k: &SigningKey) -> String {
    use ed25519_dalek::Signer;
    let bytes = CardClaim {
        version: 2,
        town_code: 101,
        card_id: card().as_uuid().as_bytes().to_vec(),
        token_serial: 1,
    }
    .encode_to_vec();
    let signed = SignedCard {
        signature: k.sign(&bytes).to_bytes().to_vec(),
        claim: bytes,
        kid: "k1".into(),
    };
    format!("TC1:{}", cardtoken::base45::encode(&signed.encode_to_vec()))
}

fn generate() -> Vectors {
    let k1 = key(1);
    let k2 = key(2);
    let valid = encode(&claim(1), "k1", &k1);
    let v = |name: &str, token: String, current: u32, expect: &str| Vector {
        name: name.into(),
        token,
        town_code: 101,
        current_token_serial: current,
        expect: expect.into(),
        card_id: None,
        token_serial: None,
    };
    // Flip one character of the signature part (near the end) to another Base45 digit.
    let mut tampered = valid.clone().into_bytes();
    let i = tampered.len() - 10;
    tampered[i] = if tampered[i] == b'0' { b'1' } else { b'0' };
    let mut ok = v("valid", valid.clone(), 1, "ok");
    ok.card_id = Some(card().to_string());
    ok.token_serial = Some(1);
    let mut rotated = v("valid_second_key", encode(&claim(1), "k2", &k2), 1, "ok");
    rotated.card_id = Some(card().to_string());
    rotated.token_serial = Some(1);
    let mut other_town = v("other_town", valid.clone(), 1, "token_wrong_town");
    other_town.town_code = 102;
    Vectors {
        description: "towncard QR token v1: TC1: + Base45(protobuf SignedCard), \
            see proto/towncard/qr/v1/qr.proto and docs/qr-token.md. Keys are test-only."
            .into(),
        keys: [("k1", &k1), ("k2", &k2)]
            .into_iter()
            .map(|(kid, k)| Key {
                kid: kid.into(),
                seed_hex: hex::encode(k.to_bytes()),
                public_key_hex: hex::encode(k.verifying_key().as_bytes()),
            })
            .collect(),
        vectors: vec![
            ok,
            rotated,
            v(
                "tampered",
                String::from_utf8(tampered).unwrap_or_default(),
                1,
                "token_bad_signature",
            ),
            v(
                "forged_with_other_key",
                encode(&claim(1), "k1", &key(9)),
                1,
                "token_bad_signature",
            ),
            v(
                "unknown_key",
                encode(&claim(1), "k7", &key(7)),
                1,
                "token_unknown_key",
            ),
            v("superseded_serial", valid.clone(), 2, "card_replaced"),
            v(
                "truncated",
                valid[..valid.len() - 6].to_owned(),
                1,
                "token_malformed",
            ),
            v(
                "wrong_version",
                wrong_version(&k1),
                1,
                "token_unsupported_version",
            ),
            other_town,
            v(
                "not_ours",
                "https://example.org/card/1".into(),
                1,
                "token_not_ours",
            ),
            v(
                "too_long",
                format!("TC1:{}", "0".repeat(600)),
                1,
                "token_too_long",
            ),
            v(
                "not_base45",
                "TC1:tc1lowercase".into(),
                1,
                "token_malformed",
            ),
            v("empty", String::new(), 1, "token_not_ours"),
            // What a scanner app or a copy-paste may do to a token.
            v(
                "reencoded_lowercase",
                valid.to_lowercase(),
                1,
                "token_not_ours",
            ),
            v(
                "reencoded_url",
                valid.replace(' ', "%20").replace(':', "%3A"),
                1,
                "token_not_ours",
            ),
            v(
                "extra_bytes_appended",
                format!("{valid}00"),
                1,
                "token_malformed",
            ),
        ],
    }
}

fn outcome(vs: &Vectors, v: &Vector) -> (String, Option<Claim>) {
    let keys: Vec<(String, VerifyingKey)> = vs
        .keys
        .iter()
        .map(|k| {
            let bytes: [u8; 32] = hex::decode(&k.public_key_hex)
                .unwrap_or_else(|e| panic!("{e}"))
                .try_into()
                .unwrap_or_else(|_| panic!("32-byte key"));
            (
                k.kid.clone(),
                VerifyingKey::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}")),
            )
        })
        .collect();
    let lookup = |kid: &str| keys.iter().find(|(k, _)| k == kid).map(|(_, pk)| *pk);
    match verify(&v.token, v.town_code, lookup) {
        Ok(c) if is_superseded(&c, v.current_token_serial) => ("card_replaced".into(), Some(c)),
        Ok(c) => ("ok".into(), Some(c)),
        Err(e) => (e.code().into(), None),
    }
}

#[test]
fn committed_vectors_give_their_expected_answers() {
    if std::env::var_os("REGENERATE_QR_VECTORS").is_some() {
        let json = serde_json::to_string_pretty(&generate()).unwrap_or_default();
        std::fs::write(PATH, json + "\n").unwrap_or_else(|e| panic!("{e}"));
    }
    let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("{PATH}: {e}"));
    let vs: Vectors = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = vs.vectors.iter().map(|v| v.name.as_str()).collect();
    for required in [
        "valid",
        "tampered",
        "unknown_key",
        "superseded_serial",
        "truncated",
        "wrong_version",
    ] {
        assert!(names.contains(&required), "missing vector {required}");
    }
    for v in &vs.vectors {
        let (got, claim) = outcome(&vs, v);
        assert_eq!(got, v.expect, "vector {}", v.name);
        if let (Some(c), Some(id)) = (claim, &v.card_id) {
            assert_eq!(&c.card_id.to_string(), id, "vector {}", v.name);
            assert_eq!(Some(c.token_serial), v.token_serial, "vector {}", v.name);
        }
    }
}

#[test]
fn encoding_is_stable_against_the_committed_vectors() {
    // Ed25519 signatures are deterministic: re-signing the valid claim with the
    // published test key must give byte-for-byte the committed token.
    let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("{e}"));
    let vs: Vectors = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let valid = vs.vectors.iter().find(|v| v.name == "valid");
    assert_eq!(
        valid.map(|v| v.token.clone()),
        Some(encode(&claim(1), "k1", &key(1)))
    );
    assert_eq!(
        vs.keys.first().map(|k| k.seed_hex.clone()),
        Some(hex::encode(key(1).to_bytes()))
    );
}

#[test]
fn a_real_token_fits_qr_version_7_at_level_m() {
    // The longest realistic token: a 16-character kid and a large serial.
    for (kid, serial) in [("k1", 1), ("q0123456789abcde", u32::MAX)] {
        let mut c = claim(serial);
        c.town_code = 999;
        let token = encode(&c, kid, &key(3));
        let code = QrCode::with_error_correction_level(token.as_bytes(), EcLevel::M)
            .unwrap_or_else(|e| panic!("{e}"));
        let Version::Normal(v) = code.version() else {
            panic!("micro QR")
        };
        assert!(v <= 7, "{kid}: version {v} for {} chars", token.len());
        eprintln!(
            "kid {kid:?}: {} chars, QR version {v} at level M",
            token.len()
        );
    }
    let _ = TokenError::NotOurs; // the error type is part of the public contract
}
