-- merchant-redemption: merchant profiles and locations, tablets (devices) and their
-- enrolment codes, staff PINs, merchants' own offers, limit/budget counters, and the
-- request fingerprint that makes a redemption idempotent.

ALTER TABLE merchants
    ADD COLUMN description text NOT NULL DEFAULT '',
    ADD COLUMN phone       text,
    ADD COLUMN website     text;

CREATE TABLE merchant_locations (
    id           uuid PRIMARY KEY,
    town_id      uuid NOT NULL REFERENCES towns (id),
    merchant_id  uuid NOT NULL,
    name         text NOT NULL,
    address      text NOT NULL,
    latitude     numeric(9, 6),
    longitude    numeric(9, 6),
    created_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (town_id, merchant_id) REFERENCES merchants (town_id, id)
);
CREATE INDEX merchant_locations_merchant ON merchant_locations (merchant_id);

-- A staff member unlocks an enrolled tablet with a short PIN (argon2-hashed).
ALTER TABLE staff_users ADD COLUMN pin_hash text;

-- A shop tablet. It holds a long random credential; only its SHA-256 is stored.
CREATE TABLE devices (
    id               uuid PRIMARY KEY,
    town_id          uuid NOT NULL REFERENCES towns (id),
    merchant_id      uuid NOT NULL,
    name             text NOT NULL,
    credential_hash  bytea NOT NULL CONSTRAINT devices_credential UNIQUE,
    enrolled_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz,
    revoked_at       timestamptz,
    FOREIGN KEY (town_id, merchant_id) REFERENCES merchants (town_id, id),
    UNIQUE (town_id, id)
);
CREATE INDEX devices_merchant ON devices (merchant_id);

-- One-time codes an owner creates to enrol a tablet (SHA-256 of the code stored).
CREATE TABLE device_enrolments (
    id           uuid PRIMARY KEY,
    town_id      uuid NOT NULL REFERENCES towns (id),
    merchant_id  uuid NOT NULL,
    code_hash    bytea NOT NULL CONSTRAINT device_enrolments_code UNIQUE,
    device_name  text NOT NULL,
    created_by   uuid,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    device_id    uuid,
    FOREIGN KEY (town_id, merchant_id) REFERENCES merchants (town_id, id)
);

-- A merchant's own offer is a promotion owned by that merchant (0 % co-financing).
ALTER TABLE promotions
    ADD COLUMN owner_merchant_id uuid,
    ADD COLUMN budget_total      numeric(18, 2),
    ADD COLUMN closed_at         timestamptz,
    ADD CONSTRAINT promotions_own_offer_unfunded
        CHECK (owner_merchant_id IS NULL OR co_financing_percent = 0);

-- Limits and budgets other than the total budget (which is the guarded ledger
-- account): one row per (promotion, scope, key), raised with a conditional upsert
-- in the redemption's transaction, so the limit holds whatever runs concurrently.
CREATE TABLE redemption_counters (
    town_id       uuid NOT NULL REFERENCES towns (id),
    promotion_id  uuid NOT NULL,
    scope         text NOT NULL CONSTRAINT redemption_counters_scope_known
                  CHECK (scope IN ('card_day', 'card_merchant', 'card_promotion',
                                   'merchant_budget', 'day_budget')),
    key           text NOT NULL,
    used          numeric(18, 2) NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (promotion_id, scope, key),
    FOREIGN KEY (town_id, promotion_id) REFERENCES promotions (town_id, id)
);

ALTER TABLE redemptions
    ADD COLUMN request_hash  bytea,
    ADD COLUMN points_spent  integer NOT NULL DEFAULT 0,
    ADD COLUMN points_tx     uuid REFERENCES journal_transactions (id),
    ADD COLUMN counters      jsonb NOT NULL DEFAULT '[]';
CREATE INDEX redemptions_merchant_recorded ON redemptions (merchant_id, recorded_at);

ALTER TABLE redemption_reversals
    ADD COLUMN points_tx uuid REFERENCES journal_transactions (id);

-- Receipt numbers: a sequence never blocks concurrent redemptions.
CREATE SEQUENCE redemption_receipt_seq;
GRANT USAGE, SELECT ON SEQUENCE redemption_receipt_seq TO towncard_app;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['merchant_locations', 'devices', 'device_enrolments',
                             'redemption_counters']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY town_isolation ON %I USING (town_id = current_town()) '
                       'WITH CHECK (town_id = current_town())', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON merchant_locations TO towncard_app;
GRANT SELECT, INSERT, UPDATE ON devices, device_enrolments, redemption_counters TO towncard_app;
