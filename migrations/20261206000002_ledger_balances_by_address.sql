-- A bulk posting's balances as before (migration 20261122000003), but each picked
-- shard is updated by the row address its lock returned (a TID scan) instead of a
-- second lookup by (account, shard): a batch of redemptions changes about thirty
-- accounts. The address stays valid: the row is locked by this transaction.
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
