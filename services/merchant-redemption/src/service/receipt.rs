//! The receipt of one redemption: what the tablet shows and prints.

use chrono::{DateTime, Utc};
use kernel::Money;
use platform::{ApiError, ApiResult};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::redemptions::{self, RedemptionRow};
use crate::domain::limits::limits_left;
use crate::domain::limits::{Bump, Counters};

#[derive(Serialize, ToSchema)]
pub struct Receipt {
    pub id: Uuid,
    pub receipt_number: String,
    /// redeemed, voided, partially_refunded or refunded.
    pub status: String,
    pub merchant_id: Uuid,
    pub merchant_name: String,
    pub promotion_id: Uuid,
    pub promotion_name: String,
    /// The card number with all but the last four digits hidden.
    pub card: String,
    pub device_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    #[schema(value_type = String)]
    pub basket: Money,
    #[schema(value_type = String)]
    pub discount: Money,
    #[schema(value_type = String)]
    pub to_pay: Money,
    /// What the municipality covers of the discount.
    #[schema(value_type = String)]
    pub municipality_share: Money,
    #[schema(value_type = String)]
    pub merchant_share: Money,
    pub points_earned: i32,
    pub points_spent: i32,
    /// What is left of the card's limits for this promotion (null = unlimited).
    #[schema(value_type = Object)]
    pub limits_left: serde_json::Value,
    /// True when this answers a repeated request with the same Idempotency-Key.
    pub replayed: bool,
}

fn money(d: Decimal) -> ApiResult<Money> {
    Money::try_from_decimal(d).map_err(ApiError::internal)
}

pub fn mask(number: &str) -> String {
    let keep = number.len().saturating_sub(4);
    format!("{}{}", "•".repeat(keep.min(8)), &number[keep..])
}

pub async fn load(conn: &mut PgConnection, id: Uuid, replayed: bool) -> ApiResult<Receipt> {
    let row = redemptions::by_id(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("redemption_not_found", "no such redemption"))?;
    let bumps: Vec<Bump> = serde_json::from_value(row.counters.clone()).unwrap_or_default();
    let mut cur = Counters::default();
    for b in bumps.iter().filter(|b| b.is_count()) {
        let used: Option<Decimal> = sqlx::query_scalar(
            "SELECT used FROM redemption_counters WHERE promotion_id = $1 AND scope = $2 AND key = $3",
        )
        .bind(row.promotion_id)
        .bind(&b.scope)
        .bind(&b.key)
        .fetch_optional(&mut *conn)
        .await?;
        let n = used
            .and_then(|u| rust_decimal::prelude::ToPrimitive::to_i64(&u))
            .unwrap_or(0);
        match b.scope.as_str() {
            "card_day" => cur.card_day = n,
            "card_merchant" => cur.card_merchant = n,
            _ => cur.card_promotion = n,
        }
    }
    from_row(row, limits_left(&bumps, &cur), replayed)
}

pub fn from_row(
    row: RedemptionRow,
    limits: serde_json::Value,
    replayed: bool,
) -> ApiResult<Receipt> {
    let basket = money(row.basket)?;
    let discount = money(row.discount)?;
    Ok(Receipt {
        id: row.id,
        receipt_number: row.receipt_number,
        status: row.status,
        merchant_id: row.merchant_id,
        merchant_name: row.merchant_name,
        promotion_id: row.promotion_id,
        promotion_name: row.promotion_name,
        card: mask(&row.card_number),
        device_id: row.device_id,
        occurred_at: row.occurred_at,
        basket,
        discount,
        to_pay: basket - discount,
        municipality_share: money(row.municipality_share)?,
        merchant_share: money(row.merchant_share)?,
        points_earned: row.points_earned,
        points_spent: row.points_spent,
        limits_left: limits,
        replayed,
    })
}

/// A plain-text receipt for a narrow receipt printer (40 columns).
pub fn printable(r: &Receipt, tz: chrono_tz::Tz) -> String {
    let line = |l: &str, v: String| format!("{l:<24}{v:>16}\n");
    let mut s = String::new();
    s.push_str(&format!("{:^40}\n", r.merchant_name));
    s.push_str(&format!("{:^40}\n", r.promotion_name));
    s.push_str(&"-".repeat(40));
    s.push('\n');
    s.push_str(&line("Račun / Receipt", r.receipt_number.clone()));
    s.push_str(&line(
        "Čas / Time",
        r.occurred_at
            .with_timezone(&tz)
            .format("%d.%m.%Y %H:%M")
            .to_string(),
    ));
    s.push_str(&line("Kartica / Card", r.card.clone()));
    s.push_str(&line("Znesek / Amount", format!("{} EUR", r.basket)));
    s.push_str(&line("Popust / Discount", format!("-{} EUR", r.discount)));
    s.push_str(&line("Za plačilo / To pay", format!("{} EUR", r.to_pay)));
    if !r.municipality_share.is_zero() {
        s.push_str(&line(
            "Krije občina / Town",
            format!("{} EUR", r.municipality_share),
        ));
    }
    if r.points_earned > 0 {
        s.push_str(&line("Točke / Points", format!("+{}", r.points_earned)));
    }
    if r.points_spent > 0 {
        s.push_str(&line("Porabljene točke", format!("-{}", r.points_spent)));
    }
    if r.status != "redeemed" {
        s.push_str(&line("Stanje / Status", r.status.to_uppercase()));
    }
    s.push_str(&"-".repeat(40));
    s.push('\n');
    s
}
