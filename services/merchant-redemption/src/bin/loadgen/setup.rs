//! The bench town: QR key, cards, merchants, staff with PINs, enrolled and
//! unlocked tablets, funded promotions.

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use kernel::{CardId, CardNumber};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::Args;

const PASSWORD: &str = "bench-password-2026";
const PIN: &str = "2026";

pub struct Tablet {
    pub token: String,
    pub promotion: Uuid,
    pub cards: Vec<String>,
}

pub async fn tablets(
    admin: &PgPool,
    http: &reqwest::Client,
    args: &Args,
) -> anyhow::Result<Vec<Tablet>> {
    let code: i16 = sqlx::query_scalar("SELECT min(c)::smallint FROM generate_series(100, 999) c WHERE c NOT IN (SELECT code FROM towns)")
        .fetch_one(admin).await?;
    let town = Uuid::now_v7();
    let slug = format!("bench-{code}");
    sqlx::query("INSERT INTO towns (id, slug, code, name, iban) VALUES ($1, $2, $3, $2, 'SI56191000000123438')")
        .bind(town).bind(&slug).bind(code).execute(admin).await?;
    let mut conn = admin.acquire().await?;
    ledger::init_town(&mut conn, kernel::TownId::from_uuid(town)).await?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let kid = format!("b{code}");
    sqlx::query("INSERT INTO town_keys (kid, town_id, public_key) VALUES ($1, $2, $3)")
        .bind(&kid)
        .bind(town)
        .bind(key.verifying_key().as_bytes().to_vec())
        .execute(admin)
        .await?;
    let product = Uuid::now_v7();
    sqlx::query("INSERT INTO card_products (id, town_id, code, names, kind) VALUES ($1, $2, 'RES', '{}', 'annual')")
        .bind(product).bind(town).execute(admin).await?;

    let promotions = if args.mode == "hot" { 1 } else { args.tablets };
    let mut promo_ids = Vec::new();
    for p in 0..promotions {
        let id = Uuid::now_v7();
        let rules = json!({"benefit": {"kind": "percent", "value": "10"}, "max_discount": "20.00", "per_card_per_day": 1});
        sqlx::query("INSERT INTO promotions (id, town_id, name, co_financing_percent, rules, starts_on, ends_on)
                     VALUES ($1, $2, $3, 50, $4, current_date - 1, current_date + 30)")
            .bind(id).bind(town).bind(format!("Bench {p}")).bind(rules).execute(admin).await?;
        merchant_redemption::service::postings::fund_budget(
            &mut conn,
            kernel::TownId::from_uuid(town),
            id,
            kernel::Money::from_cents(1_000_000_000),
            &format!("bench-fund:{id}"),
        )
        .await?;
        promo_ids.push(id);
    }
    let hash = platform::password::hash(PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pin_hash = platform::password::hash(PIN).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tablets = Vec::new();
    for i in 0..args.tablets {
        let merchant = Uuid::now_v7();
        sqlx::query("INSERT INTO merchants (id, town_id, name, iban) VALUES ($1, $2, $3, 'SI56191000000123438')")
            .bind(merchant).bind(town).bind(format!("Shop {i}")).execute(admin).await?;
        let promotion = promo_ids[i % promo_ids.len()];
        sqlx::query("INSERT INTO promotion_merchants (town_id, promotion_id, merchant_id, status) VALUES ($1, $2, $3, 'approved')")
            .bind(town).bind(promotion).bind(merchant).execute(admin).await?;
        let email = format!("till{i}@{slug}.bench");
        sqlx::query("INSERT INTO staff_users (id, town_id, merchant_id, email, display_name, role, password_hash, pin_hash)
                     VALUES ($1, $2, $3, $4, $4, 'merchant_staff', $5, $6)")
            .bind(Uuid::now_v7()).bind(town).bind(merchant).bind(&email).bind(&hash).bind(&pin_hash)
            .execute(admin).await?;
        // A real tablet: enrolled (its credential's hash stored, as enrolment does),
        // then unlocked with a PIN; its session names the device, whose own rate
        // limit and standing every scan and redeem checks.
        let device = Uuid::now_v7();
        let secret: [u8; 32] = rand::random();
        let credential = format!("{town}.{device}.{}", hex::encode(secret));
        sqlx::query("INSERT INTO devices (id, town_id, merchant_id, name, credential_hash) VALUES ($1, $2, $3, $4, $5)")
            .bind(device).bind(town).bind(merchant).bind(format!("Till {i}"))
            .bind(Sha256::digest(credential.as_bytes()).to_vec())
            .execute(admin).await?;
        let unlocked: Value = http
            .post(format!("{}/redemption/v1/devices/unlock", args.url))
            .json(&json!({"credential": credential, "email": email, "pin": PIN}))
            .send()
            .await?
            .json()
            .await?;
        let token = unlocked["access_token"]
            .as_str()
            .with_context(|| format!("unlock failed: {unlocked}"))?
            .to_owned();
        let first = (i * args.cards + 1) as u32;
        let cards = insert_cards(
            admin,
            town,
            product,
            code as u16,
            first,
            args.cards,
            &kid,
            &key,
        )
        .await?;
        tablets.push(Tablet {
            token,
            promotion,
            cards,
        });
    }
    Ok(tablets)
}

#[allow(clippy::too_many_arguments)]
async fn insert_cards(
    admin: &PgPool,
    town: Uuid,
    product: Uuid,
    code: u16,
    first: u32,
    n: usize,
    kid: &str,
    key: &SigningKey,
) -> anyhow::Result<Vec<String>> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let serials: Vec<i32> = (0..n).map(|i| first as i32 + i as i32).collect();
    let numbers = serials
        .iter()
        .map(|s| CardNumber::new(code, *s as u32).map(|c| c.digits()))
        .collect::<Result<Vec<_>, _>>()?;
    let pages: Vec<String> = ids.iter().map(|i| i.simple().to_string()).collect();
    sqlx::query("INSERT INTO cards (id, town_id, product_id, serial, number, status, page_code)
                 SELECT i, $1, $2, s, n, 'active', p FROM UNNEST($3::uuid[], $4::int[], $5::text[], $6::text[]) AS u(i, s, n, p)")
        .bind(town).bind(product).bind(&ids).bind(&serials).bind(&numbers).bind(&pages).execute(admin).await?;
    Ok(ids
        .iter()
        .map(|id| {
            let claim = cardtoken::Claim {
                town_code: code,
                card_id: CardId::from_uuid(*id),
                token_serial: 1,
            };
            cardtoken::encode(&claim, kid, key)
        })
        .collect())
}
