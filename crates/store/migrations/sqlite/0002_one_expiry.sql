-- An expiry is booked once per grant (the `expire` entry is its marker,
-- docs/ledger.md): the database refuses a second one whatever the code does.
CREATE UNIQUE INDEX entries_one_expiry ON entries(grant_id) WHERE kind = 'expire';
-- Grants not yet expired or voided: what a sweep looks through.
CREATE INDEX grant_state_live ON grant_state(grant_id) WHERE expiry_seq IS NULL AND voided_at IS NULL;
