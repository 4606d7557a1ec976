//! The page's words in Slovenian, English and Italian.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    Sl,
    En,
    It,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s.get(..2)?.to_ascii_lowercase().as_str() {
            "sl" => Some(Lang::Sl),
            "en" => Some(Lang::En),
            "it" => Some(Lang::It),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Sl => "sl",
            Lang::En => "en",
            Lang::It => "it",
        }
    }

    /// The first supported language of an `Accept-Language` header.
    pub fn from_accept(header: &str) -> Option<Lang> {
        header.split(',').find_map(|part| Lang::parse(part.trim()))
    }
}

pub struct Words {
    pub card: &'static str,
    pub status: &'static str,
    pub valid_until: &'static str,
    pub remaining: &'static str,
    pub starts_at_first_use: &'static str,
    pub benefits: &'static str,
    pub used: &'static str,
    pub unused: &'static str,
    pub points: &'static str,
    pub promotions: &'static str,
    pub merchants: &'static str,
    pub none: &'static str,
    pub show_qr: &'static str,
    pub not_found: &'static str,
    pub days: &'static str,
    pub hours: &'static str,
    pub minutes: &'static str,
}

pub fn words(l: Lang) -> &'static Words {
    match l {
        Lang::Sl => &SL,
        Lang::En => &EN,
        Lang::It => &IT,
    }
}

pub fn status(l: Lang, s: &str) -> &'static str {
    match (l, s) {
        (Lang::Sl, "issued") => "izdana, še ne uporabljena",
        (Lang::Sl, "active") => "veljavna",
        (Lang::Sl, "suspended") => "začasno blokirana",
        (Lang::Sl, "expired") => "potekla",
        (Lang::En, "issued") => "issued, not used yet",
        (Lang::En, "active") => "valid",
        (Lang::En, "suspended") => "suspended",
        (Lang::En, "expired") => "expired",
        (Lang::It, "issued") => "emessa, non ancora usata",
        (Lang::It, "active") => "valida",
        (Lang::It, "suspended") => "sospesa",
        (Lang::It, "expired") => "scaduta",
        (Lang::Sl, _) => "zamenjana",
        (Lang::En, _) => "replaced",
        (Lang::It, _) => "sostituita",
    }
}

static SL: Words = Words {
    card: "Kartica",
    status: "Stanje",
    valid_until: "Velja do",
    remaining: "Preostalo",
    starts_at_first_use: "Veljavnost začne teči ob prvi uporabi.",
    benefits: "Vključene ugodnosti",
    used: "porabljeno",
    unused: "na voljo",
    points: "Točke",
    promotions: "Tekoče akcije",
    merchants: "Sodelujoči ponudniki",
    none: "Trenutno ni nobene.",
    show_qr: "Pokažite kodo QR na blagajni.",
    not_found: "Te kartice ni mogoče najti.",
    days: "d",
    hours: "h",
    minutes: "min",
};

static EN: Words = Words {
    card: "Card",
    status: "Status",
    valid_until: "Valid until",
    remaining: "Time left",
    starts_at_first_use: "Validity starts at the first use.",
    benefits: "Included benefits",
    used: "used",
    unused: "available",
    points: "Points",
    promotions: "Current offers",
    merchants: "Participating shops",
    none: "None at the moment.",
    show_qr: "Show the QR code at the till.",
    not_found: "This card cannot be found.",
    days: "d",
    hours: "h",
    minutes: "min",
};

static IT: Words = Words {
    card: "Carta",
    status: "Stato",
    valid_until: "Valida fino al",
    remaining: "Tempo rimasto",
    starts_at_first_use: "La validità inizia al primo utilizzo.",
    benefits: "Vantaggi inclusi",
    used: "usato",
    unused: "disponibile",
    points: "Punti",
    promotions: "Offerte in corso",
    merchants: "Negozi aderenti",
    none: "Nessuna al momento.",
    show_qr: "Mostra il codice QR alla cassa.",
    not_found: "Questa carta non esiste.",
    days: "g",
    hours: "h",
    minutes: "min",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_first_supported_language() {
        assert_eq!(Lang::from_accept("de-DE,it;q=0.8,en;q=0.5"), Some(Lang::It));
        assert_eq!(Lang::from_accept("de"), None);
        assert_eq!(Lang::parse("SL-si"), Some(Lang::Sl));
        assert_eq!(status(Lang::It, "active"), "valida");
    }
}
