use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use kernel::{Money, Role};
use platform::error::{ApiJson, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::READERS;
use crate::db::benefits::BenefitRow;
use crate::db::products::ProductRow;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(list_products, create_product))
}

/// A name in each of the town's languages.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct Names {
    pub sl: String,
    pub en: String,
    pub it: String,
}

impl Names {
    fn check(&self) -> ApiResult<()> {
        for n in [&self.sl, &self.en, &self.it] {
            let len = n.trim().chars().count();
            if len == 0 || len > 120 {
                return Err(ApiError::unprocessable(
                    "name_invalid",
                    "every name (sl, en, it) has 1 to 120 characters",
                ));
            }
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct Benefit {
    #[serde(default, skip_deserializing)]
    pub id: Option<uuid::Uuid>,
    /// `free_entry`: one free entry at the listed attraction.
    #[serde(default = "free_entry")]
    pub kind: String,
    pub names: Names,
    /// The attraction (a merchant of the town), if any.
    pub merchant_id: Option<uuid::Uuid>,
    /// How many times it may be used (default once).
    #[serde(default = "once")]
    pub uses: i32,
}

fn free_entry() -> String {
    "free_entry".into()
}

fn once() -> i32 {
    1
}

#[derive(Serialize, ToSchema)]
pub struct CardProduct {
    pub id: uuid::Uuid,
    pub code: String,
    pub names: serde_json::Value,
    /// tourist_hours, annual or fixed_dates.
    pub kind: String,
    pub validity_hours: Option<i32>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// EUR, two decimals.
    pub price: String,
    pub benefits: Vec<Benefit>,
}

fn view(p: ProductRow, benefits: &[BenefitRow]) -> CardProduct {
    CardProduct {
        benefits: benefits
            .iter()
            .filter(|b| b.product_id == p.id)
            .map(|b| Benefit {
                id: Some(b.id),
                kind: b.kind.clone(),
                names: serde_json::from_value(b.names.clone()).unwrap_or(Names {
                    sl: String::new(),
                    en: String::new(),
                    it: String::new(),
                }),
                merchant_id: b.merchant_id,
                uses: b.uses,
            })
            .collect(),
        id: p.id,
        code: p.code,
        names: p.names,
        kind: p.kind,
        validity_hours: p.validity_hours,
        valid_from: p.valid_from,
        valid_to: p.valid_to,
        price: format!("{:.2}", p.price),
    }
}

/// Card products of the caller's town, with their benefits.
#[utoipa::path(get, path = "/issuing/v1/card-products", tag = "card products",
    responses((status = 200, body = Vec<CardProduct>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_products(
    State(ctx): State<Context>,
    user: AuthUser,
) -> ApiResult<ApiJson<Vec<CardProduct>>> {
    user.require(READERS)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let rows = crate::db::products::list(&mut tx).await?;
    let ids: Vec<uuid::Uuid> = rows.iter().map(|p| p.id).collect();
    let benefits = crate::db::benefits::for_products(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(ApiJson(
        rows.into_iter().map(|p| view(p, &benefits)).collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProduct {
    /// Short code, e.g. `KC48`: 1–16 of A–Z, 0–9, `-`.
    pub code: String,
    pub names: Names,
    /// tourist_hours (needs validity_hours), annual, or fixed_dates (needs valid_from/valid_to).
    pub kind: String,
    pub validity_hours: Option<i32>,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// EUR, e.g. "22.00".
    pub price: String,
    #[serde(default)]
    pub benefits: Vec<Benefit>,
}

fn check(b: &CreateProduct) -> ApiResult<()> {
    let bad = |m: &str| Err(ApiError::unprocessable("product_invalid", m.to_owned()));
    if b.code.is_empty()
        || b.code.len() > 16
        || !b
            .code
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-')
    {
        return bad("code is 1 to 16 of A-Z, 0-9 and -");
    }
    b.names.check()?;
    match (b.kind.as_str(), b.validity_hours, b.valid_from, b.valid_to) {
        ("tourist_hours", Some(h), None, None) if (1..=24 * 366).contains(&h) => {}
        ("annual", None, None, None) => {}
        ("fixed_dates", None, Some(f), Some(t)) if f <= t => {}
        _ => {
            return bad(
                "tourist_hours needs validity_hours; annual needs nothing; fixed_dates needs valid_from <= valid_to",
            );
        }
    }
    if b.benefits.len() > 50
        || b.benefits
            .iter()
            .any(|x| x.kind != "free_entry" || !(1..=100).contains(&x.uses))
    {
        return bad("benefits: up to 50, kind free_entry, uses 1 to 100");
    }
    for x in &b.benefits {
        x.names.check()?;
    }
    Ok(())
}

/// Creates a card product of the caller's town (town admin).
#[utoipa::path(post, path = "/issuing/v1/card-products", tag = "card products", request_body = CreateProduct,
    responses((status = 201, body = CardProduct),
              (status = 409, description = "already_exists", body = ErrorBody),
              (status = 422, description = "product_invalid, name_invalid, money_invalid", body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_product(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiJson(body): ApiJson<CreateProduct>,
) -> ApiResult<(StatusCode, ApiJson<CardProduct>)> {
    user.require(&[Role::TownAdmin])?;
    check(&body)?;
    let price = Money::parse(&body.price)
        .map_err(|e| ApiError::unprocessable("money_invalid", e.to_string()))?;
    if price.amount().is_sign_negative() {
        return Err(ApiError::unprocessable(
            "money_invalid",
            "a price is not negative",
        ));
    }
    let row = ProductRow {
        id: uuid::Uuid::now_v7(),
        code: body.code.clone(),
        names: serde_json::to_value(&body.names).map_err(ApiError::internal)?,
        kind: body.kind.clone(),
        validity_hours: body.validity_hours,
        valid_from: body.valid_from,
        valid_to: body.valid_to,
        price: price.amount(),
        timezone: String::new(),
    };
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    crate::db::products::insert(&mut tx, user.town(), &row).await?;
    let mut benefits = Vec::new();
    for (i, b) in body.benefits.iter().enumerate() {
        let r = BenefitRow {
            id: uuid::Uuid::now_v7(),
            product_id: row.id,
            kind: b.kind.clone(),
            names: serde_json::to_value(&b.names).map_err(ApiError::internal)?,
            merchant_id: b.merchant_id,
            uses: b.uses,
        };
        crate::db::benefits::insert(&mut tx, user.town(), &r, i as i32).await?;
        benefits.push(r);
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, ApiJson(view(row, &benefits))))
}
