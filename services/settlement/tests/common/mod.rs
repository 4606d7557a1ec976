//! Shared setup: the real settlement router on a free port, a town with merchants,
//! promotions and a card, and redemptions recorded through the data generator.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use kernel::{MerchantId, Percent, Role, TownId};
use platform::Context;
use rust_decimal::Decimal;
use settlement::domain::generate::{self, Fixture, Recorded};
use sqlx::PgPool;

pub struct World {
    pub admin: PgPool,
    pub ctx: Context,
    pub base: String,
    pub town: TownId,
    pub fx: Fixture,
    pub http: reqwest::Client,
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

pub fn d(s: &str) -> Decimal {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A town (`slug`, `code`) with two merchants and two promotions (50 % and 0 %).
pub async fn world(admin: PgPool, slug: &str, code: i16) -> World {
    let ctx = platform::testing::context(&admin).await;
    let base =
        platform::testing::spawn(platform::serve::app(settlement::router(), ctx.clone())).await;
    let w = town_in(&admin, slug, code).await;
    World {
        admin,
        ctx,
        base,
        town: w.0,
        fx: w.1,
        http: reqwest::Client::new(),
    }
}

pub async fn town_in(admin: &PgPool, slug: &str, code: i16) -> (TownId, Fixture) {
    let town = platform::testing::make_town(admin, slug, code).await;
    let a = platform::testing::make_merchant(admin, town, "Kavarna Loggia").await;
    let b = platform::testing::make_merchant(admin, town, "Knjigarna Libris").await;
    let mut c = admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    let pcts = [Percent::parse("50").unwrap_or_default(), Percent::ZERO];
    let fx = generate::setup(
        &mut c,
        town,
        &[a.as_uuid(), b.as_uuid()],
        &pcts,
        d("1000.00"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    (town, fx)
}

impl World {
    pub fn token(&self, role: Role, merchant: Option<MerchantId>) -> String {
        platform::testing::token(&self.ctx, role, self.town, merchant)
    }

    pub fn admin_token(&self) -> String {
        self.token(Role::TownAdmin, None)
    }

    pub async fn redeem(
        &self,
        merchant: usize,
        promotion: usize,
        receipt: &str,
        when: &str,
        basket: &str,
        discount: &str,
    ) -> Recorded {
        let mut c = self.admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
        let sale = generate::Sale {
            merchant,
            promotion,
            receipt,
            at: at(when),
            basket: d(basket),
            discount: d(discount),
        };
        generate::redeem(&mut c, &self.fx, &sale)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn void(&self, r: &Recorded, when: &str) -> Recorded {
        let mut c = self.admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
        generate::void(&mut c, &self.fx, r, at(when))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn post(
        &self,
        token: &str,
        path: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A merchant's claim for the month: its own list of receipts, as CSV text.
    pub async fn claim(
        &self,
        token: &str,
        month: &str,
        merchant: uuid::Uuid,
        csv: impl Into<String>,
    ) -> reqwest::Response {
        self.http
            .post(format!(
                "{}/settlement/v1/periods/{month}/merchants/{merchant}/claim",
                self.base
            ))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv.into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn json(&self, token: &str, path: &str) -> serde_json::Value {
        let r = self.get(token, path).await;
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn close(&self, month: &str) -> reqwest::Response {
        self.post(
            &self.admin_token(),
            &format!("/settlement/v1/periods/{month}/close"),
            serde_json::json!({}),
        )
        .await
    }

    /// The download's bytes and its announced digest.
    pub async fn download(&self, token: &str, month: &str, name: &str) -> (Vec<u8>, String) {
        let r = self
            .get(
                token,
                &format!("/settlement/v1/periods/{month}/downloads/{name}"),
            )
            .await;
        assert_eq!(r.status(), 200, "{name}");
        let digest = r
            .headers()
            .get("x-content-sha256")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (
            r.bytes().await.unwrap_or_else(|e| panic!("{e}")).to_vec(),
            digest,
        )
    }

    /// Sum of the journal's entries on accounts of `kind` (all owners) for transactions of `kinds`.
    pub async fn journal_sum(&self, kind: &str) -> Decimal {
        sqlx::query_scalar(
            "SELECT coalesce(sum(e.amount), 0) FROM journal_entries e JOIN ledger_accounts a ON a.id = e.account_id
             JOIN journal_transactions t ON t.id = e.transaction_id
             WHERE a.town_id = $1 AND a.kind = $2 AND t.kind IN ('redemption', 'void', 'refund')",
        )
        .bind(self.town.as_uuid())
        .bind(kind)
        .fetch_one(&self.admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn status(&self, month: &str) -> String {
        sqlx::query_scalar(
            "SELECT status FROM settlement_periods WHERE town_id = $1 AND month = $2::date",
        )
        .bind(self.town.as_uuid())
        .bind(format!("{month}-01"))
        .fetch_one(&self.admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

pub fn dec(v: &serde_json::Value) -> Decimal {
    v.as_str()
        .map(d)
        .unwrap_or_else(|| panic!("not an amount: {v}"))
}
