//! `towncard seed-demo`: the demo town of Koper with merchants, staff, card products,
//! cards and the joint promotion "Razvajaj se v mestu". Idempotent: ids are derived
//! from names, inserts skip existing rows, the budget posting has a fixed key.

use kernel::{CardNumber, Money, TownId};
use ledger::{AccountKind, Entry, NewAccount, Posting, PostingKind};
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;

pub const DEMO_PASSWORD: &str = "koper-demo-2026";
pub const TOWN_SLUG: &str = "koper";

const NS: Uuid = Uuid::from_u128(0x7a1c_4e0b_9d3f_4c2a_8f55_0d1e_6b7c_9a01);

fn id(name: &str) -> Uuid {
    Uuid::new_v5(&NS, name.as_bytes())
}

pub struct DemoLogin {
    pub email: &'static str,
    pub role: &'static str,
    pub merchant: Option<&'static str>,
}

pub const LOGINS: &[DemoLogin] = &[
    DemoLogin {
        email: "admin@koper.demo",
        role: "town_admin",
        merchant: None,
    },
    DemoLogin {
        email: "tic@koper.demo",
        role: "tic_operator",
        merchant: None,
    },
    DemoLogin {
        email: "auditor@koper.demo",
        role: "auditor",
        merchant: None,
    },
    DemoLogin {
        email: "owner@loggia.demo",
        role: "merchant_owner",
        merchant: Some("Kavarna Loggia"),
    },
    DemoLogin {
        email: "staff@loggia.demo",
        role: "merchant_staff",
        merchant: Some("Kavarna Loggia"),
    },
    DemoLogin {
        email: "owner@libris.demo",
        role: "merchant_owner",
        merchant: Some("Knjigarna Libris"),
    },
];

const MERCHANTS: &[(&str, &str, &str)] = &[
    ("Kavarna Loggia", "cafe", "SI39029000055512345"),
    ("Knjigarna Libris", "bookshop", "SI67190000012345678"),
    ("Slaščičarna Nazarij", "pastry", "SI87047000009876543"),
    ("Butik Ribiški trg", "fashion", "SI50051008012345678"),
    ("Pokrajinski muzej Koper", "museum", "SI32101000123456789"),
];

/// Code, names (sl, en, it), kind, validity hours, price.
type ProductSeed = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<i32>,
    &'static str,
);

pub struct Seeded {
    pub town: TownId,
    pub cards: Vec<CardNumber>,
    /// A demo card's visitor page code and QR token (printed by `towncard demo`).
    pub demo_card: Option<card_issuing::demo::DemoCard>,
}

pub async fn seed_demo(pool: &PgPool) -> anyhow::Result<Seeded> {
    let mut tx = pool.begin().await?;
    let town = TownId::from_uuid(id("town:koper"));
    sqlx::query(
        "INSERT INTO towns (id, slug, code, name, iban, bic) VALUES ($1, $2, 101, 'Koper / Capodistria', $3, 'BSLJSI2X')
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(town.as_uuid())
    .bind(TOWN_SLUG)
    .bind("SI95011000100012345")
    .execute(&mut *tx)
    .await?;
    ledger::init_town(&mut tx, town).await?;

    for (name, category, iban) in MERCHANTS {
        sqlx::query(
            "INSERT INTO merchants (id, town_id, name, category, iban) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id(&format!("merchant:{name}")))
        .bind(town.as_uuid())
        .bind(name)
        .bind(category)
        .bind(iban)
        .execute(&mut *tx)
        .await?;
    }

    let hash = platform::password::hash(DEMO_PASSWORD).map_err(|e| anyhow::anyhow!("{e}"))?;
    for login in LOGINS {
        sqlx::query(
            "INSERT INTO staff_users (id, town_id, merchant_id, email, display_name, role, password_hash)
             VALUES ($1, $2, $3, $4, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id(&format!("user:{}", login.email)))
        .bind(town.as_uuid())
        .bind(login.merchant.map(|m| id(&format!("merchant:{m}"))))
        .bind(login.email)
        .bind(login.role)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    }

    let products: &[ProductSeed] = &[
        (
            "KC24",
            "Koper Card 24 ur",
            "Koper Card 24 hours",
            "Koper Card 24 ore",
            "tourist_hours",
            Some(24),
            "15.00",
        ),
        (
            "KC48",
            "Koper Card 48 ur",
            "Koper Card 48 hours",
            "Koper Card 48 ore",
            "tourist_hours",
            Some(48),
            "22.00",
        ),
        (
            "KC72",
            "Koper Card 72 ur",
            "Koper Card 72 hours",
            "Koper Card 72 ore",
            "tourist_hours",
            Some(72),
            "28.00",
        ),
        (
            "RES",
            "Letna kartica za občane",
            "Annual resident card",
            "Carta annuale residenti",
            "annual",
            None,
            "0.00",
        ),
    ];
    for (code, sl, en, it, kind, hours, price) in products {
        sqlx::query(
            "INSERT INTO card_products (id, town_id, code, names, kind, validity_hours, price)
             VALUES ($1, $2, $3, $4, $5, $6, $7::numeric) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id(&format!("product:{code}")))
        .bind(town.as_uuid())
        .bind(code)
        .bind(serde_json::json!({ "sl": sl, "en": en, "it": it }))
        .bind(kind)
        .bind(hours)
        .bind(price)
        .execute(&mut *tx)
        .await?;
    }

    let mut cards = Vec::new();
    for serial in 1..=10u32 {
        let number = CardNumber::new(101, serial)?;
        let product = if serial <= 5 { "KC48" } else { "RES" };
        sqlx::query(
            "INSERT INTO cards (id, town_id, product_id, serial, number, page_code)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id(&format!("card:{serial}")))
        .bind(town.as_uuid())
        .bind(id(&format!("product:{product}")))
        .bind(serial as i32)
        .bind(number.digits())
        .bind(id(&format!("page:{serial}")).simple().to_string())
        .execute(&mut *tx)
        .await?;
        cards.push(number);
    }

    let promo = id("promotion:razvajaj-se-v-mestu");
    let rules = serde_json::json!({
        "benefit": { "kind": "percent", "value": "10" },
        "min_basket": "5.00",
        "max_discount": "20.00",
        "per_card_per_day": 1,
        "eligible_products": ["KC24", "KC48", "KC72", "RES"],
    });
    sqlx::query(
        "INSERT INTO promotions (id, town_id, name, description, co_financing_percent, rules, starts_on, ends_on, requires_approval)
         VALUES ($1, $2, 'Razvajaj se v mestu', $3, 50, $4, '2026-11-01', '2026-12-31', true)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(promo)
    .bind(town.as_uuid())
    .bind("10 % popusta v mestnem središču; polovico popusta krije občina.")
    .bind(rules)
    .execute(&mut *tx)
    .await?;
    for (name, _, _) in MERCHANTS.iter().take(4) {
        sqlx::query(
            "INSERT INTO promotion_merchants (town_id, promotion_id, merchant_id, status)
             VALUES ($1, $2, $3, 'approved') ON CONFLICT DO NOTHING",
        )
        .bind(town.as_uuid())
        .bind(promo)
        .bind(id(&format!("merchant:{name}")))
        .execute(&mut *tx)
        .await?;
    }

    // The municipality commits €5,000 of co-financing to the promotion's budget.
    let funding = open(
        &mut tx,
        town,
        AccountKind::MunicipalityFunding,
        None,
        "Občina Koper – sofinanciranje",
    )
    .await?;
    let budget = open(
        &mut tx,
        town,
        AccountKind::PromotionBudget,
        Some(promo),
        "Razvajaj se v mestu – proračun",
    )
    .await?;
    for kind in [
        AccountKind::DiscountsGranted,
        AccountKind::Payouts,
        AccountKind::PointsIssued,
    ] {
        open(&mut tx, town, kind, None, kind.as_str()).await?;
    }
    for (name, _, _) in MERCHANTS {
        let m = Some(id(&format!("merchant:{name}")));
        open(
            &mut tx,
            town,
            AccountKind::MerchantReceivable,
            m,
            &format!("{name} – terjatev do občine"),
        )
        .await?;
        open(
            &mut tx,
            town,
            AccountKind::MerchantOwnDiscount,
            m,
            &format!("{name} – lastni popusti"),
        )
        .await?;
    }
    let amount: Decimal = Money::parse("5000.00")?.amount();
    ledger::post(
        &mut tx,
        &Posting {
            town,
            idempotency_key: "seed:budget:razvajaj-se-v-mestu".into(),
            kind: PostingKind::BudgetFunding,
            memo: "Proračun akcije Razvajaj se v mestu 2026".into(),
            reverses: None,
            entries: vec![
                Entry {
                    account: funding,
                    amount: -amount,
                },
                Entry {
                    account: budget,
                    amount,
                },
            ],
        },
    )
    .await?;
    // Tablet enrolment code, staff PINs and Kavarna Loggia's own offer.
    let loggia = id("merchant:Kavarna Loggia");
    let pins = ["staff@loggia.demo", "owner@loggia.demo"];
    merchant_redemption::demo::seed(&mut tx, town.as_uuid(), loggia, &pins).await?;
    // The town's QR signing key, sealed with the configured key-encryption key.
    let settings = platform::Settings::load(
        std::env::var_os("TOWNCARD_CONFIG")
            .as_deref()
            .map(std::path::Path::new),
    )?;
    let demo_card = card_issuing::demo::seed_keys_and_tokens(&mut tx, town, &settings).await?;
    tx.commit().await?;
    Ok(Seeded {
        town,
        cards,
        demo_card,
    })
}

async fn open(
    conn: &mut sqlx::PgConnection,
    town: TownId,
    kind: AccountKind,
    owner: Option<Uuid>,
    name: &str,
) -> anyhow::Result<kernel::AccountId> {
    Ok(ledger::ensure_account(
        conn,
        &NewAccount {
            town,
            kind,
            owner,
            name: name.to_owned(),
        },
    )
    .await?)
}
