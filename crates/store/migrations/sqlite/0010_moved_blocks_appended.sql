-- A moved block takes the next id of `burn_blocks` instead of keeping its
-- staged id, and a staged block takes the next id of its own table
-- (`db::lite`, `MOVE_STAGED`). Why: a group moves the blocks of an eighth
-- of the customers, staged over the last eight groups, so with their own
-- ids they landed between ids already moved, in the middle of the table's
-- last pages, and each insert split pages there; appended, they go to the
-- table's last page (docs/server.md, "The move appends"; BENCHMARKS.md,
-- "The group's fixed cost after staging"). No read uses a block's id, so
-- ids need only be unique in their own table.
--
-- The guard no longer matches ids: a staged block may leave only once
-- `burn_blocks` holds a block with the same customer, credit type, booked
-- day, latest booked time, recorded time and bytes (its burns' entry
-- numbers are unique, so that is this block), found through
-- `burn_blocks_booked`. It raises FAIL, not ABORT: a statement that may
-- ABORT copies every page it touches into a statement journal first, so
-- that it can undo its own earlier rows, and the move's DELETE is one such
-- statement each group. FAIL stops at the refused row and keeps the rows
-- before it, each of which the guard let go; the writer rolls the whole
-- group back on any error.
DROP TRIGGER burn_blocks_recent_moved_only;
CREATE TRIGGER burn_blocks_recent_moved_only BEFORE DELETE ON burn_blocks_recent
WHEN NOT EXISTS (
    SELECT 1 FROM burn_blocks b
    WHERE b.customer_id = OLD.customer_id AND b.credit_type_id = OLD.credit_type_id
      AND b.booked_day = OLD.booked_day AND b.booked_max = OLD.booked_max
      AND b.recorded_at = OLD.recorded_at AND b.burns = OLD.burns)
BEGIN SELECT RAISE(FAIL, 'entries are append-only: a staged block leaves only once burn_blocks holds it'); END;
