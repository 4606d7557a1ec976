//! The card lifecycle as pure functions: what each action does to a card's state.
//!
//! ```text
//! issued ──activate──▶ active ──expire/time──▶ expired
//!    │ ▲                 │ ▲
//! suspend resume     suspend resume        replace: token_serial + 1, same status
//!    ▼ │                 ▼ │               erase: holder data removed, any status
//!  suspended ◀───────────┘ │
//! ```

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::db::cards::CardRow;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Activate,
    Suspend,
    Resume,
    Replace,
    Expire,
    Erase,
}

impl Action {
    /// The change recorded and announced.
    pub fn change(self) -> &'static str {
        match self {
            Action::Activate => "activated",
            Action::Suspend => "suspended",
            Action::Resume => "resumed",
            Action::Replace => "replaced",
            Action::Expire => "expired",
            Action::Erase => "erased",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// How long a product's card is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Tourist card: N hours from the first use.
    Hours(i64),
    /// Resident card: a year from activation.
    Annual,
    /// Between two dates (inclusive) in the town's time zone, whenever it is activated.
    Dates(NaiveDate, NaiveDate, Tz),
}

impl Validity {
    pub fn from_product(p: &crate::db::products::ProductRow) -> Option<Validity> {
        match p.kind.as_str() {
            "tourist_hours" => p.validity_hours.map(|h| Validity::Hours(i64::from(h))),
            "annual" => Some(Validity::Annual),
            "fixed_dates" => Some(Validity::Dates(
                p.valid_from?,
                p.valid_to?,
                p.timezone.parse().unwrap_or(chrono_tz::Europe::Ljubljana),
            )),
            _ => None,
        }
    }

    /// Expiry known when the card is issued (fixed dates), before any use.
    pub fn expiry_at_issue(self) -> Option<DateTime<Utc>> {
        match self {
            Validity::Dates(_, to, tz) => Some(end_of(to, tz)),
            _ => None,
        }
    }

    pub fn expiry_on_activation(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Validity::Hours(h) => now + Duration::hours(h),
            Validity::Annual => now + Duration::days(365),
            Validity::Dates(_, to, tz) => end_of(to, tz),
        }
    }

    /// Fixed-date cards cannot be used before their first day.
    pub fn starts(self) -> Option<DateTime<Utc>> {
        match self {
            Validity::Dates(from, _, tz) => Some(midnight(from, tz)),
            _ => None,
        }
    }
}

/// The first instant after `day` ends in the town.
fn end_of(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    day.succ_opt()
        .map(|next| midnight(next, tz))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Local midnight starting `day` (Slovenia never skips midnight, but be safe).
fn midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let local = day.and_time(chrono::NaiveTime::MIN);
    tz.from_local_datetime(&local)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|| local.and_utc())
}

/// Why an action is refused; each is a stable API code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("the card is already active")]
    AlreadyActive,
    #[error("the card is suspended")]
    Suspended,
    #[error("the card has expired")]
    Expired,
    #[error("the card has been replaced")]
    Replaced,
    #[error("the card is not suspended")]
    NotSuspended,
    #[error("the card is not valid yet")]
    NotYetValid,
}

impl LifecycleError {
    pub fn code(self) -> &'static str {
        match self {
            LifecycleError::AlreadyActive => "card_already_active",
            LifecycleError::Suspended => "card_suspended",
            LifecycleError::Expired => "card_expired",
            LifecycleError::Replaced => "card_replaced",
            LifecycleError::NotSuspended => "card_not_suspended",
            LifecycleError::NotYetValid => "card_not_yet_valid",
        }
    }
}

/// The status as of `now`: an active or issued card past its expiry is expired.
pub fn effective_status(card: &CardRow, now: DateTime<Utc>) -> &str {
    match card.status.as_str() {
        "issued" | "active" if card.expires_at.is_some_and(|e| e <= now) => "expired",
        s => s,
    }
}

/// Applies `action` to `card`, returning the card as it should be stored.
pub fn apply(
    action: Action,
    card: &CardRow,
    validity: Validity,
    now: DateTime<Utc>,
    new_page_code: impl FnOnce() -> String,
) -> Result<CardRow, LifecycleError> {
    let mut next = card.clone();
    let status = effective_status(card, now);
    let usable = || match status {
        "suspended" => Err(LifecycleError::Suspended),
        "expired" => Err(LifecycleError::Expired),
        "replaced" => Err(LifecycleError::Replaced),
        _ => Ok(()),
    };
    match action {
        Action::Activate => {
            usable()?;
            if status == "active" {
                return Err(LifecycleError::AlreadyActive);
            }
            if validity.starts().is_some_and(|s| now < s) {
                return Err(LifecycleError::NotYetValid);
            }
            next.status = "active".into();
            next.activated_at = Some(now);
            next.expires_at = Some(validity.expiry_on_activation(now));
        }
        Action::Suspend => {
            usable()?;
            next.status = "suspended".into();
        }
        Action::Resume => {
            if status != "suspended" {
                return Err(LifecycleError::NotSuspended);
            }
            next.status = match (card.activated_at, card.expires_at) {
                (_, Some(e)) if e <= now => "expired",
                (Some(_), _) => "active",
                (None, _) => "issued",
            }
            .into();
        }
        Action::Replace => {
            match status {
                "expired" => return Err(LifecycleError::Expired),
                "replaced" => return Err(LifecycleError::Replaced),
                _ => {}
            }
            next.token_serial = card.token_serial.saturating_add(1);
            next.page_code = new_page_code();
        }
        Action::Expire => {
            if status == "expired" && card.status == "expired" {
                return Err(LifecycleError::Expired);
            }
            next.status = "expired".into();
            if card.expires_at.is_none_or(|e| e > now) {
                next.expires_at = Some(now);
            }
        }
        Action::Erase => {
            next.holder_name = None;
            next.holder_email = None;
            next.holder_lang = None;
            next.erased_at = Some(card.erased_at.unwrap_or(now));
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(status: &str) -> CardRow {
        CardRow {
            id: uuid::Uuid::nil(),
            product_id: uuid::Uuid::nil(),
            serial: 1,
            number: "101000000010".into(),
            status: status.into(),
            token_serial: 1,
            page_code: "p1".into(),
            holder_name: Some("Ana".into()),
            holder_email: Some("ana@example.si".into()),
            holder_lang: Some("sl".into()),
            activated_at: None,
            expires_at: None,
            created_at: Utc::now(),
            erased_at: None,
            batch_id: None,
        }
    }

    fn code() -> String {
        "p2".into()
    }

    #[test]
    fn a_tourist_card_starts_its_hours_at_activation() {
        let now = Utc::now();
        let c = apply(
            Action::Activate,
            &card("issued"),
            Validity::Hours(48),
            now,
            code,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.status, "active");
        assert_eq!(c.activated_at, Some(now));
        assert_eq!(c.expires_at, Some(now + Duration::hours(48)));
        assert_eq!(
            apply(Action::Activate, &c, Validity::Hours(48), now, code).err(),
            Some(LifecycleError::AlreadyActive)
        );
        let later = now + Duration::hours(49);
        assert_eq!(effective_status(&c, later), "expired");
        assert_eq!(
            apply(Action::Suspend, &c, Validity::Hours(48), later, code).err(),
            Some(LifecycleError::Expired)
        );
    }

    #[test]
    fn suspend_resume_replace_erase() {
        let now = Utc::now();
        let v = Validity::Annual;
        let s =
            apply(Action::Suspend, &card("issued"), v, now, code).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.status, "suspended");
        assert_eq!(
            apply(Action::Activate, &s, v, now, code).err(),
            Some(LifecycleError::Suspended)
        );
        let r = apply(Action::Resume, &s, v, now, code).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, "issued");
        assert_eq!(
            apply(Action::Resume, &r, v, now, code).err(),
            Some(LifecycleError::NotSuspended)
        );
        let n = apply(Action::Replace, &r, v, now, code).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (n.token_serial, n.page_code.as_str(), n.status.as_str()),
            (2, "p2", "issued")
        );
        let e = apply(Action::Erase, &n, v, now, code).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (e.holder_name.clone(), e.holder_email.clone(), e.erased_at),
            (None, None, Some(now))
        );
        let x = apply(Action::Expire, &e, v, now, code).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(x.status, "expired");
        assert_eq!(
            apply(Action::Replace, &x, v, now, code).err(),
            Some(LifecycleError::Expired)
        );
        assert_eq!(
            apply(Action::Expire, &x, v, now, code).err(),
            Some(LifecycleError::Expired)
        );
    }

    #[test]
    fn fixed_dates_cards_wait_for_their_first_day() {
        let from = NaiveDate::from_ymd_opt(2030, 7, 1).unwrap_or_default();
        let to = NaiveDate::from_ymd_opt(2030, 7, 31).unwrap_or_default();
        let v = Validity::Dates(from, to, chrono_tz::Europe::Ljubljana);
        assert_eq!(
            apply(Action::Activate, &card("issued"), v, Utc::now(), code).err(),
            Some(LifecycleError::NotYetValid)
        );
        assert_eq!(
            v.expiry_at_issue().map(|d| d.to_rfc3339()),
            // Midnight in Ljubljana (summer time, UTC+2).
            Some("2030-07-31T22:00:00+00:00".into())
        );
        assert_eq!(Action::parse("replace"), Some(Action::Replace));
        assert_eq!(Action::parse("explode"), None);
    }
}
