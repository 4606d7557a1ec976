-- The journal entries' reference check (20261206000001) looks each account and
-- transaction up by its key. Postgres's costs read a small ledger_accounts table whole
-- instead, the row-level policy checked on each row until the account is found, at
-- every distinct account of every batch; the lookups go by index whatever the
-- table's size.
ALTER FUNCTION journal_entries_references() SET enable_seqscan = off;
