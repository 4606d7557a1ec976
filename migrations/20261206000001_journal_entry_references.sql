-- A journal entry's references, checked once per statement instead of once per row.
--
-- A redemption batch writes about forty entries in one INSERT; as foreign keys, each
-- entry ran two lookups of its own (its transaction, its town's account), each
-- share-locking the row it found: most of the row-by-row key checks, which took a
-- sixth of Postgres's CPU on the redemption path (docs/performance.md).
-- The same guarantees hold with one set-based lookup per statement, because the rows
-- an entry names can no longer go away: journal transactions are append-only (and
-- cannot be truncated) and, below, ledger accounts cannot be deleted, re-keyed or
-- truncated either, so a lookup needs no lock.
--
-- The check is stricter than the keys were: an entry's transaction must be of the
-- entry's own town. It keeps the constraint names in its messages.

ALTER TABLE journal_entries
    DROP CONSTRAINT journal_entries_town_account_fkey,
    DROP CONSTRAINT journal_entries_transaction_id_fkey;

CREATE FUNCTION journal_entries_references() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    -- Each account and transaction once (a batch's entries share them); LATERAL
    -- ... LIMIT 1: an index lookup each, whatever the planner guesses of the
    -- transition table's size.
    SELECT n.transaction_id, n.account_id, n.account_id IS NULL OR a.ok IS NOT NULL AS account_ok
    INTO bad
    FROM (SELECT DISTINCT town_id, account_id, NULL::uuid AS transaction_id FROM new_entries
          UNION ALL
          SELECT DISTINCT town_id, NULL::uuid, transaction_id FROM new_entries) n
    LEFT JOIN LATERAL (SELECT true AS ok FROM ledger_accounts la
                       WHERE la.town_id = n.town_id AND la.id = n.account_id LIMIT 1) a ON true
    LEFT JOIN LATERAL (SELECT true AS ok FROM journal_transactions jt
                       WHERE jt.id = n.transaction_id AND jt.town_id = n.town_id LIMIT 1) t ON true
    WHERE (n.account_id IS NOT NULL AND a.ok IS NULL)
       OR (n.transaction_id IS NOT NULL AND t.ok IS NULL)
    LIMIT 1;
    IF FOUND AND NOT bad.account_ok THEN
        RAISE EXCEPTION 'journal_entries_town_account_fkey: account % is not an account of the entry''s town',
            bad.account_id
            USING ERRCODE = 'foreign_key_violation', TABLE = 'journal_entries',
                  CONSTRAINT = 'journal_entries_town_account_fkey';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'journal_entries_transaction_fkey: transaction % is not a transaction of the entry''s town',
            bad.transaction_id
            USING ERRCODE = 'foreign_key_violation', TABLE = 'journal_entries',
                  CONSTRAINT = 'journal_entries_transaction_fkey';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER journal_entries_references
    AFTER INSERT ON journal_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_references();

-- What an entry names stays: accounts are never deleted, re-keyed or truncated.
CREATE FUNCTION ledger_accounts_are_kept() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger accounts are kept: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER ledger_accounts_kept
    BEFORE DELETE OR UPDATE OF id, town_id ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_accounts_are_kept();
CREATE TRIGGER ledger_accounts_no_truncate
    BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_accounts_are_kept();
