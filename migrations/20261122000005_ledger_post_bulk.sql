-- Many postings in one round trip (`ledger::post_bulk`): the balances' net changes,
-- a lane, every posting chained on it (hash as `ledger_post()` computes it, from the
-- canonical JSON split around lane and sequence), the journal rows, the entries and
-- the lane's new head. All or nothing within the caller's transaction: a debit that
-- a guarded account cannot cover undoes the rest (the block is a subtransaction)
-- and its account is returned; NULL once posted. `entry_tx` names each entry's
-- transaction (one of `tx_ids`).
CREATE FUNCTION ledger_post_bulk(
    town uuid, lanes smallint, posted_at timestamptz,
    tx_ids uuid[], keys text[], body_hashes bytea[], kinds text[], memos text[],
    reverses uuid[], chain_heads bytea[], chain_tails bytea[],
    entry_tx uuid[], entry_idx smallint[], entry_accounts uuid[], entry_amounts numeric[],
    net_accounts uuid[], net_deltas numeric[], net_shards smallint[], net_guarded boolean[])
    RETURNS uuid
    LANGUAGE plpgsql AS $$
DECLARE
    refused uuid;
    l smallint;
    s bigint;
    prev bytea;
    seqs bigint[] := '{}';
    prevs bytea[] := '{}';
    hashes bytea[] := '{}';
BEGIN
    BEGIN
        refused := ledger_apply_balances(net_accounts, net_shards, net_guarded, net_deltas);
        IF refused IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'TC003';
        END IF;

        -- A free lane, else wait for one at random; a town's first posting creates them.
        FOR attempt IN 1 .. 2 LOOP
            SELECT jl.lane, jl.seq, jl.head_hash INTO l, s, prev FROM journal_lanes jl
            WHERE jl.town_id = town ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED;
            EXIT WHEN FOUND;
            l := floor(random() * lanes)::smallint;
            SELECT jl.lane, jl.seq, jl.head_hash INTO l, s, prev FROM journal_lanes jl
            WHERE jl.town_id = town AND jl.lane = l FOR UPDATE;
            EXIT WHEN FOUND;
            PERFORM ledger_init_town(town, lanes);
        END LOOP;
        IF l IS NULL THEN
            RAISE EXCEPTION 'the town''s journal lanes could not be created';
        END IF;

        FOR i IN 1 .. coalesce(array_length(tx_ids, 1), 0) LOOP
            s := s + 1;
            seqs[i] := s;
            prevs[i] := prev;
            prev := sha256(prev || chain_heads[i]
                           || convert_to(l::text || ',"seq":' || s::text, 'UTF8') || chain_tails[i]);
            hashes[i] := prev;
        END LOOP;
        INSERT INTO journal_transactions
            (id, town_id, lane, seq, idempotency_key, body_hash, kind, memo, reverses,
             posted_at, prev_hash, hash)
        SELECT u.id, town, l, u.seq, u.key, u.body, u.kind, u.memo, u.rev, posted_at, u.prev, u.hash
        FROM unnest(tx_ids, seqs, keys, body_hashes, kinds, memos, reverses, prevs, hashes)
            AS u(id, seq, key, body, kind, memo, rev, prev, hash);
        INSERT INTO journal_entries (transaction_id, idx, town_id, account_id, amount)
        SELECT u.t, u.i, town, u.a, u.m
        FROM unnest(entry_tx, entry_idx, entry_accounts, entry_amounts) AS u(t, i, a, m);
        UPDATE journal_lanes jl SET seq = s, head_hash = prev WHERE jl.town_id = town AND jl.lane = l;
        RETURN NULL;
    EXCEPTION WHEN SQLSTATE 'TC003' THEN
        RETURN refused;
    END;
END $$;
GRANT EXECUTE ON FUNCTION ledger_post_bulk(uuid, smallint, timestamptz, uuid[], text[], bytea[],
    text[], text[], uuid[], bytea[], bytea[], uuid[], smallint[], uuid[], numeric[], uuid[],
    numeric[], smallint[], boolean[]) TO towncard_app;
