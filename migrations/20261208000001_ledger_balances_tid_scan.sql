-- The bulk balance update of 20261206000002 reaches its shards by their addresses
-- again, as it meant to: joined on `ctid` alone, the planner read the whole
-- ledger_balances table (every town's shards, the row-level policy checked on each)
-- and hashed it against the picked shards whenever the table was small enough to look
-- cheap. The same addresses as a list (`ctid = ANY (...)`) make it a TID scan of just
-- those rows. Postgres's costs still put a whole read of a table of a few dozen pages
-- below thirty row fetches (it prices each fetch as a disk read), which the rows'
-- being in memory makes untrue, so the function plans without sequential scans: its
-- every statement has an index or the addresses to go by.
CREATE OR REPLACE FUNCTION ledger_apply_balances(accounts uuid[], shards smallint[],
                                                 guarded boolean[], deltas numeric[])
    RETURNS uuid
    LANGUAGE plpgsql AS $$
DECLARE
    wanted integer;
    applied integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM unnest(guarded, deltas) AS u(g, d) WHERE u.g AND u.d > 0) THEN
        BEGIN
            WITH d AS MATERIALIZED (
                SELECT u.a, u.g, u.delta FROM unnest(accounts, guarded, deltas) AS u(a, g, delta)
                WHERE u.delta <> 0),
            picked AS MATERIALIZED (
                SELECT d.delta, (
                    SELECT b.ctid FROM ledger_balances b
                    WHERE b.account_id = d.a AND (NOT d.g OR b.balance >= -d.delta)
                    ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED) AS tid
                FROM d),
            done AS (
                UPDATE ledger_balances b SET balance = b.balance + p.delta
                FROM picked p WHERE b.ctid = p.tid
                  AND b.ctid = ANY (ARRAY(SELECT q.tid FROM picked q))
                RETURNING 1)
            SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM done) INTO wanted, applied;
            IF applied = wanted THEN
                RETURN NULL;
            END IF;
            RAISE EXCEPTION USING ERRCODE = 'TC002';
        EXCEPTION WHEN SQLSTATE 'TC002' THEN
            NULL;
        END;
    END IF;
    FOR i IN 1 .. coalesce(array_length(accounts, 1), 0) LOOP
        IF deltas[i] <> 0
           AND NOT ledger_apply_balance(accounts[i], shards[i], guarded[i], deltas[i]) THEN
            RETURN accounts[i];
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
ALTER FUNCTION ledger_apply_balances(uuid[], smallint[], boolean[], numeric[])
    SET enable_seqscan = off;
