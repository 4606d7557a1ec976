-- merchant-redemption: offline redemptions synced by a tablet (the stored outcome
-- of each item, so a batch synced twice changes nothing), the per-tablet daily
-- offline allowance, and the PIN lockout of staff users.

-- One row per item id a tablet synced: accepted (with its redemption) or rejected
-- (with the code it was rejected with). The same id again answers from here.
CREATE TABLE offline_sync_items (
    town_id        uuid NOT NULL REFERENCES towns (id),
    device_id      uuid NOT NULL,
    id             uuid NOT NULL,
    request_hash   bytea NOT NULL,
    occurred_at    timestamptz NOT NULL,
    status         text NOT NULL CONSTRAINT offline_sync_items_status_known
                   CHECK (status IN ('accepted', 'rejected')),
    redemption_id  uuid REFERENCES redemptions (id),
    code           text,
    message        text,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, id),
    FOREIGN KEY (town_id, device_id) REFERENCES devices (town_id, id),
    CONSTRAINT offline_sync_items_outcome
        CHECK ((status = 'accepted' AND redemption_id IS NOT NULL AND code IS NULL)
            OR (status = 'rejected' AND redemption_id IS NULL AND code IS NOT NULL))
);

-- What a tablet redeemed offline per local day: bounds what the municipality can
-- lose to one tablet. Raised with a conditional upsert in the item's transaction.
CREATE TABLE offline_allowances (
    town_id       uuid NOT NULL REFERENCES towns (id),
    device_id     uuid NOT NULL,
    day           date NOT NULL,
    redemptions   integer NOT NULL DEFAULT 0 CHECK (redemptions >= 0),
    municipality  numeric(18, 2) NOT NULL DEFAULT 0 CHECK (municipality >= 0),
    PRIMARY KEY (device_id, day),
    FOREIGN KEY (town_id, device_id) REFERENCES devices (town_id, id)
);

-- Wrong PINs in a row; at 5 the PIN is locked until pin_locked_until or a new PIN.
ALTER TABLE staff_users
    ADD COLUMN pin_failures     integer NOT NULL DEFAULT 0 CHECK (pin_failures >= 0),
    ADD COLUMN pin_locked_until timestamptz;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['offline_sync_items', 'offline_allowances']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY town_isolation ON %I USING (town_id = current_town()) '
                       'WITH CHECK (town_id = current_town())', t);
    END LOOP;
END $$;

-- Outcomes are never rewritten.
GRANT SELECT, INSERT ON offline_sync_items TO towncard_app;
GRANT SELECT, INSERT, UPDATE ON offline_allowances TO towncard_app;
