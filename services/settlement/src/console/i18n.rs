//! The console's and the reports' words in Slovenian, English and Italian.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Sl,
    En,
    It,
}

impl Lang {
    pub fn parse(s: Option<&str>) -> Lang {
        match s.unwrap_or("sl") {
            "en" => Lang::En,
            "it" => Lang::It,
            _ => Lang::Sl,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Sl => "sl",
            Lang::En => "en",
            Lang::It => "it",
        }
    }
}

/// (key, sl, en, it)
pub const WORDS: &[(&str, &str, &str, &str)] = &[
    (
        "title",
        "Konzola občine",
        "Municipality console",
        "Console del comune",
    ),
    ("login", "Prijava", "Log in", "Accedi"),
    ("logout", "Odjava", "Log out", "Esci"),
    ("town", "Mesto", "Town", "Città"),
    ("email", "E-pošta", "E-mail", "E-mail"),
    ("password", "Geslo", "Password", "Password"),
    ("periods", "Obdobja", "Periods", "Periodi"),
    ("period", "Obdobje", "Period", "Periodo"),
    ("promotions", "Promocije", "Promotions", "Promozioni"),
    ("promotion", "Promocija", "Promotion", "Promozione"),
    ("merchants", "Trgovci", "Merchants", "Esercenti"),
    ("merchant", "Trgovec", "Merchant", "Esercente"),
    ("downloads", "Prenosi", "Downloads", "Download"),
    (
        "reconciliation",
        "Usklajevanje",
        "Reconciliation",
        "Riconciliazione",
    ),
    ("status", "Stanje", "Status", "Stato"),
    ("open", "odprto", "open", "aperto"),
    ("closed", "zaprto", "closed", "chiuso"),
    ("paid", "izplačano", "paid", "pagato"),
    ("close", "Zapri obdobje", "Close period", "Chiudi periodo"),
    (
        "confirm_close",
        "Zaprtja ni mogoče preklicati. Zaprem obdobje?",
        "Closing cannot be undone. Close the period?",
        "La chiusura è definitiva. Chiudere il periodo?",
    ),
    (
        "pay",
        "Označi kot izplačano",
        "Mark paid",
        "Segna come pagato",
    ),
    (
        "bank_reference",
        "Sklic banke",
        "Bank reference",
        "Riferimento bancario",
    ),
    ("count", "Unovčenja", "Redemptions", "Riscatti"),
    ("reversals", "Storna", "Reversals", "Storni"),
    ("basket", "Košarica", "Basket", "Carrello"),
    ("discount", "Popust", "Discount", "Sconto"),
    (
        "municipality",
        "Delež občine",
        "Municipality share",
        "Quota comune",
    ),
    (
        "merchant_share",
        "Delež trgovca",
        "Merchant share",
        "Quota esercente",
    ),
    ("points", "Točke", "Points", "Punti"),
    ("adjustments", "Popravki", "Adjustments", "Rettifiche"),
    (
        "budget_used",
        "Porabljen proračun",
        "Budget used",
        "Budget usato",
    ),
    (
        "budget_left",
        "Preostanek proračuna",
        "Budget left",
        "Budget residuo",
    ),
    ("total", "Skupaj", "Total", "Totale"),
    (
        "chart",
        "Poraba proračuna v mesecu",
        "Budget use over the month",
        "Uso del budget nel mese",
    ),
    ("day", "dan", "day", "giorno"),
    (
        "town_summary",
        "Povzetek mesta",
        "Town summary",
        "Riepilogo cittadino",
    ),
    (
        "merchant_statement",
        "Izpisek trgovca",
        "Merchant statement",
        "Estratto esercente",
    ),
    ("read_only", "Samo za branje", "Read-only", "Sola lettura"),
    ("confirmed", "potrjeno", "confirmed", "confermato"),
    ("show", "Prikaži", "Show", "Mostra"),
    ("matched", "ujema se", "matched", "corrisponde"),
    (
        "missing_in_claim",
        "manjka v zahtevku",
        "missing in claim",
        "manca nella richiesta",
    ),
    (
        "missing_in_statement",
        "manjka v izpisku",
        "missing in statement",
        "manca nell'estratto",
    ),
    ("differs", "razlika", "differs", "differisce"),
    ("accept", "Sprejmi", "Accept", "Accetta"),
    ("reject", "Zavrni", "Reject", "Rifiuta"),
    ("adjust", "Popravi", "Adjust", "Rettifica"),
    ("receipt", "Račun", "Receipt", "Scontrino"),
    ("ours", "Naše", "Ours", "Nostro"),
    ("theirs", "Trgovec", "Merchant's", "Esercente"),
    ("decision", "Odločitev", "Decision", "Decisione"),
    ("error", "Napaka", "Error", "Errore"),
];

pub fn t(lang: Lang, key: &str) -> &'static str {
    WORDS
        .iter()
        .find(|w| w.0 == key)
        .map(|w| match lang {
            Lang::Sl => w.1,
            Lang::En => w.2,
            Lang::It => w.3,
        })
        .unwrap_or("?")
}

/// The dictionary as JSON for the console's script: `{"sl": {...}, "en": {...}, "it": {...}}`.
pub fn as_json() -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for lang in [Lang::Sl, Lang::En, Lang::It] {
        let words: serde_json::Map<String, serde_json::Value> = WORDS
            .iter()
            .map(|w| (w.0.to_owned(), t(lang, w.0).into()))
            .collect();
        out.insert(lang.code().to_owned(), words.into());
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_is_translated() {
        for w in WORDS {
            assert!(
                !w.1.is_empty() && !w.2.is_empty() && !w.3.is_empty(),
                "{}",
                w.0
            );
        }
        assert_eq!(t(Lang::It, "closed"), "chiuso");
        assert_eq!(t(Lang::En, "no such key"), "?");
    }
}
