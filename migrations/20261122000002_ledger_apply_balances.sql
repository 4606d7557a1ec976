-- Several balance changes in one round trip: a bulk posting's net change per account
-- (a batch of redemptions touches a few dozen accounts). Applied in the order given,
-- which the caller makes ascending by account id (the ledger's lock order), each by
-- `ledger_apply_balance()`. Returns the first account that cannot cover its change
-- (what came before it stays applied: the caller's savepoint undoes it), else NULL.
CREATE FUNCTION ledger_apply_balances(accounts uuid[], shards smallint[], guarded boolean[],
                                      deltas numeric[])
    RETURNS uuid
    LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. coalesce(array_length(accounts, 1), 0) LOOP
        IF deltas[i] <> 0
           AND NOT ledger_apply_balance(accounts[i], shards[i], guarded[i], deltas[i]) THEN
            RETURN accounts[i];
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
GRANT EXECUTE ON FUNCTION ledger_apply_balances(uuid[], smallint[], boolean[], numeric[])
    TO towncard_app;
