-- pgbench script: the statements merchant-redemption sends for one scan and one
-- redeem done one by one (a redeem outside a batch: docs/redemption.md), in the
-- same order and transactions, with no HTTP and no service in
-- between (deploy/bench/redemption.sh runs it as the service's role with
-- -M prepared, as the service's driver prepares its statements). The variables
-- come from the load generator's hot run: its town and promotion (-D), and per
-- client one of its tablets' merchants with that merchant's accounts in the order
-- the service locks them (table bench_replay_clients); each run takes a random card
-- of the town. The town is set for the role in this database, so no statement is
-- spent on it (the service sends it in BEGIN's message). Limits are set high so
-- that every counter upsert writes, as a first redemption does.
\set n random(1, :cards)
\set c :client_id % :clients
BEGIN;
SELECT c.id, c.number, c.status, c.token_serial, c.expires_at, c.activated_at,
       p.code AS product_code, p.kind AS product_kind, p.validity_hours
    FROM cards c JOIN card_products p ON p.id = c.product_id
    WHERE c.id = (SELECT id FROM bench_replay_cards WHERE n = :n);
SELECT promotion_id, scope, used FROM redemption_counters_of(
    ARRAY[:promotion::uuid],
    '{card_day,card_merchant,card_promotion,merchant_budget,day_budget}'::text[],
    ARRAY[:n::text, :client_id::text, :promotion::text, :client_id::text, current_date::text]);
COMMIT;
BEGIN;
SELECT device_active, id AS replayed, merchant_id, request_hash,
       (SELECT id FROM bench_replay_cards WHERE n = :n) AS card,
       gen_random_uuid() AS tx, gen_random_uuid() AS rid, m.merchant, m.staff,
       m.entry_accounts, m.net_accounts, m.net_deltas, m.net_shards, m.net_guarded
    FROM redemption_claim_key(random()::text, random()::text, NULL)
    CROSS JOIN bench_replay_clients m WHERE m.client = :c \gset
SELECT c.id, c.number, c.status, c.token_serial, c.expires_at, c.activated_at,
       p.code AS product_code, p.kind AS product_kind, p.validity_hours
    FROM cards c JOIN card_products p ON p.id = c.product_id WHERE c.id = :card::uuid;
SELECT p.id, p.name, p.description, p.co_financing_percent, p.rules, p.starts_on,
       p.ends_on, p.requires_approval, p.owner_merchant_id, p.budget_total, p.closed_at
    FROM promotions p
    WHERE p.id = :promotion::uuid AND (p.owner_merchant_id = :merchant::uuid OR EXISTS (
        SELECT 1 FROM promotion_merchants pm
        WHERE pm.promotion_id = p.id AND pm.merchant_id = :merchant::uuid AND pm.status = 'approved'));
INSERT INTO redemption_counters (town_id, promotion_id, scope, key, used)
    VALUES (:town::uuid, :promotion::uuid, 'card_day', :card::text || current_date::text, 1)
    ON CONFLICT (promotion_id, scope, key) DO UPDATE
        SET used = redemption_counters.used + EXCLUDED.used
        WHERE redemption_counters.used + EXCLUDED.used <= 1000000
    RETURNING used;
SELECT ledger_post(:tx::uuid, :town::uuid, :rid::text, sha256(:rid::text::bytea), 'redemption', '',
    NULL, now(), '\x7b2276223a312c226c616e65223a'::bytea, '\x7d'::bytea, 16::smallint,
    :entry_accounts::uuid[], '{-1.60,1.60,1.59,-1.59}'::numeric[], :net_accounts::uuid[],
    :net_deltas::numeric[], :net_shards::smallint[], :net_guarded::boolean[]) AS refused;
INSERT INTO redemptions (id, town_id, merchant_id, promotion_id, card_id, device_id,
        staff_user_id, receipt_number, idempotency_key, request_hash, basket, discount,
        municipality_share, merchant_share, points_earned, points_spent, occurred_at,
        period, adjustment, journal_tx, points_tx, counters)
    SELECT :rid::uuid, :town::uuid, :merchant::uuid, :promotion::uuid, :card::uuid, NULL,
        :staff::uuid,
        :code::text || '-' || to_char(now() AT TIME ZONE 'Europe/Ljubljana', 'YYMMDD') || '-'
            || lpad(nextval('redemption_receipt_seq')::text, 8, '0'),
        :rid::text, sha256(:rid::text::bytea), 31.90, 3.19, 1.60, 1.59, 0, 0, now(), b.period,
        b.period <> natural_period(:town::uuid, now()), :tx::uuid, NULL,
        '[{"by": "1", "key": "x", "limit": "1", "scope": "card_day"}]'::jsonb
    FROM (SELECT booking_period(:town::uuid, now()) AS period) b
    RETURNING receipt_number, status, recorded_at,
        (SELECT m.name FROM merchants m WHERE m.id = merchant_id) AS merchant_name;
COMMIT;
