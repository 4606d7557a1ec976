-- A bulk posting's shards picked with one index probe each where it can: each
-- account's change first tries one shard drawn at random (by its key, skipped if
-- another transaction holds it or, for a guarded debit, if it does not cover it),
-- and only then takes any free one at random as before (20261122000003), which reads
-- and sorts all of the account's shards. Most accounts of a batch are a merchant's,
-- which no one else holds at that moment; a promotion's hot budget still finds a
-- free shard. As in 20261208000001, no sequential scans.
CREATE OR REPLACE FUNCTION ledger_apply_balances(accounts uuid[], shards smallint[],
                                                 guarded boolean[], deltas numeric[])
    RETURNS uuid
    LANGUAGE plpgsql
    SET enable_seqscan = off
    AS $$
DECLARE
    wanted integer;
    applied integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM unnest(guarded, deltas) AS u(g, d) WHERE u.g AND u.d > 0) THEN
        BEGIN
            WITH d AS MATERIALIZED (
                SELECT u.a, u.g, u.delta, floor(random() * u.n)::smallint AS s
                FROM unnest(accounts, shards, guarded, deltas) AS u(a, n, g, delta)
                WHERE u.delta <> 0),
            picked AS MATERIALIZED (
                SELECT d.delta, coalesce(
                    (SELECT b.ctid FROM ledger_balances b
                     WHERE b.account_id = d.a AND b.shard = d.s
                       AND (NOT d.g OR b.balance >= -d.delta)
                     FOR UPDATE SKIP LOCKED),
                    (SELECT b.ctid FROM ledger_balances b
                     WHERE b.account_id = d.a AND (NOT d.g OR b.balance >= -d.delta)
                     ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED)) AS tid
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
