-- A posting in one round trip: the balance changes, the lane, the chain hash, the
-- journal row, its entries and the lane's new head, all in `ledger_post()`. A redemption
-- used to spend eight round trips on this (a savepoint of three for the budget, one
-- per other balance, the lane, the journal statement). The rules are those of
-- docs/ledger.md; crates/ledger only prepares the arguments.

-- Applies a net change to one account's sharded balance; false when a guarded
-- (non-negative) account cannot cover a debit. Lock order: the caller applies
-- accounts in ascending id order. Within one account a transaction takes a free
-- shard without waiting, or, holding none of its shards, waits for one shard or for
-- all of them in ascending order; it never waits on a shard of an account it already
-- holds one of. So no wait cycle can form.
CREATE FUNCTION ledger_apply_balance(account uuid, shards smallint, guarded boolean, delta numeric)
    RETURNS boolean
    LANGUAGE plpgsql AS $$
DECLARE
    took smallint;
    total numeric;
    n integer;
    part numeric;
    rest numeric;
BEGIN
    IF shards = 1 THEN
        UPDATE ledger_balances SET balance = balance + delta
        WHERE account_id = account AND shard = 0 AND (NOT guarded OR balance >= -delta);
        RETURN FOUND;
    END IF;

    IF NOT guarded THEN
        -- Any free shard will do; when all are busy, wait for one at random.
        UPDATE ledger_balances SET balance = balance + delta
        WHERE account_id = account AND shard = (
            SELECT shard FROM ledger_balances WHERE account_id = account
            ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED);
        IF FOUND THEN
            RETURN true;
        END IF;
        -- (The shard is drawn first: random() in the WHERE would be drawn per row.)
        took := floor(random() * shards)::smallint;
        UPDATE ledger_balances SET balance = balance + delta
        WHERE account_id = account AND shard = took;
        RETURN FOUND;
    END IF;

    IF delta > 0 THEN
        -- Funding a guarded account: spread it so every shard can serve debits;
        -- shard 0 takes the cents that do not divide evenly.
        SELECT count(*) INTO n FROM (
            SELECT shard FROM ledger_balances WHERE account_id = account
            ORDER BY shard FOR UPDATE) locked;
        part := trunc(delta / n, 2);
        rest := delta - part * n;
        UPDATE ledger_balances
        SET balance = balance + part + CASE WHEN shard = 0 THEN rest ELSE 0 END
        WHERE account_id = account;
        RETURN true;
    END IF;

    -- A debit of a guarded account. A lock whose recheck fails stays held (a shard
    -- skipped because another transaction had just emptied it), so each attempt runs
    -- in a block that is undone when it fails: the next one starts holding no shard
    -- of this account, as the lock order needs.
    BEGIN
        UPDATE ledger_balances SET balance = balance + delta
        WHERE account_id = account AND shard = (
            SELECT shard FROM ledger_balances WHERE account_id = account AND balance >= -delta
            ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING shard INTO took;
        IF took IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'TC001';
        END IF;
        RETURN true;
    EXCEPTION WHEN SQLSTATE 'TC001' THEN
        NULL;
    END;
    -- Wait for one shard that covered the amount a moment ago.
    BEGIN
        SELECT shard INTO took FROM ledger_balances
        WHERE account_id = account AND balance >= -delta ORDER BY random() LIMIT 1;
        IF took IS NOT NULL THEN
            UPDATE ledger_balances SET balance = balance + delta
            WHERE account_id = account AND shard = took AND balance >= -delta;
            IF FOUND THEN
                RETURN true;
            END IF;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'TC001';
    EXCEPTION WHEN SQLSTATE 'TC001' THEN
        NULL;
    END;
    -- No single shard covers it: gather the whole balance. Spread the remainder again
    -- when each shard can still serve a debit of this size; otherwise keep it whole in
    -- shard 0 so the fast path can still find it.
    SELECT sum(balance), count(*) INTO total, n FROM (
        SELECT balance FROM ledger_balances WHERE account_id = account
        ORDER BY shard FOR UPDATE) locked;
    IF total + delta < 0 THEN
        RETURN false;
    END IF;
    part := trunc((total + delta) / n, 2);
    IF part < -delta THEN
        part := 0;
    END IF;
    rest := total + delta - part * n;
    UPDATE ledger_balances SET balance = part + CASE WHEN shard = 0 THEN rest ELSE 0 END
    WHERE account_id = account;
    RETURN true;
END $$;

-- Creates a town's hash-chain lanes, each starting from the genesis hash (32 zero
-- bytes, `hash::GENESIS`). Idempotent; `ledger::init_town` and `ledger_post()` call it.
CREATE FUNCTION ledger_init_town(town uuid, lanes smallint) RETURNS void
    LANGUAGE sql AS $$
    INSERT INTO journal_lanes (town_id, lane, seq, head_hash)
    SELECT town, g, 0, decode(repeat('00', 32), 'hex') FROM generate_series(0, lanes - 1) AS g
    ON CONFLICT DO NOTHING
$$;

-- Posts one journal transaction. `net_*` are the per-account net changes in ascending
-- account order; `chain_head` and `chain_tail` are the canonical JSON of the chained
-- fields (crates/ledger/src/hash.rs) before and after the lane and sequence, which only
-- this function knows: hash = SHA-256(prev || head || lane || ',"seq":' || seq || tail).
-- Returns the account that could not cover its debit (nothing is posted then, and the
-- caller rolls back what was applied), or NULL once posted.
CREATE FUNCTION ledger_post(
    tx uuid, town uuid, key text, body_hash bytea, kind text, memo text, reverses uuid,
    posted_at timestamptz, chain_head bytea, chain_tail bytea, lanes smallint,
    entry_accounts uuid[], entry_amounts numeric[],
    net_accounts uuid[], net_deltas numeric[], net_shards smallint[], net_guarded boolean[])
    RETURNS uuid
    LANGUAGE plpgsql AS $$
DECLARE
    i integer;
    l smallint;
    s bigint;
    prev bytea;
    h bytea;
BEGIN
    FOR i IN 1 .. coalesce(array_length(net_accounts, 1), 0) LOOP
        IF net_deltas[i] <> 0
           AND NOT ledger_apply_balance(net_accounts[i], net_shards[i], net_guarded[i], net_deltas[i]) THEN
            RETURN net_accounts[i];
        END IF;
    END LOOP;

    -- A free lane, else wait for one at random; a town's first posting creates them.
    FOR attempt IN 1 .. 2 LOOP
        SELECT jl.lane, jl.seq + 1, jl.head_hash INTO l, s, prev FROM journal_lanes jl
        WHERE jl.town_id = town ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED;
        EXIT WHEN FOUND;
        l := floor(random() * lanes)::smallint;
        SELECT jl.lane, jl.seq + 1, jl.head_hash INTO l, s, prev FROM journal_lanes jl
        WHERE jl.town_id = town AND jl.lane = l FOR UPDATE;
        EXIT WHEN FOUND;
        PERFORM ledger_init_town(town, lanes);
    END LOOP;
    IF l IS NULL THEN
        RAISE EXCEPTION 'the town''s journal lanes could not be created';
    END IF;

    h := sha256(prev || chain_head || convert_to(l::text || ',"seq":' || s::text, 'UTF8') || chain_tail);
    INSERT INTO journal_transactions
        (id, town_id, lane, seq, idempotency_key, body_hash, kind, memo, reverses,
         posted_at, prev_hash, hash)
    VALUES (tx, town, l, s, key, body_hash, kind, memo, reverses, posted_at, prev, h);
    INSERT INTO journal_entries (transaction_id, idx, town_id, account_id, amount)
    SELECT tx, (u.n - 1)::smallint, town, u.a, u.m
    FROM unnest(entry_accounts, entry_amounts) WITH ORDINALITY AS u(a, m, n);
    UPDATE journal_lanes jl SET seq = s, head_hash = h WHERE jl.town_id = town AND jl.lane = l;
    RETURN NULL;
END $$;

GRANT EXECUTE ON FUNCTION ledger_init_town(uuid, smallint) TO towncard_app;
GRANT EXECUTE ON FUNCTION ledger_apply_balance(uuid, smallint, boolean, numeric) TO towncard_app;
GRANT EXECUTE ON FUNCTION ledger_post(uuid, uuid, text, bytea, text, text, uuid, timestamptz,
    bytea, bytea, smallint, uuid[], numeric[], uuid[], numeric[], smallint[], boolean[])
    TO towncard_app;
