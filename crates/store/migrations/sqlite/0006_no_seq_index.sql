-- `entries` loses its index on the entry number. Its one user was the guard
-- on `entries_recent` (migration 5), and every burn moved into `entries`
-- paid a fourth B-tree insert for it, into leaves scattered over the last
-- sixteen groups' numbers (slices move out of number order): about 25 of
-- the 300 pages a live group commits. The guard now finds the moved burn
-- through `entries_recorded` (customer, recorded time, number), a leaf the
-- move has just written. Quick runs, interleaved (2026-12-04,
-- BENCHMARKS.md): writer CPU per event 8.6-8.9 against 9.0-9.2 us, WAL
-- bytes per event 8 % fewer, 92-95k against 89-92k events/s.
--
-- Entry numbers stay unique by construction: the single writer takes them
-- from `seq_blocks`. The guard checks the customer and recorded time as
-- well as the number, so an entry of another customer or another moment
-- that happened to carry the number would not let the burn leave.
DROP TRIGGER entries_recent_moved_only;
DROP INDEX entries_seq;
CREATE TRIGGER entries_recent_moved_only BEFORE DELETE ON entries_recent
WHEN NOT EXISTS (
    SELECT 1 FROM entries e WHERE e.customer_id = OLD.customer_id AND e.recorded_at = OLD.recorded_at
        AND e.seq = OLD.seq)
BEGIN SELECT RAISE(FAIL, 'a recent entry leaves only once moved into entries'); END;
