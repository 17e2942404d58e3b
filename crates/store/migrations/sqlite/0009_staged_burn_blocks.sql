-- A write group's burn blocks are staged in `burn_blocks_recent`, and
-- each group moves the staged blocks of an eighth of the staged customers
-- (those staged longest) into `burn_blocks`, keeping their ids
-- (`db::lite`, `insert_entries`). Why: each block added an entry at its
-- customer's own tail leaf in both indexes of `burn_blocks`, so a group
-- burning for 200 customers wrote some 450 index pages to the WAL, 93 %
-- of its commit, and those page writes were the batch ack's tail
-- (BENCHMARKS.md, "What a commit writes now"). Moved eight groups' worth
-- at a time, a customer's tails are written once per move.
CREATE TABLE burn_blocks_recent (
    id             INTEGER PRIMARY KEY,       -- above every id in both tables when staged
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    booked_day     INTEGER NOT NULL,
    booked_max     INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    n              INTEGER NOT NULL CHECK (n > 0),
    burns          BLOB NOT NULL
);
-- Reads of a customer's blocks; a small tree (a few groups' blocks).
CREATE INDEX burn_blocks_recent_customer ON burn_blocks_recent(customer_id, credit_type_id);
CREATE TRIGGER burn_blocks_recent_no_update BEFORE UPDATE ON burn_blocks_recent
BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
-- A staged block leaves only as a move: once `burn_blocks` holds it.
CREATE TRIGGER burn_blocks_recent_moved_only BEFORE DELETE ON burn_blocks_recent
WHEN NOT EXISTS (SELECT 1 FROM burn_blocks b WHERE b.id = OLD.id AND b.burns = OLD.burns)
BEGIN SELECT RAISE(ABORT, 'entries are append-only: a staged block leaves only once burn_blocks holds it'); END;

DROP VIEW ledger_entries;
CREATE VIEW ledger_entries AS
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note FROM entries
    UNION ALL
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note FROM burn_blocks, burn_block(burns)
    UNION ALL
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note FROM burn_blocks_recent, burn_block(burns);
