-- towncard foundation: towns (tenants), staff, the first business tables and the ledger.
--
-- Tenancy: every tenant row carries town_id and is guarded by row-level security.
-- Services connect as towncard_app, which owns nothing and cannot bypass RLS; they set
-- the town per transaction with set_config('towncard.town_id', ..., true).

DO $$
BEGIN
    CREATE ROLE towncard_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- created by an earlier migration run in another database of this cluster
END $$;

GRANT USAGE ON SCHEMA public TO towncard_app;

-- The town of the current transaction, or NULL (which matches no row).
CREATE FUNCTION current_town() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('towncard.town_id', true), '')::uuid $$;

CREATE TABLE towns (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CONSTRAINT towns_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,39}$'),
    code        smallint NOT NULL UNIQUE CONSTRAINT towns_code_range CHECK (code BETWEEN 100 AND 999),
    name        text NOT NULL,
    timezone    text NOT NULL DEFAULT 'Europe/Ljubljana',
    currency    char(3) NOT NULL DEFAULT 'EUR' CONSTRAINT towns_currency_eur CHECK (currency = 'EUR'),
    iban        text NOT NULL,
    bic         text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE merchants (
    id          uuid PRIMARY KEY,
    town_id     uuid NOT NULL REFERENCES towns (id),
    name        text NOT NULL,
    category    text NOT NULL DEFAULT 'shop',
    iban        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (town_id, id)
);

CREATE TABLE staff_users (
    id            uuid PRIMARY KEY,
    town_id       uuid NOT NULL REFERENCES towns (id),
    merchant_id   uuid,
    email         text NOT NULL,
    display_name  text NOT NULL,
    role          text NOT NULL CONSTRAINT staff_users_role_known
                  CHECK (role IN ('merchant_staff', 'merchant_owner', 'tic_operator', 'town_admin', 'auditor')),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    FOREIGN KEY (town_id, merchant_id) REFERENCES merchants (town_id, id),
    CONSTRAINT staff_users_merchant_roles
        CHECK ((role IN ('merchant_staff', 'merchant_owner')) = (merchant_id IS NOT NULL))
);
CREATE UNIQUE INDEX staff_users_email_per_town ON staff_users (town_id, lower(email));

CREATE TABLE card_products (
    id              uuid PRIMARY KEY,
    town_id         uuid NOT NULL REFERENCES towns (id),
    code            text NOT NULL,
    names           jsonb NOT NULL, -- {"sl": ..., "en": ..., "it": ...}
    kind            text NOT NULL CONSTRAINT card_products_kind_known
                    CHECK (kind IN ('tourist_hours', 'annual', 'fixed_dates')),
    validity_hours  integer CHECK (validity_hours > 0),
    valid_from      date,
    valid_to        date,
    price           numeric(18, 2) NOT NULL DEFAULT 0 CHECK (price >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (town_id, id),
    UNIQUE (town_id, code)
);

CREATE TABLE cards (
    id            uuid PRIMARY KEY,
    town_id       uuid NOT NULL REFERENCES towns (id),
    product_id    uuid NOT NULL,
    serial        integer NOT NULL CHECK (serial >= 0 AND serial < 100000000),
    number        text NOT NULL CHECK (number ~ '^[0-9]{12}$'),
    status        text NOT NULL DEFAULT 'issued' CONSTRAINT cards_status_known
                  CHECK (status IN ('issued', 'active', 'suspended', 'replaced', 'expired')),
    token_serial  integer NOT NULL DEFAULT 1,
    page_code     text NOT NULL UNIQUE,
    holder_name   text,
    holder_email  text,
    holder_lang   text,
    activated_at  timestamptz,
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (town_id, product_id) REFERENCES card_products (town_id, id),
    UNIQUE (town_id, id),
    UNIQUE (town_id, serial),
    UNIQUE (number)
);

CREATE TABLE promotions (
    id                    uuid PRIMARY KEY,
    town_id               uuid NOT NULL REFERENCES towns (id),
    name                  text NOT NULL,
    description           text NOT NULL DEFAULT '',
    co_financing_percent  numeric(5, 2) NOT NULL DEFAULT 0
                          CHECK (co_financing_percent BETWEEN 0 AND 100),
    rules                 jsonb NOT NULL DEFAULT '{}',
    starts_on             date NOT NULL,
    ends_on               date NOT NULL,
    requires_approval     boolean NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_on >= starts_on),
    UNIQUE (town_id, id)
);

CREATE TABLE promotion_merchants (
    town_id       uuid NOT NULL REFERENCES towns (id),
    promotion_id  uuid NOT NULL,
    merchant_id   uuid NOT NULL,
    status        text NOT NULL CHECK (status IN ('pending', 'approved', 'left')),
    joined_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (promotion_id, merchant_id),
    FOREIGN KEY (town_id, promotion_id) REFERENCES promotions (town_id, id),
    FOREIGN KEY (town_id, merchant_id) REFERENCES merchants (town_id, id)
);

-- ---------------------------------------------------------------- the ledger
-- Written only by the ledger crate. Amounts are signed: an entry adds its amount to
-- the account's balance; every transaction's entries sum to zero.

CREATE TABLE ledger_accounts (
    id            uuid PRIMARY KEY,
    town_id       uuid NOT NULL REFERENCES towns (id),
    kind          text NOT NULL,
    owner_id      uuid, -- the promotion, merchant or card the account belongs to
    name          text NOT NULL,
    currency      char(3) NOT NULL DEFAULT 'EUR',
    non_negative  boolean NOT NULL,
    shards        smallint NOT NULL CHECK (shards BETWEEN 1 AND 64),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (town_id, id),
    CONSTRAINT ledger_accounts_one_per_owner UNIQUE NULLS NOT DISTINCT (town_id, kind, owner_id)
);

-- Stored balances, split into shards so that a hot account (a popular promotion's
-- budget) is not one row every redemption waits on. Balance = sum over shards.
CREATE TABLE ledger_balances (
    account_id    uuid NOT NULL REFERENCES ledger_accounts (id),
    shard         smallint NOT NULL,
    town_id       uuid NOT NULL REFERENCES towns (id),
    balance       numeric(18, 2) NOT NULL DEFAULT 0,
    non_negative  boolean NOT NULL,
    PRIMARY KEY (account_id, shard),
    CONSTRAINT ledger_balances_non_negative CHECK (NOT non_negative OR balance >= 0)
);

-- Each town's journal is hash-chained in a few lanes; a posting takes whichever lane
-- is free, so the chain head is not a hot row either. A lane's head is its last hash.
CREATE TABLE journal_lanes (
    town_id    uuid NOT NULL REFERENCES towns (id),
    lane       smallint NOT NULL,
    seq        bigint NOT NULL DEFAULT 0,
    head_hash  bytea NOT NULL,
    PRIMARY KEY (town_id, lane)
);

CREATE TABLE journal_transactions (
    id               uuid PRIMARY KEY,
    town_id          uuid NOT NULL REFERENCES towns (id),
    lane             smallint NOT NULL,
    seq              bigint NOT NULL,
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    body_hash        bytea NOT NULL,
    kind             text NOT NULL,
    memo             text NOT NULL DEFAULT '',
    reverses         uuid REFERENCES journal_transactions (id),
    posted_at        timestamptz NOT NULL,
    prev_hash        bytea NOT NULL,
    hash             bytea NOT NULL,
    CONSTRAINT journal_transactions_idempotency UNIQUE (town_id, idempotency_key),
    CONSTRAINT journal_transactions_lane_seq UNIQUE (town_id, lane, seq),
    FOREIGN KEY (town_id, lane) REFERENCES journal_lanes (town_id, lane)
);
CREATE INDEX journal_transactions_town_posted ON journal_transactions (town_id, posted_at);

CREATE TABLE journal_entries (
    transaction_id  uuid NOT NULL REFERENCES journal_transactions (id),
    idx             smallint NOT NULL,
    town_id         uuid NOT NULL REFERENCES towns (id),
    account_id      uuid NOT NULL REFERENCES ledger_accounts (id),
    amount          numeric(18, 2) NOT NULL CHECK (amount <> 0),
    PRIMARY KEY (transaction_id, idx)
);
CREATE INDEX journal_entries_account ON journal_entries (account_id);

-- Append-only, enforced by the database whoever connects.
CREATE FUNCTION journal_is_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER journal_transactions_append_only
    BEFORE UPDATE OR DELETE ON journal_transactions
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER journal_transactions_no_truncate
    BEFORE TRUNCATE ON journal_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER journal_entries_append_only
    BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER journal_entries_no_truncate
    BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_is_append_only();

-- ------------------------------------------------------------ row-level security

ALTER TABLE towns ENABLE ROW LEVEL SECURITY;
CREATE POLICY towns_directory ON towns FOR SELECT USING (true);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['merchants', 'staff_users', 'card_products', 'cards', 'promotions',
                             'promotion_merchants', 'ledger_accounts', 'ledger_balances',
                             'journal_lanes', 'journal_transactions', 'journal_entries']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY town_isolation ON %I USING (town_id = current_town()) '
                       'WITH CHECK (town_id = current_town())', t);
    END LOOP;
END $$;

GRANT SELECT ON towns TO towncard_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON merchants, staff_users, card_products, cards,
    promotions, promotion_merchants TO towncard_app;
GRANT SELECT, INSERT ON ledger_accounts TO towncard_app;
GRANT SELECT, INSERT, UPDATE ON ledger_balances, journal_lanes TO towncard_app;
-- No UPDATE or DELETE: a bug in a service cannot rewrite history.
GRANT SELECT, INSERT ON journal_transactions, journal_entries TO towncard_app;
GRANT EXECUTE ON FUNCTION current_town() TO towncard_app;
