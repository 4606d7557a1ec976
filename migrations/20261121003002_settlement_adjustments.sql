-- Settlement: reconciliation adjustments booked into the next open period, and the
-- names and bank details a closed period's reports print, frozen at close.

-- A reconciliation `adjust` decision on a receipt of `month`: the ledger correction of
-- the merchant's receivable (and own share), booked into `period`, the first open
-- period from `month` on. One per receipt and period reconciled.
CREATE TABLE settlement_adjustments (
    id              uuid PRIMARY KEY,
    town_id         uuid NOT NULL REFERENCES towns (id),
    month           date NOT NULL,
    merchant_id     uuid NOT NULL,
    receipt_number  text NOT NULL,
    redemption_id   uuid NOT NULL,
    promotion_id    uuid NOT NULL,
    period          date NOT NULL,
    -- The discount agreed for the receipt, and the change it makes to the split.
    agreed_discount numeric(18, 2) NOT NULL CHECK (agreed_discount >= 0),
    municipality    numeric(18, 2) NOT NULL,
    merchant_share  numeric(18, 2) NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    decided_by      uuid,
    journal_tx      uuid NOT NULL REFERENCES journal_transactions (id),
    CONSTRAINT settlement_adjustments_once UNIQUE (town_id, month, merchant_id, receipt_number),
    FOREIGN KEY (town_id, month) REFERENCES settlement_periods (town_id, month),
    FOREIGN KEY (town_id, period) REFERENCES settlement_periods (town_id, month),
    FOREIGN KEY (town_id, redemption_id) REFERENCES redemptions (town_id, id)
);
-- Listing a period's adjustments in time order, like its redemptions.
CREATE INDEX settlement_adjustments_period_time ON settlement_adjustments (town_id, period, occurred_at, id);

-- What a closed period's reports print about the town, its merchants and promotions,
-- as it was at close: a later rename or new IBAN must not change a closed download.
CREATE TABLE period_names (
    town_id   uuid NOT NULL REFERENCES towns (id),
    month     date NOT NULL,
    kind      text NOT NULL CONSTRAINT period_names_kind CHECK (kind IN ('town', 'merchant', 'promotion')),
    party_id  uuid NOT NULL,
    name      text NOT NULL,
    iban      text,
    bic       text,
    timezone  text,
    PRIMARY KEY (town_id, month, kind, party_id),
    FOREIGN KEY (town_id, month) REFERENCES settlement_periods (town_id, month)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['settlement_adjustments', 'period_names']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY town_isolation ON %I USING (town_id = current_town()) '
                       'WITH CHECK (town_id = current_town())', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT ON settlement_adjustments, period_names TO towncard_app;
