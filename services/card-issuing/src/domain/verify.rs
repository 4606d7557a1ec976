//! Checks a scanned QR text against the caller's town: format, town, key, signature,
//! then the card's current state (a superseded token serial is `card_replaced`).

use cardtoken::TokenError;
use chrono::Utc;
use platform::ApiError;
use sqlx::PgConnection;

use super::keys;
use super::lifecycle::effective_status;
use crate::db::{self, cards::CardRow};

pub fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::NotOurs
        | TokenError::TooLong
        | TokenError::Malformed
        | TokenError::UnsupportedVersion => ApiError::bad_request(e.code(), e.to_string()),
        TokenError::UnknownKey | TokenError::BadSignature | TokenError::WrongTown => {
            ApiError::unprocessable(e.code(), e.to_string())
        }
    }
}

/// True when a token's serial is older than the card's: the card was replaced.
pub fn superseded(token_serial: u32, card_serial: i32) -> bool {
    i64::from(token_serial) < i64::from(card_serial)
}

/// The card a valid token names, or the reason it is refused.
pub async fn verify(
    conn: &mut PgConnection,
    town: kernel::TownId,
    town_code: u16,
    text: &str,
) -> Result<CardRow, ApiError> {
    // The town is checked before the key, so a card of another town is named as such.
    let parsed = cardtoken::parse(text).map_err(token_error)?;
    if parsed.claim.town_code != town_code {
        return Err(token_error(TokenError::WrongTown));
    }
    let keys = keys::verifiers(conn, town).await?;
    let claim =
        cardtoken::verify(text, town_code, |kid| keys.get(kid).copied()).map_err(token_error)?;
    let card = db::cards::by_id(conn, claim.card_id.as_uuid())
        .await?
        .ok_or_else(|| ApiError::not_found("card_not_found", "no such card in this town"))?;
    if superseded(claim.token_serial, card.token_serial) {
        return Err(ApiError::conflict(
            "card_replaced",
            "this card was replaced; the new card has a new QR code",
        ));
    }
    match effective_status(&card, Utc::now()) {
        "suspended" => Err(ApiError::conflict(
            "card_suspended",
            "the card is suspended",
        )),
        "expired" => Err(ApiError::conflict("card_expired", "the card has expired")),
        "replaced" => Err(ApiError::conflict("card_replaced", "the card was replaced")),
        _ => Ok(card),
    }
}
