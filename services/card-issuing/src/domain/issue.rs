//! Issuing cards: one at the desk, or a print batch. Numbers are the town code, the
//! next serials and a check digit; page codes are 128 random bits.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use ed25519_dalek::SigningKey;
use kernel::{CardId, CardNumber, TownId};
use platform::ApiError;
use rand_core::{OsRng, RngCore};
use sqlx::PgConnection;

use super::events::Changed;
use super::lifecycle::Validity;
use crate::db::{self, cards::Holder, cards::NewCards, products::ProductRow};

pub const MAX_BATCH: u32 = 20_000;

/// An unguessable code for the visitor page (not the card number).
pub fn new_page_code() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// The QR text of a card at its current token serial.
pub fn token(
    town_code: u16,
    card_id: uuid::Uuid,
    token_serial: i32,
    kid: &str,
    key: &SigningKey,
) -> String {
    cardtoken::encode(
        &cardtoken::Claim {
            town_code,
            card_id: CardId::from_uuid(card_id),
            token_serial: u32::try_from(token_serial).unwrap_or_default(),
        },
        kid,
        key,
    )
}

pub struct Actor<'a> {
    pub id: &'a str,
    pub role: &'a str,
    pub user: Option<uuid::Uuid>,
}

pub struct Request<'a> {
    pub town: TownId,
    pub town_code: u16,
    pub product: &'a ProductRow,
    pub count: u32,
    pub holder: Holder<'a>,
    pub batch: Option<uuid::Uuid>,
}

/// Inserts `count` cards and their `issued` events; returns the new card ids, their
/// numbers and the changes to announce after commit.
pub async fn issue(
    conn: &mut PgConnection,
    req: &Request<'_>,
    actor: &Actor<'_>,
) -> Result<(NewCards, Vec<Changed>), ApiError> {
    let validity = Validity::from_product(req.product).ok_or_else(|| {
        ApiError::unprocessable("product_incomplete", "the product's validity is not set")
    })?;
    if req.count == 0 || req.count > MAX_BATCH {
        return Err(ApiError::unprocessable(
            "batch_size_invalid",
            format!("a batch has 1 to {MAX_BATCH} cards"),
        ));
    }
    let first = db::cards::lock_next_serial(conn, req.town).await?;
    let mut cards = NewCards::default();
    for i in 0..req.count as i32 {
        let serial = first + i;
        let number = CardNumber::new(req.town_code, u32::try_from(serial).unwrap_or(u32::MAX))
            .map_err(|_| {
                ApiError::conflict("serials_exhausted", "this town has used every card serial")
            })?;
        cards.ids.push(uuid::Uuid::now_v7());
        cards.serials.push(serial);
        cards.numbers.push(number.digits());
        cards.page_codes.push(new_page_code());
    }
    if let Some(batch) = req.batch {
        db::cards::insert_batch(
            conn,
            req.town,
            batch,
            req.product.id,
            req.count as i32,
            first,
            actor.id,
        )
        .await?;
    }
    db::cards::insert_many(
        conn,
        req.town,
        req.product.id,
        &cards,
        &req.holder,
        validity.expiry_at_issue(),
        req.batch,
        actor.user,
    )
    .await?;
    db::events::insert_many(conn, req.town, &cards.ids, "issued", actor.id, actor.role).await?;
    let at = Utc::now();
    let changes = cards
        .ids
        .iter()
        .map(|id| Changed {
            town: req.town,
            card_id: *id,
            change: "issued",
            token_serial: 1,
            at,
        })
        .collect();
    Ok((cards, changes))
}
