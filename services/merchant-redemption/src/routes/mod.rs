use axum::http::HeaderMap;
use platform::{ApiError, ApiResult, Context};
use utoipa_axum::router::OpenApiRouter;

mod devices;
mod merchants;
mod offline;
mod participation;
mod promotions;
mod receipts;
mod redeem;
mod reversals;
mod scan;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .merge(merchants::router())
        .merge(devices::router())
        .merge(promotions::router())
        .merge(participation::router())
        .merge(scan::router())
        .merge(redeem::router())
        .merge(reversals::router())
        .merge(receipts::router())
        .merge(offline::router())
}

/// The `Idempotency-Key` header: 1 to 100 visible ASCII characters.
pub fn idempotency_key(headers: &HeaderMap) -> ApiResult<String> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if key.is_empty() || key.len() > 100 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "idempotency_key_required",
            "send an Idempotency-Key header of 1 to 100 visible characters",
        ));
    }
    // Offline sync keys its redemptions `offline:<device>:<item>`; an online request
    // must not take one of them first.
    if key.starts_with("offline:") {
        return Err(ApiError::bad_request(
            "idempotency_key_required",
            "an Idempotency-Key may not start with \"offline:\"",
        ));
    }
    Ok(key.to_owned())
}

/// The card id a token names (unverified: only to key the velocity limit).
pub fn token_card(token: Option<&str>, number: Option<&str>) -> String {
    token
        .and_then(|t| cardtoken::parse(t).ok())
        .map(|u| u.claim.card_id.to_string())
        .or_else(|| number.map(|n| n.chars().filter(char::is_ascii_digit).collect()))
        .unwrap_or_default()
}

/// An amount as sent ("12.50"), parsed by the handler so that a bad one is
/// `invalid_amount`, not a generic `invalid_body`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum AmountText {
    Text(String),
    Number(serde_json::Number),
}

impl AmountText {
    pub fn text(&self) -> String {
        match self {
            AmountText::Text(s) => s.clone(),
            AmountText::Number(n) => n.to_string(),
        }
    }

    /// More than zero, in cents: 422 `invalid_amount` otherwise (zero, negative,
    /// three decimals, not a number, or a JSON number instead of a string).
    pub fn positive(&self) -> ApiResult<kernel::Money> {
        let bad = || {
            ApiError::unprocessable(
                "invalid_amount",
                "the amount must be more than 0 with at most two decimals, as a string like \"12.50\"",
            )
        };
        match self {
            AmountText::Text(s) => kernel::Money::parse_positive(s).map_err(|_| bad()),
            AmountText::Number(_) => Err(bad()),
        }
    }
}
