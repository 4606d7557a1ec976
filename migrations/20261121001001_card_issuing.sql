-- card-issuing: the card lifecycle's audit trail, product benefits and their use,
-- print batches, and the lookup of a visitor page's town.

ALTER TABLE cards ADD COLUMN erased_at timestamptz;
ALTER TABLE cards ADD COLUMN batch_id uuid;
ALTER TABLE cards ADD COLUMN issued_by uuid;

-- Every lifecycle change, who made it and why. Append-only for the service role.
CREATE TABLE card_events (
    id            uuid PRIMARY KEY,
    town_id       uuid NOT NULL REFERENCES towns (id),
    card_id       uuid NOT NULL,
    change        text NOT NULL CONSTRAINT card_events_change_known
                  CHECK (change IN ('issued', 'activated', 'suspended', 'resumed', 'replaced',
                                    'expired', 'erased')),
    token_serial  integer NOT NULL,
    -- The staff user (or device) who made the change, and the role they acted in.
    actor_id      text NOT NULL,
    actor_role    text NOT NULL,
    reason        text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    at            timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (town_id, card_id) REFERENCES cards (town_id, id)
);
CREATE INDEX card_events_card ON card_events (card_id, at);

-- What a product includes, e.g. one free entry to the regional museum.
CREATE TABLE product_benefits (
    id           uuid PRIMARY KEY,
    town_id      uuid NOT NULL REFERENCES towns (id),
    product_id   uuid NOT NULL,
    kind         text NOT NULL DEFAULT 'free_entry' CHECK (kind IN ('free_entry')),
    names        jsonb NOT NULL, -- {"sl": ..., "en": ..., "it": ...}
    merchant_id  uuid,
    uses         integer NOT NULL DEFAULT 1 CHECK (uses BETWEEN 1 AND 100),
    position     integer NOT NULL DEFAULT 0,
    FOREIGN KEY (town_id, product_id) REFERENCES card_products (town_id, id),
    FOREIGN KEY (town_id, merchant_id) REFERENCES merchants (town_id, id),
    UNIQUE (town_id, id)
);
CREATE INDEX product_benefits_product ON product_benefits (product_id, position);

-- One row per use of a benefit; a once-only benefit has one use.
CREATE TABLE benefit_uses (
    id           uuid PRIMARY KEY,
    town_id      uuid NOT NULL REFERENCES towns (id),
    card_id      uuid NOT NULL,
    benefit_id   uuid NOT NULL,
    use_no       integer NOT NULL CHECK (use_no >= 1),
    merchant_id  uuid,
    actor_id     text NOT NULL,
    used_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (town_id, card_id) REFERENCES cards (town_id, id),
    FOREIGN KEY (town_id, benefit_id) REFERENCES product_benefits (town_id, id),
    CONSTRAINT benefit_uses_once UNIQUE (card_id, benefit_id, use_no)
);

-- A print batch: cards issued together for a print shop.
CREATE TABLE card_batches (
    id            uuid PRIMARY KEY,
    town_id       uuid NOT NULL REFERENCES towns (id),
    product_id    uuid NOT NULL,
    card_count    integer NOT NULL CHECK (card_count BETWEEN 1 AND 20000),
    first_serial  integer NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (town_id, product_id) REFERENCES card_products (town_id, id)
);
CREATE INDEX cards_batch ON cards (batch_id) WHERE batch_id IS NOT NULL;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['card_events', 'product_benefits', 'benefit_uses', 'card_batches']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY town_isolation ON %I USING (town_id = current_town()) '
                       'WITH CHECK (town_id = current_town())', t);
    END LOOP;
END $$;

GRANT SELECT, INSERT ON card_events, benefit_uses, card_batches TO towncard_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON product_benefits TO towncard_app;

-- The visitor's page is public: its unguessable code is the only credential. This
-- tells the service which town to open the transaction for, and nothing more.
CREATE FUNCTION card_page_town(code text) RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$ SELECT town_id FROM public.cards WHERE page_code = code $$;
REVOKE ALL ON FUNCTION card_page_town(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION card_page_town(text) TO towncard_app;
