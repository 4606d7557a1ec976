-- Settlement periods: each town's calendar month (in the town's time zone) is a
-- period, open → closed → paid. Money events are booked into a period when they are
-- recorded; an event whose month is already closed goes to the first open month after
-- it, as an adjustment. Closing locks the period row, and booking takes a share lock
-- on it, so nothing slips into a period while it closes.

CREATE TABLE settlement_periods (
    town_id        uuid NOT NULL REFERENCES towns (id),
    month          date NOT NULL CONSTRAINT settlement_periods_first_of_month
                   CHECK (extract(day FROM month) = 1),
    status         text NOT NULL DEFAULT 'open' CONSTRAINT settlement_periods_status_known
                   CHECK (status IN ('open', 'closed', 'paid')),
    closed_at      timestamptz,
    closed_by      uuid,
    paid_at        timestamptz,
    bank_reference text,
    PRIMARY KEY (town_id, month)
);

ALTER TABLE settlement_periods ENABLE ROW LEVEL SECURITY;
CREATE POLICY town_isolation ON settlement_periods
    USING (town_id = current_town()) WITH CHECK (town_id = current_town());
GRANT SELECT, INSERT, UPDATE ON settlement_periods TO towncard_app;

-- The month an event at `at` belongs to, in the town's time zone.
CREATE FUNCTION natural_period(town uuid, at timestamptz) RETURNS date
    LANGUAGE sql STABLE AS $$
    SELECT date_trunc('month', at AT TIME ZONE t.timezone)::date FROM towns t WHERE t.id = town
$$;

-- The open period an event at `at` is booked into: its natural month if open, else
-- the first open month after it (opened on demand). Holds a share lock on the
-- period row until the caller's transaction ends, so a concurrent close waits.
CREATE FUNCTION booking_period(town uuid, at timestamptz) RETURNS date
    LANGUAGE plpgsql AS $$
DECLARE
    m date := natural_period(town, at);
    s text;
BEGIN
    IF m IS NULL THEN
        RAISE EXCEPTION 'unknown town %', town USING ERRCODE = 'foreign_key_violation';
    END IF;
    LOOP
        INSERT INTO settlement_periods (town_id, month) VALUES (town, m) ON CONFLICT DO NOTHING;
        SELECT status INTO s FROM settlement_periods
            WHERE town_id = town AND month = m FOR SHARE;
        IF s = 'open' THEN
            RETURN m;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION natural_period(uuid, timestamptz), booking_period(uuid, timestamptz) TO towncard_app;
