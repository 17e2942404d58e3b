-- Burns land in `entries_recent` first and move into `entries` a slice of
-- customers at a time (docs/server.md, "Where burns are written"). Why: a
-- group commit of live ingest touches every customer it burns for, and
-- `entries`' per-customer indexes have a tail leaf per customer, so each
-- commit rewrote hundreds of index pages for a few rows each. A slice
-- moved every 16 groups brings 16 groups' worth of its customers' burns at
-- once: each tail leaf is written once for them, not once per group.

-- `entries` keeps its columns but not `seq` as its row key: rows are moved
-- in slices, out of `seq` order, and now append at the table's end.
CREATE TABLE entries_by_arrival (
    seq            INTEGER NOT NULL,
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
INSERT INTO entries_by_arrival
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note
    FROM entries ORDER BY seq;
DROP TABLE entries;
ALTER TABLE entries_by_arrival RENAME TO entries;
CREATE UNIQUE INDEX entries_seq ON entries(seq);
CREATE INDEX entries_booked ON entries(customer_id, credit_type_id, booked_at);
CREATE INDEX entries_recorded ON entries(customer_id, recorded_at, seq);
CREATE INDEX entries_rare ON entries(customer_id, credit_type_id, kind, booked_at) WHERE kind <> 'burn';
CREATE UNIQUE INDEX entries_one_expiry ON entries(grant_id) WHERE kind = 'expire';
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;

-- Burns not yet moved. `slice` is `entry_slice(customer_id)`, a hash the
-- server computes (and registers as an SQL function): a customer's recent
-- burns are found by scanning one slice, which holds about one group's
-- worth of rows, and a slice is moved as one range of the key.
CREATE TABLE entries_recent (
    slice          INTEGER NOT NULL,
    seq            INTEGER NOT NULL,
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    grant_id       TEXT,
    kind           TEXT NOT NULL CHECK (kind = 'burn'),
    amount         INTEGER NOT NULL,
    booked_at      INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    event_id       TEXT,
    product_id     TEXT,
    related_seq    INTEGER,
    actor          TEXT NOT NULL,
    reason_code    TEXT,
    ticket_ref     TEXT,
    note           TEXT,
    PRIMARY KEY (slice, seq)
) WITHOUT ROWID;
CREATE TRIGGER entries_recent_no_update BEFORE UPDATE ON entries_recent
BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
-- A recent burn leaves only once `entries` holds the same row (by its
-- number alone since migration 5). FAIL, not
-- ABORT: a refused row keeps the rows deleted before it (each of them
-- moved, so nothing is lost), and a DELETE that cannot abort needs no
-- statement journal (the writer's group rolls back on any error).
CREATE TRIGGER entries_recent_moved_only BEFORE DELETE ON entries_recent
WHEN NOT EXISTS (
    SELECT 1 FROM entries e WHERE e.seq = OLD.seq AND e.customer_id = OLD.customer_id
        AND e.credit_type_id = OLD.credit_type_id AND e.grant_id IS OLD.grant_id AND e.kind = OLD.kind
        AND e.amount = OLD.amount AND e.booked_at = OLD.booked_at AND e.recorded_at = OLD.recorded_at
        AND e.event_id IS OLD.event_id AND e.product_id IS OLD.product_id AND e.related_seq IS OLD.related_seq
        AND e.actor = OLD.actor AND e.reason_code IS OLD.reason_code AND e.ticket_ref IS OLD.ticket_ref
        AND e.note IS OLD.note)
BEGIN SELECT RAISE(FAIL, 'a recent entry leaves only as the same row in entries'); END;

-- The whole ledger, wherever each entry is, for people reading the file.
CREATE VIEW ledger_entries AS
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note FROM entries
    UNION ALL
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note FROM entries_recent;
