-- A recent burn still leaves only once `entries` holds it, now checked by
-- its entry number alone: `entries` is append-only and its numbers unique,
-- so an entry with the burn's number is the burn, moved. Comparing every
-- column (migration 4) fetched the moved row from the table for each burn
-- deleted: with the lookup, the guard cost about a tenth of the writer's
-- time under live ingest; the number is one lookup in `entries_seq`
-- (2026-12-03, BENCHMARKS.md).
DROP TRIGGER entries_recent_moved_only;
CREATE TRIGGER entries_recent_moved_only BEFORE DELETE ON entries_recent
WHEN NOT EXISTS (SELECT 1 FROM entries e WHERE e.seq = OLD.seq)
BEGIN SELECT RAISE(FAIL, 'a recent entry leaves only once moved into entries'); END;
