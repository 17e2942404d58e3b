-- A moved customer's staged blocks no longer leave the staging table at
-- the move: `staged_moved` records, per customer, the last staged block
-- moved, and the blocks leave in staging order, from the oldest up to the
-- oldest block not yet moved (`db::lite`, `MOVE_STAGED`). Readers see the
-- staged blocks not yet moved, through the view `burn_blocks_staged`.
-- Why: each group deleted the blocks of the customers it moved, staged
-- over the last sixteen groups and so spread over the whole table, and at
-- 100,000 events/s every commit rewrote nearly every page of it: about
-- 40 of the 150-160 pages a commit wrote (docs/server.md, "Staged
-- blocks"; BENCHMARKS.md, "Staged blocks leave in order"). Now a group
-- writes the table's last pages (its blocks) and its first (the blocks
-- that leave).
--
-- Block numbers come from AUTOINCREMENT: a number once used is never used
-- again, even after the table empties, so a customer's `through` never
-- covers a block staged after its move.
CREATE TABLE burn_blocks_staging (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    booked_day     INTEGER NOT NULL,
    booked_max     INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    n              INTEGER NOT NULL CHECK (n > 0),
    burns          BLOB NOT NULL
);
INSERT INTO burn_blocks_staging
    SELECT id, customer_id, credit_type_id, booked_day, booked_max, recorded_at, n, burns
    FROM burn_blocks_recent ORDER BY id;
DROP VIEW ledger_entries;
DROP TABLE burn_blocks_recent;
ALTER TABLE burn_blocks_staging RENAME TO burn_blocks_recent;
CREATE INDEX burn_blocks_recent_customer ON burn_blocks_recent(customer_id, credit_type_id);
CREATE TRIGGER burn_blocks_recent_no_update BEFORE UPDATE ON burn_blocks_recent
BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
-- As since migration 10: a staged block leaves only once `burn_blocks`
-- holds the same block.
CREATE TRIGGER burn_blocks_recent_moved_only BEFORE DELETE ON burn_blocks_recent
WHEN NOT EXISTS (
    SELECT 1 FROM burn_blocks b
    WHERE b.customer_id = OLD.customer_id AND b.credit_type_id = OLD.credit_type_id
      AND b.booked_day = OLD.booked_day AND b.booked_max = OLD.booked_max
      AND b.recorded_at = OLD.recorded_at AND b.burns = OLD.burns)
BEGIN SELECT RAISE(FAIL, 'entries are append-only: a staged block leaves only once burn_blocks holds it'); END;

-- The last staged block moved of each customer (its `id`): the customer's
-- staged blocks up to it are in `burn_blocks` as well.
CREATE TABLE staged_moved (
    customer_id TEXT PRIMARY KEY,
    through     INTEGER NOT NULL
) WITHOUT ROWID;

-- The staged blocks not yet moved: what every read of staged burns uses.
CREATE VIEW burn_blocks_staged AS
    SELECT id, customer_id, credit_type_id, booked_day, booked_max, recorded_at, n, burns
    FROM burn_blocks_recent r
    WHERE r.id > COALESCE((SELECT m.through FROM staged_moved m WHERE m.customer_id = r.customer_id), 0);

CREATE VIEW ledger_entries AS
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note FROM entries
    UNION ALL
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note FROM burn_blocks, burn_block(burns)
    UNION ALL
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note FROM burn_blocks_staged, burn_block(burns);
