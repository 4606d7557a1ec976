//! Downloads of a period, each with its SHA-256 (`X-Content-SHA256`, `Repr-Digest`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use kernel::{MerchantId, Role};
use platform::error::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use platform::{ApiError, ApiResult, AuthUser, Context, db};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::console::i18n::Lang;
use crate::domain::export::{self, Download};
use crate::domain::month;

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new()
        .routes(routes!(list_downloads))
        .routes(routes!(get_download))
}

#[derive(Serialize, ToSchema)]
pub struct DownloadLink {
    pub name: String,
    pub url: String,
}

/// The downloads of a period the caller may fetch.
#[utoipa::path(get, path = "/settlement/v1/periods/{month}/downloads", tag = "downloads",
    params(("month" = String, Path)),
    responses((status = 200, body = Vec<DownloadLink>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_downloads(
    State(_ctx): State<Context>,
    user: AuthUser,
    ApiPath(m): ApiPath<String>,
) -> ApiResult<ApiJson<Vec<DownloadLink>>> {
    user.require(&[Role::TownAdmin, Role::Auditor, Role::MerchantOwner])?;
    let month = month::label(month::parse(&m)?);
    let names: Vec<Download> = match user.merchant() {
        Some(mid) => vec![
            Download::MerchantPdf(mid.as_uuid()),
            Download::MerchantCsv(mid.as_uuid()),
        ],
        None => Download::TOWN.to_vec(),
    };
    Ok(ApiJson(
        names
            .into_iter()
            .map(|d| DownloadLink {
                url: format!("/settlement/v1/periods/{month}/downloads/{}", d.name()),
                name: d.name(),
            })
            .collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// `sl` (default), `en` or `it`, for headers and labels.
    pub lang: Option<String>,
}

/// One download: redemptions.csv, redemptions-rfc4180.csv, statements.xlsx,
/// summary.pdf, payout.xml, merchant-{id}.pdf, merchant-{id}.csv.
#[utoipa::path(get, path = "/settlement/v1/periods/{month}/downloads/{name}", tag = "downloads",
    params(("month" = String, Path), ("name" = String, Path), DownloadQuery),
    responses((status = 200, description = "the file; X-Content-SHA256 carries its digest"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "period_open (payout.xml), report_not_reproducible", body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_download(
    State(ctx): State<Context>,
    user: AuthUser,
    ApiPath((m, name)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<DownloadQuery>,
) -> ApiResult<Response> {
    let d = Download::parse(&name)
        .ok_or_else(|| ApiError::not_found("download_not_found", "no such download"))?;
    match d.merchant() {
        Some(mid) => {
            user.require(&[Role::TownAdmin, Role::Auditor, Role::MerchantOwner])?
                .require_merchant(MerchantId::from_uuid(mid))?;
        }
        None => {
            user.require(&[Role::TownAdmin, Role::Auditor])?;
        }
    }
    let month = month::parse(&m)?;
    let lang = Lang::parse(q.lang.as_deref());
    let mut tx = db::begin_town(&ctx.db, user.town()).await?;
    let period = super::period(&mut tx, month).await?;
    let report = export::render(&mut tx, user.town(), &period, d, lang).await?;
    tx.commit().await?;
    let file = tokio::fs::File::open(&report.path)
        .await
        .map_err(ApiError::internal)?;
    let stream = futures::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let digest_b64 = base64::engine::general_purpose::STANDARD
        .encode(hex::decode(&report.sha256).unwrap_or_default());
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    let val = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("-"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(report.content_type),
    );
    h.insert(header::CONTENT_LENGTH, val(report.bytes.to_string()));
    h.insert(
        header::CONTENT_DISPOSITION,
        val(format!("attachment; filename=\"{}\"", report.filename)),
    );
    h.insert("x-content-sha256", val(report.sha256.clone()));
    h.insert("repr-digest", val(format!("sha-256=:{digest_b64}:")));
    // The path is unlinked when `report` drops; the open file keeps streaming.
    drop(report);
    Ok(resp)
}
