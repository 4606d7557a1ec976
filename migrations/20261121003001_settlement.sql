-- Settlement: frozen period totals, merchant confirmations and claims, reconciliation
-- decisions, payouts and report digests. A closed period's numbers are copied into
-- period_totals once, at close, from the journal; every report of a closed period
-- reads them, so the same closed period always gives the same bytes.

-- Digest of the journal lane heads when the period closed (anchors the hash chain
-- outside the database; printed on every report of the period).
ALTER TABLE settlement_periods ADD COLUMN journal_digest text NOT NULL DEFAULT '';

-- Listing a period's redemptions in time order without sorting the month.
CREATE INDEX redemptions_period_time ON redemptions (town_id, period, occurred_at, id);
CREATE INDEX redemption_reversals_period_time ON redemption_reversals (town_id, period, occurred_at, id);

-- Per merchant, promotion and local day of a closed period: the journal's amounts.
CREATE TABLE period_totals (
    town_id         uuid NOT NULL REFERENCES towns (id),
    month           date NOT NULL,
    merchant_id     uuid NOT NULL,
    promotion_id    uuid NOT NULL,
    day             date NOT NULL,
    redemptions     bigint NOT NULL,
    reversals       bigint NOT NULL,
    basket          numeric(18, 2) NOT NULL,
    discount        numeric(18, 2) NOT NULL,
    municipality    numeric(18, 2) NOT NULL,
    merchant_share  numeric(18, 2) NOT NULL,
    points          bigint NOT NULL,
    adjustments     numeric(18, 2) NOT NULL,
    PRIMARY KEY (town_id, month, merchant_id, promotion_id, day),
    FOREIGN KEY (town_id, month) REFERENCES settlement_periods (town_id, month)
);

-- What was left of each promotion's budget when the period closed.
CREATE TABLE period_budgets (
    town_id       uuid NOT NULL REFERENCES towns (id),
    month         date NOT NULL,
    promotion_id  uuid NOT NULL,
    budget_left   numeric(18, 2) NOT NULL,
    PRIMARY KEY (town_id, month, promotion_id),
    FOREIGN KEY (town_id, month) REFERENCES settlement_periods (town_id, month)
);

-- A merchant owner confirms its statement of a period.
CREATE TABLE statement_confirmations (
    town_id       uuid NOT NULL REFERENCES towns (id),
    month         date NOT NULL,
    merchant_id   uuid NOT NULL,
    confirmed_by  uuid,
    confirmed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (town_id, month, merchant_id),
    FOREIGN KEY (town_id, month) REFERENCES settlement_periods (town_id, month)
);

-- A merchant's own list of receipts for a period (its claim); the newest upload counts.
CREATE TABLE merchant_claims (
    id           uuid PRIMARY KEY,
    town_id      uuid NOT NULL REFERENCES towns (id),
    month        date NOT NULL,
    merchant_id  uuid NOT NULL,
    uploaded_by  uuid,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    lines        integer NOT NULL,
    FOREIGN KEY (town_id, month) REFERENCES settlement_periods (town_id, month)
);
CREATE INDEX merchant_claims_period ON merchant_claims (town_id, month, merchant_id, uploaded_at DESC);

CREATE TABLE merchant_claim_lines (
    claim_id        uuid NOT NULL REFERENCES merchant_claims (id),
    town_id         uuid NOT NULL REFERENCES towns (id),
    receipt_number  text NOT NULL,
    basket          numeric(18, 2) NOT NULL,
    discount        numeric(18, 2) NOT NULL,
    PRIMARY KEY (claim_id, receipt_number)
);

-- The town admin's decision on one difference between statement and claim.
CREATE TABLE reconciliation_decisions (
    town_id         uuid NOT NULL REFERENCES towns (id),
    month           date NOT NULL,
    merchant_id     uuid NOT NULL,
    receipt_number  text NOT NULL,
    decision        text NOT NULL CONSTRAINT reconciliation_decisions_known
                    CHECK (decision IN ('accept', 'reject', 'adjust')),
    amount          numeric(18, 2),
    note            text NOT NULL DEFAULT '',
    decided_by      uuid,
    decided_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (town_id, month, merchant_id, receipt_number),
    CONSTRAINT reconciliation_decisions_adjust_amount CHECK ((decision = 'adjust') = (amount IS NOT NULL)),
    FOREIGN KEY (town_id, month) REFERENCES settlement_periods (town_id, month)
);

-- One payout per merchant per period: the ledger transaction that cleared it.
CREATE TABLE settlement_payouts (
    town_id         uuid NOT NULL REFERENCES towns (id),
    month           date NOT NULL,
    merchant_id     uuid NOT NULL,
    amount          numeric(18, 2) NOT NULL CHECK (amount > 0),
    bank_reference  text NOT NULL,
    journal_tx      uuid NOT NULL REFERENCES journal_transactions (id),
    paid_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (town_id, month, merchant_id),
    FOREIGN KEY (town_id, month) REFERENCES settlement_periods (town_id, month)
);

-- The digest each download of a closed period had the first time; later downloads
-- must match it byte for byte.
CREATE TABLE period_reports (
    town_id     uuid NOT NULL REFERENCES towns (id),
    month       date NOT NULL,
    name        text NOT NULL,
    sha256      text NOT NULL,
    bytes       bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (town_id, month, name),
    FOREIGN KEY (town_id, month) REFERENCES settlement_periods (town_id, month)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['period_totals', 'period_budgets', 'statement_confirmations', 'merchant_claims',
                             'merchant_claim_lines', 'reconciliation_decisions',
                             'settlement_payouts', 'period_reports']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY town_isolation ON %I USING (town_id = current_town()) '
                       'WITH CHECK (town_id = current_town())', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT ON period_totals, period_budgets, merchant_claims, merchant_claim_lines,
    settlement_payouts, period_reports TO towncard_app;
GRANT SELECT, INSERT, UPDATE ON statement_confirmations, reconciliation_decisions TO towncard_app;
