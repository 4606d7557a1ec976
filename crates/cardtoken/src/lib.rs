//! The QR token: `TC1:` + Base45(protobuf `SignedCard`), where `SignedCard` carries
//! the protobuf `CardClaim` bytes, the signing key's id and an Ed25519 signature
//! over exactly those bytes (proto/towncard/qr/v1/qr.proto). About 150 characters:
//! it fits a version-7 QR code at error-correction level M.
//!
//! Verifying needs only public keys, so a tablet can do it offline. Whether the
//! card is still valid (status, current token serial) is the services' question.

pub mod base45;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use kernel::CardId;
use prost::Message;
use towncard_proto::qr::{CardClaim, SignedCard};

/// Marks the format; a future format gets a new prefix.
pub const PREFIX: &str = "TC1:";
pub const VERSION: u32 = 1;
/// Anything longer is not ours; refused before decoding.
pub const MAX_LEN: usize = 400;
const MAX_KID_LEN: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Claim {
    pub town_code: u16,
    pub card_id: CardId,
    pub token_serial: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a towncard QR code")]
    NotOurs,
    #[error("the QR payload is too long")]
    TooLong,
    #[error("the QR payload is damaged")]
    Malformed,
    #[error("this card uses a newer QR format")]
    UnsupportedVersion,
    #[error("the QR code is signed with an unknown key")]
    UnknownKey,
    #[error("the QR signature is not valid")]
    BadSignature,
    #[error("the QR code belongs to another town")]
    WrongTown,
}

impl TokenError {
    /// Stable codes for the API envelope.
    pub fn code(self) -> &'static str {
        match self {
            TokenError::NotOurs => "token_not_ours",
            TokenError::TooLong => "token_too_long",
            TokenError::Malformed => "token_malformed",
            TokenError::UnsupportedVersion => "token_unsupported_version",
            TokenError::UnknownKey => "token_unknown_key",
            TokenError::BadSignature => "token_bad_signature",
            TokenError::WrongTown => "token_wrong_town",
        }
    }
}

/// Signs a claim and returns the QR text.
pub fn encode(claim: &Claim, kid: &str, key: &SigningKey) -> String {
    let claim_bytes = CardClaim {
        version: VERSION,
        town_code: u32::from(claim.town_code),
        card_id: claim.card_id.as_uuid().as_bytes().to_vec(),
        token_serial: claim.token_serial,
    }
    .encode_to_vec();
    let signature = key.sign(&claim_bytes).to_bytes().to_vec();
    let signed = SignedCard {
        claim: claim_bytes,
        kid: kid.to_owned(),
        signature,
    };
    format!("{PREFIX}{}", base45::encode(&signed.encode_to_vec()))
}

/// A token taken apart but not yet trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unverified {
    pub claim: Claim,
    pub kid: String,
    claim_bytes: Vec<u8>,
    signature: [u8; 64],
}

/// Parses without checking the signature (to find the key id). Never panics.
pub fn parse(text: &str) -> Result<Unverified, TokenError> {
    let text = text.trim();
    if text.len() > MAX_LEN {
        return Err(TokenError::TooLong);
    }
    let body = text.strip_prefix(PREFIX).ok_or(TokenError::NotOurs)?;
    let bytes = base45::decode(body).map_err(|_| TokenError::Malformed)?;
    let signed = SignedCard::decode(bytes.as_slice()).map_err(|_| TokenError::Malformed)?;
    let claim = CardClaim::decode(signed.claim.as_slice()).map_err(|_| TokenError::Malformed)?;
    if claim.version != VERSION {
        return Err(TokenError::UnsupportedVersion);
    }
    let signature: [u8; 64] = signed
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| TokenError::Malformed)?;
    let card_id: [u8; 16] = claim
        .card_id
        .as_slice()
        .try_into()
        .map_err(|_| TokenError::Malformed)?;
    let town_code = u16::try_from(claim.town_code).map_err(|_| TokenError::Malformed)?;
    if signed.kid.is_empty() || signed.kid.len() > MAX_KID_LEN {
        return Err(TokenError::Malformed);
    }
    Ok(Unverified {
        claim: Claim {
            town_code,
            card_id: CardId::from_uuid(uuid::Uuid::from_bytes(card_id)),
            token_serial: claim.token_serial,
        },
        kid: signed.kid,
        claim_bytes: signed.claim,
        signature,
    })
}

/// The code a service answers with when a token's serial is older than the card's.
pub const REPLACED_CODE: &str = "card_replaced";

/// True when the card was replaced after this token was printed: a verified claim
/// whose `token_serial` is below the card's current serial must be refused with
/// [`REPLACED_CODE`]. (The signature is fine; the card has moved on.)
pub fn is_superseded(claim: &Claim, current_token_serial: u32) -> bool {
    claim.token_serial < current_token_serial
}

/// Verifies a token for `town_code` with the town's public keys (looked up by kid).
pub fn verify(
    text: &str,
    town_code: u16,
    key_for: impl Fn(&str) -> Option<VerifyingKey>,
) -> Result<Claim, TokenError> {
    let t = parse(text)?;
    let key = key_for(&t.kid).ok_or(TokenError::UnknownKey)?;
    key.verify(&t.claim_bytes, &Signature::from_bytes(&t.signature))
        .map_err(|_| TokenError::BadSignature)?;
    if t.claim.town_code != town_code {
        return Err(TokenError::WrongTown);
    }
    Ok(t.claim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn claim() -> Claim {
        Claim {
            town_code: 101,
            card_id: CardId::from_uuid(uuid::Uuid::from_u128(
                0x0193_0000_0000_7000_8000_0000_0000_0042,
            )),
            token_serial: 1,
        }
    }

    #[test]
    fn round_trip_and_size() {
        let k = key(7);
        let text = encode(&claim(), "k1", &k);
        assert!(text.len() <= 160, "{} chars", text.len());
        let pk = k.verifying_key();
        assert_eq!(
            verify(&text, 101, |kid| (kid == "k1").then_some(pk)),
            Ok(claim())
        );
    }

    #[test]
    fn refuses_forgeries_and_strangers() {
        let k = key(7);
        let pk = k.verifying_key();
        let keys = |kid: &str| (kid == "k1").then_some(pk);
        let good = encode(&claim(), "k1", &k);
        let forged = encode(&claim(), "k1", &key(8));
        assert_eq!(verify(&forged, 101, keys), Err(TokenError::BadSignature));
        assert_eq!(
            verify(&encode(&claim(), "k9", &k), 101, keys),
            Err(TokenError::UnknownKey)
        );
        assert_eq!(verify(&good, 102, keys), Err(TokenError::WrongTown));
        assert!(verify(&good[..good.len() - 3], 101, keys).is_err());
        assert_eq!(verify("hello", 101, keys), Err(TokenError::NotOurs));
        assert_eq!(
            verify(&"TC1:".repeat(200), 101, keys),
            Err(TokenError::TooLong)
        );
        assert_eq!(verify("TC1:!!!", 101, keys), Err(TokenError::Malformed));
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(s in ".{0,500}") {
            let _ = verify(&s, 101, |_| None);
        }

        #[test]
        fn arbitrary_base45_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let text = format!("{PREFIX}{}", base45::encode(&bytes));
            let _ = parse(&text);
        }
    }
}
