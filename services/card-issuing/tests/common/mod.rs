//! Shared test setup: the real router on a free port, a per-test database, towns.
#![allow(dead_code)]

use kernel::{MerchantId, Role, TownId};
use platform::Context;
use platform::testing::{context, make_town, spawn, token};
use reqwest::{Client, Response};
use serde_json::{Value, json};
use sqlx::PgPool;

pub struct App {
    pub url: String,
    pub ctx: Context,
    pub http: Client,
}

pub async fn app(pool: &PgPool) -> App {
    let ctx = context(pool).await;
    let url = spawn(platform::serve::app(card_issuing::router(), ctx.clone())).await;
    App {
        url,
        ctx,
        http: Client::new(),
    }
}

/// A town with the demo-like products KC48 (48 h, with a free museum entry) and RES.
pub async fn town(pool: &PgPool, slug: &str, code: i16) -> TownId {
    let town = make_town(pool, slug, code).await;
    for (c, kind, hours) in [("KC48", "tourist_hours", Some(48)), ("RES", "annual", None)] {
        let id = uuid::Uuid::now_v7();
        sqlx::query(
            "INSERT INTO card_products (id, town_id, code, names, kind, validity_hours, price)
             VALUES ($1, $2, $3, $4, $5, $6, 22.00)",
        )
        .bind(id)
        .bind(town.as_uuid())
        .bind(c)
        .bind(json!({"sl": format!("{c} kartica"), "en": format!("{c} card"), "it": format!("Carta {c}")}))
        .bind(kind)
        .bind(hours)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        if c == "KC48" {
            sqlx::query(
                "INSERT INTO product_benefits (id, town_id, product_id, names, uses, position)
                 VALUES ($1, $2, $3, $4, 1, 0)",
            )
            .bind(uuid::Uuid::now_v7())
            .bind(town.as_uuid())
            .bind(id)
            .bind(json!({"sl": "Pokrajinski muzej: vstop", "en": "Regional museum: entry", "it": "Museo regionale: ingresso"}))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    town
}

impl App {
    pub fn bearer(&self, role: Role, town: TownId) -> String {
        let merchant = role.is_merchant_role().then(MerchantId::new);
        format!("Bearer {}", token(&self.ctx, role, town, merchant))
    }

    pub async fn get(&self, auth: &str, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.url))
            .header("authorization", auth)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn post(&self, auth: &str, path: &str, body: Value) -> Response {
        self.http
            .post(format!("{}{path}", self.url))
            .header("authorization", auth)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Issues one card as a TIC operator and returns its JSON.
    pub async fn issue(&self, town: TownId, product: &str) -> Value {
        let auth = self.bearer(Role::TicOperator, town);
        let r = self
            .post(&auth, "/issuing/v1/cards", json!({"product_code": product, "holder_name": "Ana Novak", "holder_email": "ana@example.si", "holder_lang": "sl"}))
            .await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn token_of(&self, town: TownId, number: &str) -> String {
        let auth = self.bearer(Role::TicOperator, town);
        let r = self
            .get(&auth, &format!("/issuing/v1/cards/{number}/token"))
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap_or_else(|e| panic!("{e}"));
        v["token"].as_str().unwrap_or_default().to_owned()
    }

    /// POSTs a token to the verify endpoint as merchant staff; returns (status, body).
    pub async fn verify(&self, town: TownId, token: &str) -> (u16, Value) {
        let auth = self.bearer(Role::MerchantStaff, town);
        let r = self
            .post(
                &auth,
                "/issuing/v1/tokens/verify",
                json!({ "token": token }),
            )
            .await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

pub fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}
