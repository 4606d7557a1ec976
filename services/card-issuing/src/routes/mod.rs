use kernel::{CardNumber, Role};
use platform::{ApiError, ApiResult, AuthUser, Context};
use sqlx::PgConnection;
use utoipa_axum::router::OpenApiRouter;

use crate::db::{self, towns::TownRow};
use crate::domain::issue::Actor;

mod batch;
mod benefits;
mod cards;
mod keys;
mod lifecycle;
mod products;
mod qr;
mod verify;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .merge(products::router())
        .merge(cards::router())
        .merge(qr::router())
        .merge(lifecycle::router())
        .merge(batch::router())
        .merge(keys::router())
        .merge(verify::router())
        .merge(benefits::router())
}

/// Who may issue and change cards.
pub(crate) const OPERATORS: &[Role] = &[Role::TicOperator, Role::TownAdmin];
/// Who may look at cards.
pub(crate) const READERS: &[Role] = &[Role::TicOperator, Role::TownAdmin, Role::Auditor];

pub(crate) fn parse_number(s: &str) -> ApiResult<CardNumber> {
    CardNumber::parse(s).map_err(|e| ApiError::bad_request("card_number_invalid", e.to_string()))
}

/// The caller's town (its code is the card numbers' prefix).
pub(crate) async fn town(conn: &mut PgConnection, user: &AuthUser) -> ApiResult<TownRow> {
    db::towns::by_id(conn, user.town())
        .await?
        .ok_or_else(|| ApiError::forbidden("unknown_town", "the token's town does not exist"))
}

/// A card of the caller's town by its printed number; another town's card is not found.
pub(crate) async fn card(
    conn: &mut PgConnection,
    number: &str,
    for_update: bool,
) -> ApiResult<db::cards::CardRow> {
    let number = parse_number(number)?;
    let row = if for_update {
        db::cards::by_number_for_update(conn, &number.digits()).await?
    } else {
        db::cards::by_number(conn, &number.digits()).await?
    };
    row.ok_or_else(|| ApiError::not_found("card_not_found", "no such card in this town"))
}

pub(crate) struct Who {
    pub id: String,
    pub role: &'static str,
    pub user: Option<uuid::Uuid>,
}

impl Who {
    pub fn of(user: &AuthUser) -> Who {
        Who {
            id: user.0.sub.clone(),
            role: user.role().as_str(),
            user: user.0.sub.parse().ok(),
        }
    }

    pub fn actor(&self) -> Actor<'_> {
        Actor {
            id: &self.id,
            role: self.role,
            user: self.user,
        }
    }
}

pub(crate) fn kek(ctx: &Context) -> ApiResult<crate::domain::keys::Kek> {
    crate::domain::keys::Kek::from_settings(&ctx.settings)
}

pub(crate) fn page_url(ctx: &Context, code: &str) -> String {
    format!(
        "{}/c/{code}",
        ctx.settings.server.public_url.trim_end_matches('/')
    )
}
