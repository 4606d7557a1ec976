//! Payout: the town admin marks a closed period paid with the bank's reference.

use axum::extract::State;
use kernel::Role;
use platform::error::{ApiJson, ApiPath, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::month;
use crate::domain::payout::{self, PayoutLine};

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(pay_period))
}

#[derive(Deserialize, ToSchema)]
pub struct PayRequest {
    /// The bank's reference of the executed payment order.
    pub bank_reference: String,
}

#[derive(Serialize, ToSchema)]
pub struct PayResult {
    pub month: String,
    pub status: String,
    pub payouts: Vec<PayoutLine>,
}

/// Marks the period paid and posts the payouts that clear the merchants' receivables.
#[utoipa::path(post, path = "/settlement/v1/periods/{month}/payout", tag = "payout",
    params(("month" = String, Path)), request_body = PayRequest,
    responses((status = 200, body = PayResult), (status = 403, body = ErrorBody),
              (status = 409, description = "period_open, period_already_paid", body = ErrorBody)),
    security(("bearer" = [])))]
async fn pay_period(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath(m): ApiPath<String>,
    ApiJson(req): ApiJson<PayRequest>,
) -> ApiResult<ApiJson<PayResult>> {
    user.require(&[Role::TownAdmin])?;
    let month = month::parse(&m)?;
    let reference = req.bank_reference.trim();
    if reference.is_empty() || reference.len() > 100 {
        return Err(ApiError::unprocessable(
            "invalid_bank_reference",
            "a bank reference is 1 to 100 characters",
        ));
    }
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let lines = payout::pay(&mut tx, user.town(), month, reference).await?;
    tx.commit().await?;
    Ok(ApiJson(PayResult {
        month: month::label(month),
        status: "paid".into(),
        payouts: lines,
    }))
}
