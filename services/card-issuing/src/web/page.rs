use std::fmt::Write;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kernel::CardNumber;
use platform::error::{ApiPath, ApiQuery};
use platform::{ApiError, ApiResult, Context, db};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::i18n::{Lang, Words, status, words};
use crate::domain::qr::{self, escape};
use crate::domain::{issue, keys, lifecycle};

pub fn router() -> OpenApiRouter<Context> {
    OpenApiRouter::new().routes(routes!(show_card_page))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// sl, en or it (default: the holder's language, then Accept-Language, then sl).
    pub lang: Option<String>,
}

fn plausible(code: &str) -> bool {
    (8..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The visitor's card page: QR, number, validity, benefits, points, offers.
#[utoipa::path(get, path = "/c/{code}", tag = "visitor page",
    params(("code" = String, Path, description = "the card's page code (not its number)"), PageQuery),
    responses((status = 200, description = "HTML page", content_type = "text/html", body = String),
              (status = 404, description = "no such card", content_type = "text/html", body = String)))]
async fn show_card_page(
    State(ctx): State<Context>,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let asked = q.lang.as_deref().and_then(Lang::parse);
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept);
    let town = if plausible(&code) {
        let mut conn = ctx.db.acquire().await?;
        crate::db::towns::of_page_code(&mut conn, &code).await?
    } else {
        None
    };
    let Some(town) = town else {
        return Ok(html(
            StatusCode::NOT_FOUND,
            &not_found(asked.or(accept).unwrap_or(Lang::Sl)),
        ));
    };
    let mut tx = db::begin_town(&ctx.db, town).await?;
    let card = crate::db::cards::by_page_code(&mut tx, &code)
        .await?
        .ok_or_else(|| ApiError::not_found("card_not_found", "no such card"))?;
    let lang = asked
        .or_else(|| card.holder_lang.as_deref().and_then(Lang::parse))
        .or(accept)
        .unwrap_or(Lang::Sl);
    let town_row = crate::db::towns::by_id(&mut tx, town)
        .await?
        .ok_or_else(|| ApiError::internal("card without town"))?;
    let product = crate::db::products::by_id(&mut tx, card.product_id)
        .await?
        .ok_or_else(|| ApiError::internal("card without product"))?;
    let benefits = crate::db::benefits::for_products(&mut tx, &[product.id]).await?;
    let uses = crate::db::benefits::uses_for_card(&mut tx, card.id).await?;
    let points = crate::db::cards::points(&mut tx, card.id).await?;
    let promotions = crate::db::promotions::current(&mut tx, &product.code).await?;
    let merchants = crate::db::promotions::merchants(&mut tx, &product.code).await?;
    let (kid, key) = keys::signer(&mut tx, town, &crate::routes::kek(&ctx)?).await?;
    tx.commit().await?;

    let w = words(lang);
    let now = Utc::now();
    let number = CardNumber::parse(&card.number)
        .map(|n| n.to_string())
        .unwrap_or(card.number.clone());
    let state = lifecycle::effective_status(&card, now);
    let token = issue::token(town_row.code(), card.id, card.token_serial, &kid, &key);
    let qr_svg = if matches!(state, "issued" | "active") {
        qr::svg(&token, &number, 280).map_err(ApiError::internal)?
    } else {
        String::new()
    };
    let name = product
        .names
        .get(lang.code())
        .and_then(|v| v.as_str())
        .unwrap_or(&product.code);

    let mut body = String::with_capacity(8192);
    let _ = write!(
        body,
        "<header><p class=town>{}</p><h1>{}</h1></header><section class=\"qr {state}\">{qr_svg}<p class=hint>{}</p></section>",
        escape(&town_row.name),
        escape(name),
        if qr_svg.is_empty() { "" } else { w.show_qr }
    );
    let _ = write!(
        body,
        "<dl><dt>{}</dt><dd class=num>{}</dd><dt>{}</dt><dd class=\"st {state}\">{}</dd>",
        w.card,
        escape(&number),
        w.status,
        status(lang, state)
    );
    match card.expires_at {
        Some(e) => {
            let _ = write!(
                body,
                "<dt>{}</dt><dd>{}</dd>",
                w.valid_until,
                e.format("%d. %m. %Y %H:%M UTC")
            );
            if e > now && state == "active" {
                let _ = write!(
                    body,
                    "<dt>{}</dt><dd>{}</dd>",
                    w.remaining,
                    remaining(w, e - now)
                );
            }
        }
        None => {
            let _ = write!(
                body,
                "<dt>{}</dt><dd>{}</dd>",
                w.valid_until, w.starts_at_first_use
            );
        }
    }
    let _ = write!(body, "<dt>{}</dt><dd>{points}</dd></dl>", w.points);

    let _ = write!(body, "<h2>{}</h2><ul class=benefits>", w.benefits);
    if benefits.is_empty() {
        let _ = write!(body, "<li>{}</li>", w.none);
    }
    for b in &benefits {
        let used = uses
            .iter()
            .find(|(id, _)| *id == b.id)
            .map(|(_, n)| *n)
            .unwrap_or(0);
        let done = used >= i64::from(b.uses);
        let label = b
            .names
            .get(lang.code())
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let _ = write!(
            body,
            "<li class=\"{}\"><span>{}</span><b>{}</b></li>",
            if done { "used" } else { "free" },
            escape(label),
            if done { w.used } else { w.unused }
        );
    }
    let _ = write!(body, "</ul><h2>{}</h2><ul>", w.promotions);
    if promotions.is_empty() {
        let _ = write!(body, "<li>{}</li>", w.none);
    }
    for p in &promotions {
        let _ = write!(
            body,
            "<li><b>{}</b><br><small>{}</small></li>",
            escape(&p.name),
            escape(&p.description)
        );
    }
    let _ = write!(body, "</ul><h2>{}</h2><ul class=merchants>", w.merchants);
    if merchants.is_empty() {
        let _ = write!(body, "<li>{}</li>", w.none);
    }
    for (m, category) in &merchants {
        let _ = write!(
            body,
            "<li>{} <small>{}</small></li>",
            escape(m),
            escape(category)
        );
    }
    body.push_str("</ul>");
    let _ = write!(body, "<nav>{}</nav>", langs(&code, lang));
    Ok(html(StatusCode::OK, &document(lang, name, &body)))
}

fn remaining(w: &Words, d: chrono::TimeDelta) -> String {
    let mins = d.num_minutes().max(0);
    let (days, hours, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    if days > 0 {
        format!("{days} {} {hours} {}", w.days, w.hours)
    } else {
        format!("{hours} {} {m} {}", w.hours, w.minutes)
    }
}

fn langs(code: &str, current: Lang) -> String {
    [Lang::Sl, Lang::En, Lang::It]
        .iter()
        .map(|l| {
            if *l == current {
                format!("<b>{}</b>", l.code().to_uppercase())
            } else {
                format!(
                    "<a href=\"/c/{code}?lang={0}\">{1}</a>",
                    l.code(),
                    l.code().to_uppercase()
                )
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn not_found(lang: Lang) -> String {
    document(
        lang,
        "towncard",
        &format!("<h1>{}</h1>", words(lang).not_found),
    )
}

const CSS: &str = "*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2733;background:#eef3f7}\
main{max-width:480px;margin:0 auto;padding:16px}header{background:#0b5c8e;color:#fff;border-radius:16px 16px 0 0;padding:16px 20px}\
header h1{margin:0;font-size:1.4rem}.town{margin:0;opacity:.85;font-size:.9rem}\
.qr{background:#fff;padding:16px;text-align:center;border-radius:0 0 16px 16px;box-shadow:0 2px 8px #0001}.qr svg{width:100%;max-width:300px;height:auto}\
.hint{margin:4px 0 0;color:#55606b;font-size:.9rem}dl{display:grid;grid-template-columns:auto 1fr;gap:6px 12px;background:#fff;border-radius:12px;padding:14px 16px;margin:16px 0}\
dt{color:#55606b}dd{margin:0;font-weight:600}.num{font-family:ui-monospace,Menlo,monospace;letter-spacing:.05em}.st.active{color:#137333}.st.suspended,.st.expired,.st.replaced{color:#b3261e}\
h2{font-size:1.05rem;margin:20px 4px 8px}ul{list-style:none;margin:0;padding:0;background:#fff;border-radius:12px}\
li{padding:10px 16px;border-bottom:1px solid #e3e8ed}li:last-child{border:0}.benefits li{display:flex;justify-content:space-between;gap:8px}\
li.free b{color:#137333}li.used{color:#8a949e;text-decoration:line-through}li.used b{text-decoration:none}small{color:#55606b}\
nav{text-align:center;margin:20px 0;color:#55606b}nav a{color:#0b5c8e}";

fn document(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title><style>{CSS}</style></head><body><main>{body}</main></body></html>",
        lang.code(),
        escape(title)
    )
}

fn html(status: StatusCode, doc: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            ),
        ],
        doc.to_owned(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_codes_are_checked_before_any_lookup() {
        assert!(plausible("abcDEF123_-xyz"));
        assert!(!plausible("short"));
        assert!(!plausible("has space in it"));
        assert!(!plausible(&"x".repeat(65)));
        let w = words(Lang::En);
        assert_eq!(
            remaining(w, chrono::TimeDelta::minutes(49 * 60 + 5)),
            "2 d 1 h"
        );
        assert_eq!(remaining(w, chrono::TimeDelta::minutes(65)), "1 h 5 min");
    }
}
