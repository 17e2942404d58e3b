-- From this version on, a burn's day rollups (`ledger_days`, `burn_days`)
-- are written when it moves from `entries_recent` into `entries`, in the
-- same transaction, not when it is staged; reads add the staged burns of
-- the customer's slice (docs/server.md, "Where burns are written"). Why:
-- every write group of live ingest rewrote the day rows of every customer
-- it burned for, a few burns each; the move writes them once for sixteen
-- groups' worth. Burns staged by an earlier version have their rollups
-- already: they move here, as they are, without adding to them again.
INSERT INTO entries (seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id,
                     product_id, related_seq, actor, reason_code, ticket_ref, note)
    SELECT seq, customer_id, credit_type_id, grant_id, kind, amount, booked_at, recorded_at, event_id, product_id,
           related_seq, actor, reason_code, ticket_ref, note
    FROM entries_recent;
DELETE FROM entries_recent;
