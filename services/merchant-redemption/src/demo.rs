//! Demo data for this service, called by `towncard seed-demo`: a tablet enrolment
//! code and staff PINs for Kavarna Loggia, and its own offer. Idempotent.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

pub const DEMO_PIN: &str = "2026";
pub const DEMO_ENROLMENT_CODE: &str = "LOGGIA2026";

/// Seeds for `merchant` of `town`; `staff` are the e-mails that get the demo PIN.
pub async fn seed(
    conn: &mut PgConnection,
    town: Uuid,
    merchant: Uuid,
    staff: &[&str],
) -> anyhow::Result<()> {
    let pin = platform::password::hash(DEMO_PIN).map_err(|e| anyhow::anyhow!("{e}"))?;
    for email in staff {
        sqlx::query("UPDATE staff_users SET pin_hash = $3 WHERE town_id = $1 AND lower(email) = lower($2) AND pin_hash IS NULL")
            .bind(town)
            .bind(email)
            .bind(&pin)
            .execute(&mut *conn)
            .await?;
    }
    let code_hash = Sha256::digest(DEMO_ENROLMENT_CODE.as_bytes()).to_vec();
    sqlx::query(
        "INSERT INTO device_enrolments (id, town_id, merchant_id, code_hash, device_name, expires_at)
         VALUES ($1, $2, $3, $4, 'Blagajna 1', now() + interval '30 days')
         ON CONFLICT ON CONSTRAINT device_enrolments_code DO UPDATE
         SET expires_at = EXCLUDED.expires_at, used_at = NULL, device_id = NULL",
    )
    .bind(Uuid::new_v5(&merchant, b"enrolment:demo"))
    .bind(town)
    .bind(merchant)
    .bind(code_hash)
    .execute(&mut *conn)
    .await?;
    let rules = serde_json::json!({
        "benefit": { "kind": "stamps", "value": 1 },
        "per_card_per_day": 1,
    });
    sqlx::query(
        "INSERT INTO promotions (id, town_id, name, description, co_financing_percent, rules, starts_on,
             ends_on, requires_approval, owner_merchant_id)
         VALUES ($1, $2, 'Žig za vsako kavo', 'Deseta kava gratis: en žig na obisk.', 0, $3,
             '2026-11-01', '2027-12-31', false, $4)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(Uuid::new_v5(&merchant, b"offer:stamps"))
    .bind(town)
    .bind(rules)
    .bind(merchant)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
