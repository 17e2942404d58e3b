-- Burns are stored in blocks: the burns one write group books for one
-- customer, credit type and booked day, as one row whose `burns` column
-- is a compact binary block (format: `src/sqlite/burn_block.rs`), read
-- back as entry rows by the table-valued function `burn_block(burns)`
-- that the server registers on its connections. Why: as rows, each burn
-- cost a staged row, a moved row with two per-customer index entries and
-- a delete (migrations 4-7), about half the writer's time under live
-- ingest; a block is one row per customer a group burns for
-- (docs/server.md, "Where burns are written"; BENCHMARKS.md).
--
-- Burns staged by version 7 were moved into `entries`, with their day
-- rollups, just before this ran (`db::lite::move_staged_burns`); burns
-- already in `entries` stay there as rows. Every burn's day rollups and
-- running totals are written with it again, as for every other entry.
DROP VIEW ledger_entries;
DROP TRIGGER entries_recent_no_update;
DROP TRIGGER entries_recent_moved_only;
DROP TABLE entries_recent;

CREATE TABLE burn_blocks (
    id             INTEGER PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    booked_day     INTEGER NOT NULL,          -- UTC days since the epoch, floored
    booked_max     INTEGER NOT NULL,          -- the latest booked time in the block
    recorded_at    INTEGER NOT NULL,          -- every burn's: its write group's time
    n              INTEGER NOT NULL CHECK (n > 0),
    burns          BLOB NOT NULL
);
-- Reads by booked day (a balance's boundary day, an event's burns; is
-- anything booked after `at`, which every balance read asks, from the
-- index alone) and by recorded time (the ledger listing, "as known then").
CREATE INDEX burn_blocks_booked ON burn_blocks(customer_id, credit_type_id, booked_day, booked_max);
CREATE INDEX burn_blocks_recorded ON burn_blocks(customer_id, recorded_at);
CREATE TRIGGER burn_blocks_no_update BEFORE UPDATE ON burn_blocks
BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;
CREATE TRIGGER burn_blocks_no_delete BEFORE DELETE ON burn_blocks
BEGIN SELECT RAISE(ABORT, 'entries are append-only'); END;

-- The whole ledger, rows and blocks, for the server's own connections
-- (others lack `burn_block`: they read `entries` and `burn_blocks`).
CREATE VIEW ledger_entries AS
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note FROM entries
    UNION ALL
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note FROM burn_blocks, burn_block(burns);
