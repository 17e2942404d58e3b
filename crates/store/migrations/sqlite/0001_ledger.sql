-- Creditdesk ledger schema, SQLite dialect.
-- Credits: INTEGER micro-credits (scale 6). Times: INTEGER microseconds
-- since the Unix epoch, UTC. Money never summed (prices): decimal TEXT.

CREATE TABLE credit_types (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    unit_label    TEXT NOT NULL,
    unit_price    TEXT NOT NULL,
    currency      TEXT NOT NULL,
    burn_order    TEXT NOT NULL,          -- JSON array of keys
    overage_mode  TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE products (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    credit_type_id TEXT NOT NULL REFERENCES credit_types(id),
    created_at     INTEGER NOT NULL
);

-- Rate-card versions; customer_id '' is the product's own card, anything
-- else a customer's override.
CREATE TABLE rate_versions (
    product_id       TEXT NOT NULL REFERENCES products(id),
    customer_id      TEXT NOT NULL DEFAULT '',
    effective_from   INTEGER NOT NULL,
    credits_per_unit TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    created_by       TEXT NOT NULL,
    PRIMARY KEY (product_id, customer_id, effective_from)
);

CREATE TABLE customers (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    external_ref TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX customers_name ON customers(name COLLATE NOCASE);

-- One row per wallet: the lock and the version the wallet caches check.
CREATE TABLE wallets (
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    version        INTEGER NOT NULL,
    caught_up_at   INTEGER NOT NULL,
    PRIMARY KEY (customer_id, credit_type_id)
) WITHOUT ROWID;

CREATE TABLE grants (
    id                     TEXT PRIMARY KEY,
    customer_id            TEXT NOT NULL,
    credit_type_id         TEXT NOT NULL,
    amount                 INTEGER NOT NULL,
    category               TEXT NOT NULL,
    source                 TEXT NOT NULL,
    priority               INTEGER NOT NULL,
    effective_at           INTEGER NOT NULL,
    expires_at             INTEGER,
    products               TEXT,           -- JSON array, NULL = all
    contract_id            TEXT,
    cost_basis             TEXT,
    cost_currency          TEXT,
    rollover_fraction      TEXT,
    rollover_max           INTEGER,
    rollover_expires_after INTEGER,        -- seconds
    parent_id              TEXT,
    reason_code            TEXT NOT NULL,
    ticket_ref             TEXT,
    note                   TEXT,
    created_by             TEXT NOT NULL,
    approved_by            TEXT,
    recorded_at            INTEGER NOT NULL
);
CREATE INDEX grants_wallet ON grants(customer_id, credit_type_id);

-- Running totals of each grant (a summary of its entries).
CREATE TABLE grant_state (
    grant_id   TEXT PRIMARY KEY REFERENCES grants(id),
    burned     INTEGER NOT NULL,
    settled    INTEGER NOT NULL,
    expired    INTEGER NOT NULL,
    corrected  INTEGER NOT NULL,
    rolled     INTEGER NOT NULL,
    voided     INTEGER NOT NULL,
    reversed   INTEGER NOT NULL,
    voided_at  INTEGER,
    expiry_seq INTEGER
) WITHOUT ROWID;

-- Credits given back to a grant by reversals (booked time matters to late draws).
CREATE TABLE restorations (
    grant_id  TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    booked_at INTEGER NOT NULL,
    amount    INTEGER NOT NULL,
    PRIMARY KEY (grant_id, seq)
) WITHOUT ROWID;

CREATE TABLE entries (
    seq            INTEGER PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    grant_id       TEXT,
    kind           TEXT NOT NULL,
    amount         INTEGER NOT NULL,
    booked_at      INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    event_id       TEXT,
    product_id     TEXT,
    related_seq    INTEGER,
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

-- Overage still (or once) outstanding: a summary of overage entries and
-- the settlements and reversals linked to them.
CREATE TABLE overage_items (
    seq            INTEGER PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    event_id       TEXT,
    booked_at      INTEGER NOT NULL,
    amount         INTEGER NOT NULL,
    settled        INTEGER NOT NULL,
    reversed       INTEGER NOT NULL
);
CREATE INDEX overage_open ON overage_items(customer_id, credit_type_id) WHERE amount > settled + reversed;

CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    customer_id      TEXT NOT NULL,
    product_id       TEXT NOT NULL,
    credit_type_id   TEXT NOT NULL,
    quantity         TEXT NOT NULL,
    timestamp        INTEGER NOT NULL,
    properties       TEXT NOT NULL,
    received_at      INTEGER NOT NULL,
    credits          INTEGER NOT NULL,
    credits_per_unit TEXT NOT NULL,
    rate_version     INTEGER NOT NULL,
    from_override    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE rejected_events (
    rid         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT,
    customer_id TEXT,
    product_id  TEXT,
    body        TEXT NOT NULL,           -- the event as sent (JSON)
    received_at INTEGER NOT NULL,
    code        TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX rejected_customer ON rejected_events(customer_id, rid);

-- Sums of entries per grant ('' = none), kind, booked day and recorded day
-- (days since the epoch, UTC): point-in-time balances never rescan history.
CREATE TABLE ledger_days (
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    booked_day     INTEGER NOT NULL,
    recorded_day   INTEGER NOT NULL,
    grant_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    amount         INTEGER NOT NULL,
    PRIMARY KEY (customer_id, credit_type_id, booked_day, recorded_day, grant_id, kind)
) WITHOUT ROWID;

-- Usage (burn + overage) and reversals per product and UTC day, by each of
-- the day's 96 quarter hours (the blobs' form: `codec::quarters_to_blob`).
CREATE TABLE burn_days (
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    day            INTEGER NOT NULL,
    burned         BLOB NOT NULL,
    reversed       BLOB NOT NULL,
    PRIMARY KEY (customer_id, credit_type_id, product_id, day)
) WITHOUT ROWID;

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Replays of POSTs with an Idempotency-Key.
CREATE TABLE idempotency_keys (
    actor        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (actor, key)
) WITHOUT ROWID;

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
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

-- Hi/lo blocks of entry sequence numbers.
CREATE TABLE seq_blocks (id INTEGER PRIMARY KEY CHECK (id = 1), next_block INTEGER NOT NULL);
INSERT INTO seq_blocks (id, next_block) VALUES (1, 0);

-- Append-only, enforced by the database.
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
CREATE TRIGGER grants_no_update BEFORE UPDATE ON grants BEGIN SELECT RAISE(ABORT, 'grants are append-only'); END;
CREATE TRIGGER grants_no_delete BEFORE DELETE ON grants BEGIN SELECT RAISE(ABORT, 'grants are append-only'); END;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER rejected_no_update BEFORE UPDATE ON rejected_events BEGIN SELECT RAISE(ABORT, 'rejected events are append-only'); END;
CREATE TRIGGER rejected_no_delete BEFORE DELETE ON rejected_events BEGIN SELECT RAISE(ABORT, 'rejected events are append-only'); END;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
