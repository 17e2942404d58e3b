-- Creditdesk ledger schema, PostgreSQL dialect: the SQLite schema's tables
-- and columns, so one set of queries serves both.
-- Credits: BIGINT micro-credits (scale 6). Times: BIGINT microseconds since
-- the Unix epoch, UTC. Money never summed (prices): decimal TEXT.

CREATE TABLE credit_types (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    unit_label    TEXT NOT NULL,
    unit_price    TEXT NOT NULL,
    currency      TEXT NOT NULL,
    burn_order    TEXT NOT NULL,          -- JSON array of keys
    overage_mode  TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE products (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    credit_type_id TEXT NOT NULL REFERENCES credit_types(id),
    created_at     BIGINT NOT NULL
);

-- Rate-card versions; customer_id '' is the product's own card, anything
-- else a customer's override.
CREATE TABLE rate_versions (
    product_id       TEXT NOT NULL REFERENCES products(id),
    customer_id      TEXT NOT NULL DEFAULT '',
    effective_from   BIGINT NOT NULL,
    credits_per_unit TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    created_by       TEXT NOT NULL,
    PRIMARY KEY (product_id, customer_id, effective_from)
);

-- Bumped with every catalog change, so each server's cached catalog
-- notices changes made by another.
CREATE TABLE catalog_version (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);
INSERT INTO catalog_version (id, version) VALUES (1, 0);

CREATE TABLE customers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    external_ref TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX customers_name ON customers(lower(name));

-- One row per wallet: the row lock serialises writers of the wallet (in
-- any process), the version tells a process whether its cached wallet is
-- current, and last_seq (the highest entry number written to the wallet)
-- keeps a wallet's entries numbered in the order they were recorded.
CREATE TABLE wallets (
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    version        BIGINT NOT NULL,
    caught_up_at   BIGINT NOT NULL,
    last_seq       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, credit_type_id)
);

CREATE TABLE grants (
    id                     TEXT PRIMARY KEY,
    customer_id            TEXT NOT NULL,
    credit_type_id         TEXT NOT NULL,
    amount                 BIGINT NOT NULL,
    category               TEXT NOT NULL,
    source                 TEXT NOT NULL,
    priority               BIGINT NOT NULL,
    effective_at           BIGINT NOT NULL,
    expires_at             BIGINT,
    products               TEXT,           -- JSON array, NULL = all
    contract_id            TEXT,
    cost_basis             TEXT,
    cost_currency          TEXT,
    rollover_fraction      TEXT,
    rollover_max           BIGINT,
    rollover_expires_after BIGINT,         -- seconds
    parent_id              TEXT,
    reason_code            TEXT NOT NULL,
    ticket_ref             TEXT,
    note                   TEXT,
    created_by             TEXT NOT NULL,
    approved_by            TEXT,
    recorded_at            BIGINT NOT NULL
);
CREATE INDEX grants_wallet ON grants(customer_id, credit_type_id);

-- Running totals of each grant (a summary of its entries).
CREATE TABLE grant_state (
    grant_id   TEXT PRIMARY KEY REFERENCES grants(id),
    burned     BIGINT NOT NULL,
    settled    BIGINT NOT NULL,
    expired    BIGINT NOT NULL,
    corrected  BIGINT NOT NULL,
    rolled     BIGINT NOT NULL,
    voided     BIGINT NOT NULL,
    reversed   BIGINT NOT NULL,
    voided_at  BIGINT,
    expiry_seq BIGINT
);
-- Grants not yet expired or voided: what a sweep looks through.
CREATE INDEX grant_state_live ON grant_state(grant_id) WHERE expiry_seq IS NULL AND voided_at IS NULL;

-- Credits given back to a grant by reversals (booked time matters to late draws).
CREATE TABLE restorations (
    grant_id  TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    booked_at BIGINT NOT NULL,
    amount    BIGINT NOT NULL,
    PRIMARY KEY (grant_id, seq)
);

CREATE TABLE entries (
    seq            BIGINT PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    grant_id       TEXT,
    kind           TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    booked_at      BIGINT NOT NULL,
    recorded_at    BIGINT NOT NULL,
    event_id       TEXT,
    product_id     TEXT,
    related_seq    BIGINT,
    actor          TEXT NOT NULL,
    reason_code    TEXT,
    ticket_ref     TEXT,
    note           TEXT
);
CREATE INDEX entries_booked ON entries(customer_id, credit_type_id, booked_at);
CREATE INDEX entries_recorded ON entries(customer_id, recorded_at, seq);
-- Everything but burns: few rows, read whole by point-in-time queries and
-- by dispute evidence (an event's burns are found by its booked time).
CREATE INDEX entries_rare ON entries(customer_id, credit_type_id, kind, booked_at) WHERE kind <> 'burn';
-- An expiry is booked once per grant (the `expire` entry is its marker):
-- two sweepers can never both book one.
CREATE UNIQUE INDEX entries_one_expiry ON entries(grant_id) WHERE kind = 'expire';

-- Overage still (or once) outstanding: a summary of overage entries and
-- the settlements and reversals linked to them.
CREATE TABLE overage_items (
    seq            BIGINT PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    event_id       TEXT,
    booked_at      BIGINT NOT NULL,
    amount         BIGINT NOT NULL,
    settled        BIGINT NOT NULL,
    reversed       BIGINT NOT NULL
);
CREATE INDEX overage_open ON overage_items(customer_id, credit_type_id) WHERE amount > settled + reversed;

CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    customer_id      TEXT NOT NULL,
    product_id       TEXT NOT NULL,
    credit_type_id   TEXT NOT NULL,
    quantity         TEXT NOT NULL,
    timestamp        BIGINT NOT NULL,
    properties       TEXT NOT NULL,
    received_at      BIGINT NOT NULL,
    credits          BIGINT NOT NULL,
    credits_per_unit TEXT NOT NULL,
    rate_version     BIGINT NOT NULL,
    from_override    BOOLEAN NOT NULL
);

CREATE TABLE rejected_events (
    rid         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    event_id    TEXT,
    customer_id TEXT,
    product_id  TEXT,
    body        TEXT NOT NULL,           -- the event as sent (JSON)
    received_at BIGINT NOT NULL,
    code        TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX rejected_customer ON rejected_events(customer_id, rid);

-- Sums of entries per grant ('' = none), kind, booked day and recorded day
-- (days since the epoch, UTC): point-in-time balances never rescan history.
CREATE TABLE ledger_days (
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    booked_day     BIGINT NOT NULL,
    recorded_day   BIGINT NOT NULL,
    grant_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    PRIMARY KEY (customer_id, credit_type_id, booked_day, recorded_day, grant_id, kind)
);

-- Usage (burn + overage) and reversals per product and UTC day, by each of
-- the day's 96 quarter hours (the blobs' form: `codec::quarters_to_blob`).
CREATE TABLE burn_days (
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    day            BIGINT NOT NULL,
    burned         BYTEA NOT NULL,
    reversed       BYTEA NOT NULL,
    PRIMARY KEY (customer_id, credit_type_id, product_id, day)
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Replays of POSTs with an Idempotency-Key.
CREATE TABLE idempotency_keys (
    actor        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (actor, key)
);

CREATE TABLE audit_log (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    customer_id TEXT,
    value       TEXT,
    outcome     TEXT NOT NULL,
    rule        TEXT,
    request_id  TEXT,
    detail      TEXT
);
CREATE INDEX audit_customer ON audit_log(customer_id, id);
CREATE INDEX audit_actor ON audit_log(actor, id);

-- Hi/lo blocks of entry sequence numbers: a block per writer at a time.
-- nextval is never rolled back, so a block is never handed out twice.
CREATE SEQUENCE seq_blocks MINVALUE 0 START WITH 0;

-- Append-only, enforced by the database.
CREATE FUNCTION creditdesk_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION creditdesk_append_only('entries are append-only');
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION creditdesk_append_only('entries are append-only');
CREATE TRIGGER grants_append_only BEFORE UPDATE OR DELETE ON grants
    FOR EACH ROW EXECUTE FUNCTION creditdesk_append_only('grants are append-only');
CREATE TRIGGER grants_no_truncate BEFORE TRUNCATE ON grants
    FOR EACH STATEMENT EXECUTE FUNCTION creditdesk_append_only('grants are append-only');
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION creditdesk_append_only('events are append-only');
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION creditdesk_append_only('events are append-only');
CREATE TRIGGER rejected_append_only BEFORE UPDATE OR DELETE ON rejected_events
    FOR EACH ROW EXECUTE FUNCTION creditdesk_append_only('rejected events are append-only');
CREATE TRIGGER rejected_no_truncate BEFORE TRUNCATE ON rejected_events
    FOR EACH STATEMENT EXECUTE FUNCTION creditdesk_append_only('rejected events are append-only');
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION creditdesk_append_only('the audit log is append-only');
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION creditdesk_append_only('the audit log is append-only');
