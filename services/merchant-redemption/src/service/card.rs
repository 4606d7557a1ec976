//! From a QR token (or a typed card number) to a valid card of this town.

use chrono::{DateTime, Utc};
use kernel::{CardNumber, TownId};
use platform::{ApiError, ApiResult, Context};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::cards::{self, CardRow};
use crate::db::towns::{self, TownInfo};
use crate::events;
use crate::state::App;

/// How the counter identified the card.
#[derive(Clone, Copy, Debug)]
pub enum CardRef<'a> {
    Token(&'a str),
    Number(&'a str),
}

impl<'a> CardRef<'a> {
    pub fn from_request(token: Option<&'a str>, number: Option<&'a str>) -> ApiResult<CardRef<'a>> {
        match (token, number) {
            (Some(t), _) => Ok(CardRef::Token(t)),
            (None, Some(n)) => Ok(CardRef::Number(n)),
            (None, None) => Err(ApiError::bad_request(
                "card_required",
                "send the scanned `token` or the typed `card_number`",
            )),
        }
    }
}

fn refused(code: &'static str, message: &str) -> ApiError {
    ApiError::unprocessable(code, message.to_owned())
}

pub async fn town_info(
    app: &App,
    conn: &mut PgConnection,
    town: TownId,
    fresh: bool,
) -> ApiResult<TownInfo> {
    if !fresh && let Some(t) = app.cache.town(town.as_uuid()) {
        return Ok(t);
    }
    let t = towns::load(conn, town.as_uuid())
        .await?
        .ok_or_else(|| ApiError::not_found("town_not_found", "no such town"))?;
    app.cache.put_town(town.as_uuid(), t.clone());
    Ok(t)
}

/// Verifies the card reference and returns the card, valid now. A tourist card
/// scanned for the first time is activated. `cached` lets a scan use the cache;
/// a redemption always reads Postgres.
pub async fn resolve(
    app: &App,
    ctx: &Context,
    conn: &mut PgConnection,
    town: TownId,
    card: CardRef<'_>,
    cached: bool,
    now: DateTime<Utc>,
) -> ApiResult<CardRow> {
    let info = town_info(app, conn, town, false).await?;
    let (row, serial) = match card {
        CardRef::Token(text) => {
            let claim = verify_token(app, conn, town, &info, text).await?;
            let id = claim.card_id.as_uuid();
            let row = match cached.then(|| app.cache.card(id)).flatten() {
                Some(r) => Some(r),
                None => cards::by_id(conn, id).await?,
            };
            (row, Some(claim.token_serial))
        }
        CardRef::Number(text) => {
            let n = CardNumber::parse(text)
                .map_err(|e| refused("card_number_invalid", &e.to_string()))?;
            if n.town_code() != info.code {
                return Err(refused(
                    "card_wrong_town",
                    "this card belongs to another town",
                ));
            }
            (cards::by_number(conn, &n.digits()).await?, None)
        }
    };
    let mut row =
        row.ok_or_else(|| ApiError::not_found("card_not_found", "no such card in this town"))?;
    if let Some(serial) = serial
        && i64::from(serial) < i64::from(row.token_serial)
    {
        return Err(refused(
            "card_replaced",
            "this card was replaced; use the new card",
        ));
    }
    match row.status.as_str() {
        "suspended" => return Err(refused("card_suspended", "this card is suspended")),
        "replaced" => {
            return Err(refused(
                "card_replaced",
                "this card was replaced; use the new card",
            ));
        }
        "expired" => return Err(refused("card_expired", "this card has expired")),
        "issued" if row.product_kind == "tourist_hours" => {
            row = cards::activate(conn, row.id).await?.ok_or_else(|| {
                ApiError::not_found("card_not_found", "no such card in this town")
            })?;
            app.cache.forget_card(row.id);
            events::card_activated(&ctx.redis, town.as_uuid(), row.id, row.token_serial).await;
            return check_expiry(row, now);
        }
        _ => {}
    }
    let row = check_expiry(row, now)?;
    if cached {
        app.cache.put_card(row.clone());
    }
    Ok(row)
}

/// Whether `resolve` would return this card as it is (no refusal and no
/// activation to write), for a token of `serial`; a batch takes only such cards
/// and leaves the others to `resolve`.
pub fn usable_as_is(row: &CardRow, serial: u32, now: DateTime<Utc>) -> bool {
    i64::from(serial) >= i64::from(row.token_serial)
        && !matches!(row.status.as_str(), "suspended" | "replaced" | "expired")
        && !(row.status == "issued" && row.product_kind == "tourist_hours")
        && row.expires_at.is_none_or(|e| e > now)
}

/// `resolve` for the tokens of a redeem batch at once, with the card rows read
/// fresh: per job index, its card when `resolve` would return it as it is; the
/// others (refused, to activate, a bad token) are missing, for `resolve` to answer
/// alone.
pub async fn usable_cards(
    app: &App,
    conn: &mut PgConnection,
    town: TownId,
    info: &TownInfo,
    tokens: &[(usize, &str)],
    now: DateTime<Utc>,
) -> ApiResult<HashMap<usize, CardRow>> {
    let mut claims = Vec::with_capacity(tokens.len());
    for &(i, text) in tokens {
        if let Ok(c) = verify_token(app, conn, town, info, text).await {
            claims.push((i, c));
        }
    }
    let ids: Vec<Uuid> = claims.iter().map(|(_, c)| c.card_id.as_uuid()).collect();
    let rows: HashMap<Uuid, CardRow> = cards::by_ids(conn, &ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut out = HashMap::new();
    for (i, c) in claims {
        if let Some(r) = rows.get(&c.card_id.as_uuid())
            && usable_as_is(r, c.token_serial, now)
        {
            out.insert(i, r.clone());
        }
    }
    Ok(out)
}

/// Verifies a QR token. One verified before (a scan, then its redeem) is taken from
/// memory while the key that signed it is still one of the town's keys.
async fn verify_token(
    app: &App,
    conn: &mut PgConnection,
    town: TownId,
    info: &TownInfo,
    text: &str,
) -> ApiResult<cardtoken::Claim> {
    let claim = match verify_cached(app, town, info, text) {
        Err(cardtoken::TokenError::UnknownKey) => {
            // A key created since the cache was filled: look again once.
            let fresh = town_info(app, conn, town, true).await?;
            verify_cached(app, town, &fresh, text)
        }
        other => other,
    };
    claim.map_err(|e| refused(e.code(), &e.to_string()))
}

/// `verify_token` with the town's keys as `info` has them, without the database: a
/// token signed by a newer key fails with `UnknownKey`.
pub fn verify_cached(
    app: &App,
    town: TownId,
    info: &TownInfo,
    text: &str,
) -> Result<cardtoken::Claim, cardtoken::TokenError> {
    let mut h = Sha256::new();
    h.update(town.as_uuid().as_bytes());
    h.update(text.trim().as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    if let Some((claim, kid)) = app.cache.token(&digest)
        && info.keys.contains_key(&kid)
    {
        return Ok(claim);
    }
    let keys = info.keys.clone();
    let claim = cardtoken::verify(text, info.code, move |kid: &str| keys.get(kid).copied())?;
    if let Ok(t) = cardtoken::parse(text) {
        app.cache.put_token(digest, claim, t.kid);
    }
    Ok(claim)
}

fn check_expiry(row: CardRow, now: DateTime<Utc>) -> ApiResult<CardRow> {
    if row.expires_at.is_some_and(|e| e <= now) {
        return Err(refused("card_expired", "this card has expired"));
    }
    Ok(row)
}

/// The card's points balance (0 without an account).
pub async fn points(conn: &mut PgConnection, town: TownId, card: uuid::Uuid) -> ApiResult<i64> {
    use rust_decimal::prelude::ToPrimitive;
    let Some(acct) =
        ledger::find_account(conn, town, ledger::AccountKind::CardPoints, Some(card)).await?
    else {
        return Ok(0);
    };
    Ok(ledger::balance_of(conn, acct).await?.to_i64().unwrap_or(0))
}
