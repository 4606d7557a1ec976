use axum::extract::State;
use kernel::Role;
use platform::error::{ApiJson, ErrorBody};
use platform::{ApiResult, AuthUser, Context, db};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts))
        .routes(routes!(audit_ledger))
}

#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct AccountBalance {
    pub id: uuid::Uuid,
    pub kind: String,
    pub name: String,
    pub currency: String,
    #[schema(value_type = String)]
    pub balance: rust_decimal::Decimal,
}

#[derive(Serialize, ToSchema)]
pub struct AuditResult {
    pub clean: bool,
    pub transactions: u64,
    pub accounts: u64,
    /// The first broken rows, named.
    pub findings: Vec<String>,
}

/// The town's ledger accounts with their balances.
#[utoipa::path(get, path = "/settlement/v1/accounts", tag = "ledger",
    responses((status = 200, body = Vec<AccountBalance>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_accounts(
    State(ctx): State<Context>,
    user: AuthUser,
) -> ApiResult<ApiJson<Vec<AccountBalance>>> {
    user.require(&[Role::TownAdmin, Role::Auditor])?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let rows = sqlx::query_as::<_, AccountBalance>(
        "SELECT a.id, a.kind, a.name, a.currency, coalesce(sum(b.balance), 0) AS balance
         FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id
         GROUP BY a.id ORDER BY a.kind, a.name",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ApiJson(rows))
}

/// Verifies the town's journal: hash chains, zero sums, stored balances.
#[utoipa::path(get, path = "/settlement/v1/audit", tag = "ledger",
    responses((status = 200, body = AuditResult), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn audit_ledger(
    State(ctx): State<Context>,
    user: AuthUser,
) -> ApiResult<ApiJson<AuditResult>> {
    user.require(&[Role::TownAdmin, Role::Auditor])?;
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let report = ledger::audit_town(&mut tx, user.town()).await?;
    tx.commit().await?;
    Ok(ApiJson(AuditResult {
        clean: report.is_clean(),
        transactions: report.transactions,
        accounts: report.accounts,
        findings: report.findings.into_iter().map(|f| f.message).collect(),
    }))
}
