-- A batch of scans' reads in one round trip and one snapshot: the cards not in the
-- service's cache, and every counter the scans' offers show (one primary-key lookup
-- per (scan, promotion, scope, key), tagged with the scan's index). It sets the town
-- for row-level security itself, for the statement's own transaction, so the caller
-- sends no BEGIN and no COMMIT. Card rows come with `promotion_id` NULL.
CREATE FUNCTION redemption_scan_read(town uuid, cards uuid[], scan integer[],
                                     promotions uuid[], scopes text[], keys text[])
    RETURNS TABLE (scan_index integer, id uuid, number text, status text, token_serial integer,
                   expires_at timestamptz, activated_at timestamptz, product_code text,
                   product_kind text, validity_hours integer, promotion_id uuid, scope text,
                   used numeric)
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('towncard.town_id', town::text, true);
    RETURN QUERY
        SELECT NULL::integer, c.id, c.number, c.status, c.token_serial, c.expires_at,
               c.activated_at, p.code, p.kind, p.validity_hours, NULL::uuid, NULL::text,
               NULL::numeric
        FROM cards c JOIN card_products p ON p.id = c.product_id
        WHERE c.id = ANY(cards)
        UNION ALL
        SELECT u.i, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, u.p, u.s, r.used
        FROM unnest(scan, promotions, scopes, keys) AS u(i, p, s, k)
        CROSS JOIN LATERAL (
            SELECT rc.used FROM redemption_counters rc
            WHERE rc.promotion_id = u.p AND rc.scope = u.s AND rc.key = u.k
            LIMIT 1) r;
END $$;
GRANT EXECUTE ON FUNCTION redemption_scan_read(uuid, uuid[], integer[], uuid[], text[], text[])
    TO towncard_app;

-- A batch of redeems' first step in one round trip: the per-key locks (taken in one
-- order, so two batches cannot deadlock on them), then which of the keys were used
-- and which of the tablets are still enrolled. VOLATILE: the lookup takes its own
-- snapshot after the locks, so it sees whatever committed before them.
CREATE FUNCTION redemption_claim_keys(lock_keys text[], idem_keys text[], device_ids uuid[])
    RETURNS TABLE (used_key text, active_device uuid)
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(h)
    FROM (SELECT hashtextextended(k, 42) AS h FROM unnest(lock_keys) AS k ORDER BY 1) s;
    RETURN QUERY
        SELECT r.idempotency_key, NULL::uuid FROM redemptions r
        WHERE r.town_id = current_town() AND r.idempotency_key = ANY(idem_keys)
        UNION ALL
        SELECT NULL, d.id FROM devices d WHERE d.id = ANY(device_ids) AND d.revoked_at IS NULL;
END $$;
GRANT EXECUTE ON FUNCTION redemption_claim_keys(text[], text[], uuid[]) TO towncard_app;
