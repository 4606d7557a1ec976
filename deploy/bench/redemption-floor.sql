-- pgbench script: the least database work :b redemptions need, written together in
-- one transaction with one statement per table (a set-based batch, as a service
-- that gathered concurrent redeems into one commit would send). It writes what the
-- service's redeem writes, row for row: per redemption a journal transaction with
-- its four entries, the card's limit counter and the redemption row, and per batch
-- one lane and one update per account (the batch's net change). It also reads
-- what the scans of those cards read. No hash is chained in SQL and no refusal is
-- isolated: a lower bound, not a design. Same variables as redemption-replay.sql,
-- plus :b (redemptions per transaction).
\set c :client_id % :clients
\set lane :client_id % 16
\set start random(0, :cards - 1)
BEGIN;
-- (The keys are computed first: a comparison with a cast in it is not leakproof,
-- so row-level security would keep it out of the index condition.)
WITH s AS MATERIALIZED (
    SELECT c.id, c.number, c.status, c.token_serial, c.expires_at, c.activated_at,
           p.code, p.kind, p.validity_hours, c.id::text || current_date::text AS day_key
    FROM generate_series(1, :b) i
    JOIN bench_replay_cards bc ON bc.n = (:start + i) % :cards + 1
    JOIN cards c ON c.id = bc.id
    JOIN card_products p ON p.id = c.product_id)
SELECT s.*, k.used FROM s LEFT JOIN redemption_counters k
    ON k.promotion_id = :promotion::uuid AND k.scope = 'card_day' AND k.key = s.day_key;
WITH m AS (SELECT * FROM bench_replay_clients WHERE client = :c),
lane AS (UPDATE journal_lanes SET seq = seq + :b
         WHERE town_id = :town::uuid AND lane = :lane RETURNING seq - :b AS base),
r AS (SELECT i, gen_random_uuid() AS tx, gen_random_uuid() AS rid, bc.id AS card
      FROM generate_series(1, :b) i
      JOIN bench_replay_cards bc ON bc.n = (:start + i) % :cards + 1),
counters AS (
    INSERT INTO redemption_counters (town_id, promotion_id, scope, key, used)
    SELECT :town::uuid, :promotion::uuid, 'card_day', r.card::text || current_date::text, 1 FROM r
    ON CONFLICT (promotion_id, scope, key) DO UPDATE
        SET used = redemption_counters.used + EXCLUDED.used
        WHERE redemption_counters.used + EXCLUDED.used <= 1000000
    RETURNING used),
txs AS (
    INSERT INTO journal_transactions (id, town_id, lane, seq, idempotency_key, body_hash, kind,
                                      memo, posted_at, prev_hash, hash)
    SELECT r.tx, :town::uuid, :lane, lane.base + r.i, 'redemption:' || r.rid,
           sha256(r.rid::text::bytea), 'redemption', '', now(), sha256(r.tx::text::bytea),
           sha256(r.card::text::bytea)
    FROM r CROSS JOIN lane),
entries AS (
    INSERT INTO journal_entries (transaction_id, idx, town_id, account_id, amount)
    SELECT r.tx, e.idx - 1, :town::uuid, e.account, e.amount
    FROM r CROSS JOIN m
    CROSS JOIN unnest(m.entry_accounts, '{-1.60,1.60,1.59,-1.59}'::numeric[])
        WITH ORDINALITY AS e(account, amount, idx)),
balances AS (
    UPDATE ledger_balances lb SET balance = lb.balance + d.delta * :b
    FROM m CROSS JOIN LATERAL unnest(m.net_accounts, m.net_deltas, m.net_shards)
        AS d(account, delta, shards)
    WHERE (lb.account_id, lb.shard) = (d.account, (:client_id % d.shards)::smallint))
INSERT INTO redemptions (id, town_id, merchant_id, promotion_id, card_id, device_id,
        staff_user_id, receipt_number, idempotency_key, request_hash, basket, discount,
        municipality_share, merchant_share, points_earned, points_spent, occurred_at,
        period, adjustment, journal_tx, points_tx, counters)
SELECT r.rid, :town::uuid, m.merchant, :promotion::uuid, r.card, NULL, m.staff,
       :code::text || '-' || to_char(now() AT TIME ZONE 'Europe/Ljubljana', 'YYMMDD') || '-'
           || lpad(nextval('redemption_receipt_seq')::text, 8, '0'),
       r.rid::text, sha256(r.rid::text::bytea), 31.90, 3.19, 1.60, 1.59, 0, 0, now(), b.period,
       b.period <> natural_period(:town::uuid, now()), r.tx, NULL,
       '[{"by": "1", "key": "x", "limit": "1", "scope": "card_day"}]'::jsonb
FROM r CROSS JOIN m CROSS JOIN (SELECT booking_period(:town::uuid, now()) AS period) b;
COMMIT;
