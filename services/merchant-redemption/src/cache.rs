//! In-process caches for the scan path: towns (code, zone, QR keys), cards and
//! each merchant's offers. Card and promotion entries are dropped by the events
//! other services publish on Redis (see `events`); while that subscription is not
//! live nothing is cached, and a TTL bounds staleness anyway. Redeem never trusts
//! the cache: it re-reads everything in its transaction.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::db::cards::CardRow;
use crate::db::towns::TownInfo;
use crate::domain::rules::Promotion;

/// (time stored, value) per key.
type Timed<K, V> = Mutex<HashMap<K, (Instant, V)>>;

const TTL: Duration = Duration::from_secs(30);
const TOWN_TTL: Duration = Duration::from_secs(60);
const TOKEN_TTL: Duration = Duration::from_secs(600);

#[derive(Default)]
pub struct Cache {
    /// True while the event subscription is connected.
    pub live: AtomicBool,
    towns: Timed<Uuid, TownInfo>,
    cards: Timed<Uuid, CardRow>,
    offers: Timed<(Uuid, Uuid), Vec<Promotion>>,
    /// QR tokens whose signature was checked: (claim, key id) by SHA-256 of
    /// (town, text). A scan and its redeem carry the same token.
    tokens: Timed<[u8; 32], (cardtoken::Claim, String)>,
}

fn get<K: std::hash::Hash + Eq, V: Clone>(
    m: &Mutex<HashMap<K, (Instant, V)>>,
    k: &K,
    ttl: Duration,
) -> Option<V> {
    let map = m.lock().ok()?;
    map.get(k)
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, v)| v.clone())
}

fn put<K: std::hash::Hash + Eq, V>(m: &Mutex<HashMap<K, (Instant, V)>>, k: K, v: V) {
    if let Ok(mut map) = m.lock() {
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(k, (Instant::now(), v));
    }
}

impl Cache {
    pub fn token(&self, digest: &[u8; 32]) -> Option<(cardtoken::Claim, String)> {
        get(&self.tokens, digest, TOKEN_TTL)
    }

    pub fn put_token(&self, digest: [u8; 32], claim: cardtoken::Claim, kid: String) {
        put(&self.tokens, digest, (claim, kid));
    }

    fn is_live(&self) -> bool {
        self.live.load(Ordering::Relaxed)
    }

    pub fn town(&self, id: Uuid) -> Option<TownInfo> {
        get(&self.towns, &id, TOWN_TTL)
    }

    pub fn put_town(&self, id: Uuid, t: TownInfo) {
        put(&self.towns, id, t);
    }

    pub fn forget_town(&self, id: Uuid) {
        if let Ok(mut m) = self.towns.lock() {
            m.remove(&id);
        }
    }

    pub fn card(&self, id: Uuid) -> Option<CardRow> {
        self.is_live().then(|| get(&self.cards, &id, TTL)).flatten()
    }

    pub fn put_card(&self, c: CardRow) {
        if self.is_live() {
            put(&self.cards, c.id, c);
        }
    }

    pub fn forget_card(&self, id: Uuid) {
        if let Ok(mut m) = self.cards.lock() {
            m.remove(&id);
        }
    }

    pub fn offers(&self, town: Uuid, merchant: Uuid) -> Option<Vec<Promotion>> {
        self.is_live()
            .then(|| get(&self.offers, &(town, merchant), TTL))
            .flatten()
    }

    pub fn put_offers(&self, town: Uuid, merchant: Uuid, p: Vec<Promotion>) {
        if self.is_live() {
            put(&self.offers, (town, merchant), p);
        }
    }

    /// A promotion of the town changed: every merchant's offers there may change.
    pub fn forget_offers(&self, town: Uuid) {
        if let Ok(mut m) = self.offers.lock() {
            m.retain(|(t, _), _| *t != town);
        }
    }

    pub fn clear(&self) {
        for_each_clear(&self.cards);
        for_each_clear(&self.offers);
    }
}

fn for_each_clear<K, V>(m: &Mutex<HashMap<K, V>>) {
    if let Ok(mut map) = m.lock() {
        map.clear();
    }
}
