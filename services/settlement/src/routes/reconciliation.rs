//! Reconciliation: a merchant confirms its statement or uploads its claim; the town
//! admin decides each difference.

use axum::extract::State;
use kernel::{MerchantId, Money, Role};
use platform::error::{ApiBytes, ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::db::reconciliation::{self as rdb, Reconciliation};
use crate::domain::{adjust, month, reconcile};

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(confirm_statement))
        .routes(routes!(upload_claim))
        .routes(routes!(get_reconciliation))
        .routes(routes!(decide_difference))
}

fn merchant_scope(user: &AuthUser, merchant: Uuid, roles: &[Role]) -> Result<(), ApiError> {
    user.require(roles)?
        .require_merchant(MerchantId::from_uuid(merchant))?;
    Ok(())
}

/// The merchant owner confirms its statement of the period.
#[utoipa::path(post, path = "/settlement/v1/periods/{month}/merchants/{merchant}/confirm", tag = "reconciliation",
    params(("month" = String, Path), ("merchant" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn confirm_statement(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath((m, merchant)): ApiPath<(String, Uuid)>,
) -> ApiResult<axum::http::StatusCode> {
    merchant_scope(&user, merchant, &[Role::MerchantOwner])?;
    let month = month::parse(&m)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    super::period(&mut tx, month).await?;
    rdb::confirm(
        &mut tx,
        user.town(),
        month,
        merchant,
        user.user_id().map(|u| u.as_uuid()),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct ClaimAccepted {
    pub claim_id: Uuid,
    pub lines: usize,
}

/// The merchant owner uploads its own receipts (CSV: receipt_number, basket, discount).
#[utoipa::path(post, path = "/settlement/v1/periods/{month}/merchants/{merchant}/claim", tag = "reconciliation",
    params(("month" = String, Path), ("merchant" = Uuid, Path)),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ClaimAccepted), (status = 422, description = "invalid_claim", body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn upload_claim(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath((m, merchant)): ApiPath<(String, Uuid)>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<ApiJson<ClaimAccepted>> {
    merchant_scope(&user, merchant, &[Role::MerchantOwner])?;
    let month = month::parse(&m)?;
    let lines = reconcile::parse_claim(&body)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    super::period(&mut tx, month).await?;
    let id = rdb::save_claim(
        &mut tx,
        user.town(),
        month,
        merchant,
        user.user_id().map(|u| u.as_uuid()),
        &lines,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiJson(ClaimAccepted {
        claim_id: id,
        lines: lines.len(),
    }))
}

/// Statement against the newest claim, per receipt, with the decisions taken.
#[utoipa::path(get, path = "/settlement/v1/periods/{month}/merchants/{merchant}/reconciliation", tag = "reconciliation",
    params(("month" = String, Path), ("merchant" = Uuid, Path)),
    responses((status = 200, body = Reconciliation), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_reconciliation(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath((m, merchant)): ApiPath<(String, Uuid)>,
) -> ApiResult<ApiJson<Reconciliation>> {
    merchant_scope(
        &user,
        merchant,
        &[Role::TownAdmin, Role::Auditor, Role::MerchantOwner],
    )?;
    let month = month::parse(&m)?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    super::period(&mut tx, month).await?;
    let r = rdb::compare(&mut tx, month, merchant).await?;
    tx.commit().await?;
    Ok(ApiJson(r))
}

#[derive(Deserialize, ToSchema)]
pub struct Decision {
    /// `accept`, `reject` or `adjust`.
    pub decision: String,
    /// For `adjust`: the discount agreed for the receipt, e.g. `"2.50"`. The
    /// difference to what was booked is posted in the first open period.
    pub amount: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// The town admin resolves one difference; the decision is recorded. `adjust` posts
/// the correction to the ledger (once: a different decision afterwards is a 409).
#[utoipa::path(put, path = "/settlement/v1/periods/{month}/merchants/{merchant}/reconciliation/{receipt}",
    tag = "reconciliation",
    params(("month" = String, Path), ("merchant" = Uuid, Path), ("receipt" = String, Path)),
    request_body = Decision,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 409, description = "adjustment_already_posted, ledger_insufficient_balance", body = ErrorBody)),
    security(("bearer" = [])))]
async fn decide_difference(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath((m, merchant, receipt)): ApiPath<(String, Uuid, String)>,
    ApiJson(d): ApiJson<Decision>,
) -> ApiResult<axum::http::StatusCode> {
    user.require(&[Role::TownAdmin])?;
    let month = month::parse(&m)?;
    let agreed = match (d.decision.as_str(), d.amount.as_deref()) {
        ("adjust", Some(a)) => {
            let a = Money::parse(a)
                .map_err(|e| ApiError::unprocessable("invalid_amount", e.to_string()))?;
            if a.is_negative() {
                return Err(ApiError::unprocessable(
                    "invalid_amount",
                    "the agreed discount cannot be negative",
                ));
            }
            Some(a)
        }
        ("adjust", None) => {
            return Err(ApiError::unprocessable(
                "amount_required",
                "an adjustment needs an amount",
            ));
        }
        ("accept" | "reject", _) => None,
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_decision",
                "decide accept, reject or adjust",
            ));
        }
    };
    if d.note.len() > 500 {
        return Err(ApiError::unprocessable(
            "invalid_note",
            "a note has at most 500 characters",
        ));
    }
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    super::period(&mut tx, month).await?;
    let r = rdb::compare(&mut tx, month, merchant).await?;
    if !r
        .items
        .iter()
        .any(|i| i.receipt_number == receipt && i.status != "matched")
    {
        return Err(ApiError::not_found(
            "difference_not_found",
            "no difference for this receipt",
        ));
    }
    let amount = agreed.map(Money::amount);
    // An adjustment moves money once; repeating the same decision is a replay.
    let replay = adjust::check_final(&mut tx, month, merchant, &receipt, amount).await?;
    if let (false, Some(agreed_discount)) = (replay, agreed) {
        adjust::post(
            &mut tx,
            &adjust::Request {
                town: user.town(),
                month,
                merchant,
                receipt: &receipt,
                agreed_discount,
                note: &d.note,
                by: user.user_id().map(|u| u.as_uuid()),
            },
        )
        .await?;
    }
    rdb::decide(
        &mut tx,
        user.town(),
        month,
        merchant,
        &receipt,
        &d.decision,
        amount,
        &d.note,
        user.user_id().map(|u| u.as_uuid()),
    )
    .await?;
    tx.commit().await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
