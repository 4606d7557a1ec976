-- Town signing keys for QR tokens, and the redemption records every service reads.

-- Ed25519 keys that sign a town's QR tokens. Several may verify at once (rotation):
-- the newest key without retired_at signs; a key verifies until revoked_at.
CREATE TABLE town_keys (
    kid                 text PRIMARY KEY CONSTRAINT town_keys_kid_format CHECK (kid ~ '^[a-z0-9]{1,16}$'),
    town_id             uuid NOT NULL REFERENCES towns (id),
    purpose             text NOT NULL DEFAULT 'qr' CHECK (purpose IN ('qr')),
    public_key          bytea NOT NULL CHECK (length(public_key) = 32),
    -- The private key sealed with the deployment's key-encryption key; NULL where
    -- this deployment only verifies.
    sealed_private_key  bytea,
    created_at          timestamptz NOT NULL DEFAULT now(),
    retired_at          timestamptz,
    revoked_at          timestamptz
);
CREATE INDEX town_keys_town ON town_keys (town_id, purpose);

-- One row per redemption at a counter. Money columns are the amounts posted to the
-- ledger in journal_tx; the period is the settlement month it was booked into.
CREATE TABLE redemptions (
    id                  uuid PRIMARY KEY,
    town_id             uuid NOT NULL REFERENCES towns (id),
    merchant_id         uuid NOT NULL,
    promotion_id        uuid NOT NULL,
    card_id             uuid NOT NULL,
    device_id           uuid,
    staff_user_id       uuid,
    receipt_number      text NOT NULL,
    idempotency_key     text NOT NULL,
    basket              numeric(18, 2) NOT NULL CHECK (basket >= 0),
    discount            numeric(18, 2) NOT NULL CHECK (discount >= 0),
    municipality_share  numeric(18, 2) NOT NULL CHECK (municipality_share >= 0),
    merchant_share      numeric(18, 2) NOT NULL CHECK (merchant_share >= 0),
    points_earned       integer NOT NULL DEFAULT 0,
    status              text NOT NULL DEFAULT 'redeemed' CONSTRAINT redemptions_status_known
                        CHECK (status IN ('redeemed', 'voided', 'partially_refunded', 'refunded')),
    source              text NOT NULL DEFAULT 'online' CHECK (source IN ('online', 'offline')),
    -- When it happened at the counter (device time for offline redemptions).
    occurred_at         timestamptz NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    period              date NOT NULL,
    -- True when booked after its natural month had closed.
    adjustment          boolean NOT NULL DEFAULT false,
    journal_tx          uuid NOT NULL REFERENCES journal_transactions (id),
    CONSTRAINT redemptions_split_adds_up CHECK (municipality_share + merchant_share = discount),
    CONSTRAINT redemptions_idempotency UNIQUE (town_id, idempotency_key),
    CONSTRAINT redemptions_receipt UNIQUE (town_id, receipt_number),
    FOREIGN KEY (town_id, merchant_id) REFERENCES merchants (town_id, id),
    FOREIGN KEY (town_id, promotion_id) REFERENCES promotions (town_id, id),
    FOREIGN KEY (town_id, card_id) REFERENCES cards (town_id, id),
    FOREIGN KEY (town_id, period) REFERENCES settlement_periods (town_id, month),
    UNIQUE (town_id, id)
);
CREATE INDEX redemptions_period_merchant ON redemptions (town_id, period, merchant_id);
CREATE INDEX redemptions_card_day ON redemptions (card_id, occurred_at);

-- Voids and (partial) refunds: each reverses part of a redemption with its own
-- journal transaction, booked into the period open when it was recorded.
CREATE TABLE redemption_reversals (
    id                      uuid PRIMARY KEY,
    town_id                 uuid NOT NULL REFERENCES towns (id),
    redemption_id           uuid NOT NULL,
    kind                    text NOT NULL CHECK (kind IN ('void', 'refund')),
    idempotency_key         text NOT NULL,
    basket_refunded         numeric(18, 2) NOT NULL CHECK (basket_refunded >= 0),
    discount_reversed       numeric(18, 2) NOT NULL CHECK (discount_reversed >= 0),
    municipality_reversed   numeric(18, 2) NOT NULL CHECK (municipality_reversed >= 0),
    merchant_reversed       numeric(18, 2) NOT NULL CHECK (merchant_reversed >= 0),
    reason                  text NOT NULL DEFAULT '',
    staff_user_id           uuid,
    occurred_at             timestamptz NOT NULL,
    recorded_at             timestamptz NOT NULL DEFAULT now(),
    period                  date NOT NULL,
    adjustment              boolean NOT NULL DEFAULT false,
    journal_tx              uuid NOT NULL REFERENCES journal_transactions (id),
    CONSTRAINT redemption_reversals_split_adds_up
        CHECK (municipality_reversed + merchant_reversed = discount_reversed),
    CONSTRAINT redemption_reversals_idempotency UNIQUE (town_id, idempotency_key),
    FOREIGN KEY (town_id, redemption_id) REFERENCES redemptions (town_id, id),
    FOREIGN KEY (town_id, period) REFERENCES settlement_periods (town_id, month)
);
CREATE INDEX redemption_reversals_period ON redemption_reversals (town_id, period);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['town_keys', 'redemptions', 'redemption_reversals']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY town_isolation ON %I USING (town_id = current_town()) '
                       'WITH CHECK (town_id = current_town())', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE ON town_keys, redemptions TO towncard_app;
GRANT SELECT, INSERT ON redemption_reversals TO towncard_app;
