//! Shared test fixtures: a town with a QR key, a card product, cards, a merchant
//! in a funded promotion, and HTTP helpers against the real router.

#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use kernel::{CardId, CardNumber, MerchantId, Role, TownId};
use platform::Context;
use platform::testing::{make_merchant, make_town, token};
use reqwest::{Client, Response};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

pub struct Town {
    pub id: TownId,
    pub code: u16,
    pub key: SigningKey,
    pub kid: String,
    pub product: Uuid,
}

pub async fn town(admin: &PgPool, slug: &str, code: i16) -> Town {
    let id = make_town(admin, slug, code).await;
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let kid = format!("k{code}");
    sqlx::query("INSERT INTO town_keys (kid, town_id, public_key) VALUES ($1, $2, $3)")
        .bind(&kid)
        .bind(id.as_uuid())
        .bind(key.verifying_key().as_bytes().to_vec())
        .execute(admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let product = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO card_products (id, town_id, code, names, kind, validity_hours)
         VALUES ($1, $2, 'KC48', '{}', 'tourist_hours', 48)",
    )
    .bind(product)
    .bind(id.as_uuid())
    .execute(admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    Town {
        id,
        code: code as u16,
        key,
        kid,
        product,
    }
}

pub struct Card {
    pub id: Uuid,
    pub number: String,
    pub token: String,
}

/// Inserts `n` active cards starting at `first` serial and returns their tokens.
pub async fn cards(admin: &PgPool, t: &Town, first: u32, n: u32) -> Vec<Card> {
    let mut out = Vec::new();
    for serial in first..first + n {
        let id = Uuid::now_v7();
        let number = CardNumber::new(t.code, serial)
            .unwrap_or_else(|e| panic!("{e}"))
            .digits();
        sqlx::query(
            "INSERT INTO cards (id, town_id, product_id, serial, number, status, page_code, activated_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, 'active', $6, now(), now() + interval '48 hours')",
        )
        .bind(id)
        .bind(t.id.as_uuid())
        .bind(t.product)
        .bind(serial as i32)
        .bind(&number)
        .bind(id.simple().to_string())
        .execute(admin)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let claim = cardtoken::Claim {
            town_code: t.code,
            card_id: CardId::from_uuid(id),
            token_serial: 1,
        };
        out.push(Card {
            id,
            number,
            token: cardtoken::encode(&claim, &t.kid, &t.key),
        });
    }
    out
}

/// A promotion (inserted as the owner) with `rules`, co-financing `pct`, a
/// funded budget, and `merchants` approved.
pub async fn promotion(
    admin: &PgPool,
    t: &Town,
    rules: Value,
    pct: &str,
    budget: &str,
    merchants: &[MerchantId],
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO promotions (id, town_id, name, co_financing_percent, rules, starts_on, ends_on)
         VALUES ($1, $2, 'Razvajaj se', $3::numeric, $4, current_date - 1, current_date + 30)",
    )
    .bind(id)
    .bind(t.id.as_uuid())
    .bind(pct)
    .bind(rules)
    .execute(admin)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    for m in merchants {
        sqlx::query("INSERT INTO promotion_merchants (town_id, promotion_id, merchant_id, status) VALUES ($1, $2, $3, 'approved')")
            .bind(t.id.as_uuid())
            .bind(id)
            .bind(m.as_uuid())
            .execute(admin)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    if budget != "0" {
        fund(admin, t.id, id, budget).await;
    }
    id
}

pub async fn fund(admin: &PgPool, town: TownId, promo: Uuid, amount: &str) {
    let mut conn = admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    let amount = kernel::Money::parse(amount).unwrap_or_else(|e| panic!("{e}"));
    merchant_redemption::service::postings::fund_budget(
        &mut conn,
        town,
        promo,
        amount,
        &format!("fund:{promo}"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

pub async fn balance(
    admin: &PgPool,
    town: TownId,
    kind: ledger::AccountKind,
    owner: Option<Uuid>,
) -> rust_decimal::Decimal {
    let mut conn = admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    match ledger::find_account(&mut conn, town, kind, owner)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    {
        Some(a) => ledger::balance_of(&mut conn, a)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None => rust_decimal::Decimal::ZERO,
    }
}

pub async fn audit_clean(admin: &PgPool) {
    let mut conn = admin.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    let report = ledger::audit(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.findings.is_empty(), "audit: {:?}", report.findings);
}

pub struct Api {
    pub base: String,
    pub http: Client,
}

impl Api {
    pub fn new(base: String) -> Api {
        Api {
            base,
            http: Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        }
    }

    /// Builds the request now, so the future borrows nothing.
    pub fn post(
        &self,
        path: &str,
        bearer: &str,
        key: Option<&str>,
        body: Value,
    ) -> impl Future<Output = Response> + use<> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(bearer)
            .json(&body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        async move { req.send().await.unwrap_or_else(|e| panic!("{e}")) }
    }

    pub fn get(&self, path: &str, bearer: &str) -> impl Future<Output = Response> + use<> {
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(bearer);
        async move { req.send().await.unwrap_or_else(|e| panic!("{e}")) }
    }

    pub fn redeem(
        &self,
        bearer: &str,
        key: &str,
        card: &Card,
        promo: Uuid,
        basket: &str,
    ) -> impl Future<Output = Response> + use<> {
        self.post(
            "/redemption/v1/redemptions",
            bearer,
            Some(key),
            json!({"token": card.token, "promotion_id": promo, "basket": basket}),
        )
    }
}

pub async fn json_of(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// The real app (platform middleware + this router) on a free port.
pub async fn serve(ctx: &Context, config: merchant_redemption::Config) -> Api {
    let app = platform::serve::app(merchant_redemption::router_with(config), ctx.clone());
    Api::new(platform::testing::spawn(app).await)
}

pub async fn merchant_with_token(
    admin: &PgPool,
    ctx: &Context,
    t: &Town,
    name: &str,
    role: Role,
) -> (MerchantId, String) {
    let m = make_merchant(admin, t.id, name).await;
    (m, token(ctx, role, t.id, Some(m)))
}

/// No velocity limit in the way (tests run in parallel, all from 127.0.0.1).
pub fn unthrottled() -> merchant_redemption::Config {
    let fast = merchant_redemption::ratelimit::Rate {
        per_minute: 1_000_000,
        burst: 1_000_000,
    };
    merchant_redemption::Config {
        card_rate: fast,
        device_rate: fast,
        login_rate: fast,
        ..merchant_redemption::Config::default()
    }
}

/// A counter of this process's metrics (0 before it is first counted): the sum of
/// the series whose lines start with `prefix` (its name, and the start of its labels
/// to pick some).
pub fn metric(ctx: &Context, prefix: &str) -> u64 {
    ctx.metrics
        .render()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

pub struct Tablet {
    pub device: String,
    pub credential: String,
    pub session: String,
    pub staff: String,
}

/// A staff member `email` with `pin` at merchant `m`, and a one-time enrolment
/// code for a tablet of theirs, both made by the owner (`owner`'s bearer).
pub async fn staff_and_code(
    api: &Api,
    owner: &str,
    m: MerchantId,
    email: &str,
    pin: &str,
) -> (Value, Value) {
    let (s, staff) = json_of(
        api.post(
            &format!("/redemption/v1/merchants/{m}/staff"),
            owner,
            None,
            json!({"email": email, "display_name": "Ana", "password": "dolgo-geslo-1", "pin": pin}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{staff}");
    let (s, code) = json_of(
        api.post(
            &format!("/redemption/v1/merchants/{m}/enrolment-codes"),
            owner,
            None,
            json!({"device_name": "Blagajna 1"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{code}");
    (staff, code)
}

/// `staff_and_code`, then the tablet enrolled with the code and unlocked by the
/// staff member.
pub async fn tablet(api: &Api, owner: &str, m: MerchantId, email: &str, pin: &str) -> Tablet {
    let (staff, code) = staff_and_code(api, owner, m, email, pin).await;
    let (s, dev) = json_of(
        api.post(
            "/redemption/v1/devices/enrol",
            "",
            None,
            json!({"town": "koper", "code": code["code"]}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 201, "{dev}");
    let credential = dev["credential"].as_str().unwrap_or_default().to_owned();
    let (s, session) = json_of(unlock(api, &credential, email, pin).await).await;
    assert_eq!(s, 200, "{session}");
    Tablet {
        device: dev["device_id"].as_str().unwrap_or_default().to_owned(),
        credential,
        session: session["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        staff: staff["id"].as_str().unwrap_or_default().to_owned(),
    }
}

pub fn unlock(
    api: &Api,
    credential: &str,
    email: &str,
    pin: &str,
) -> impl Future<Output = reqwest::Response> + use<> {
    api.post(
        "/redemption/v1/devices/unlock",
        "",
        None,
        json!({"credential": credential, "email": email, "pin": pin}),
    )
}
