-- Support workflows (docs/workflows.md): approval limits per role, the
-- money each actor moved on their own authority per month, approval
-- requests, disputes. Money values are decimal TEXT in the deployment's
-- currency (summed in code, under the row's lock, never in SQL).

-- A role's limits; NULL = unlimited. Edited by admins (`/v1/admin/roles`).
CREATE TABLE role_limits (
    role          TEXT PRIMARY KEY,
    per_action    TEXT,
    monthly       TEXT,
    approve_up_to TEXT,
    updated_at    INTEGER NOT NULL,
    updated_by    TEXT NOT NULL
);
INSERT INTO role_limits (role, per_action, monthly, approve_up_to, updated_at, updated_by) VALUES
    ('viewer', '0', '0', '0', 0, 'system:default'),
    ('account_manager', '0', '0', '0', 0, 'system:default'),
    ('support_agent', '50', '500', '0', 0, 'system:default'),
    ('support_lead', '500', '5000', '500', 0, 'system:default'),
    ('finance', '5000', '50000', '50000', 0, 'system:default'),
    ('admin', NULL, NULL, NULL, 0, 'system:default');

-- What an actor's money-moving actions executed on their own authority
-- were worth, per calendar month (UTC, `month` = yyyymm). The row is the
-- budget's lock: a decision reads and raises it in one transaction.
CREATE TABLE budget_spend (
    actor TEXT NOT NULL,
    month INTEGER NOT NULL,
    spent TEXT NOT NULL,
    PRIMARY KEY (actor, month)
) WITHOUT ROWID;

-- Money-moving actions above the requester's limits. `status` moves once
-- from `pending` (conditional UPDATE ... WHERE status = 'pending'): that
-- transition is what makes an approval execute exactly once.
CREATE TABLE approvals (
    id             TEXT PRIMARY KEY,
    action         TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    credits        TEXT NOT NULL,
    value          TEXT NOT NULL,
    currency       TEXT NOT NULL,
    exceeded       TEXT NOT NULL,
    limit_value    TEXT NOT NULL,
    exceeded_by    TEXT NOT NULL,
    approver_roles TEXT NOT NULL,          -- JSON array
    payload        TEXT NOT NULL,          -- JSON: what executes on approval
    reason_code    TEXT NOT NULL,
    ticket_ref     TEXT NOT NULL,
    note           TEXT NOT NULL,
    dispute_id     TEXT,
    requested_by   TEXT NOT NULL,
    requested_role TEXT NOT NULL,
    requested_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    status         TEXT NOT NULL,
    decided_by     TEXT,
    decided_at     INTEGER,
    decision_note  TEXT,
    result         TEXT                    -- JSON: what the execution booked
);
CREATE INDEX approvals_status ON approvals(status, requested_at);
CREATE INDEX approvals_customer ON approvals(customer_id, requested_at);
CREATE INDEX approvals_requester ON approvals(requested_by, requested_at);

CREATE TABLE disputes (
    id             TEXT PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    credit_type_id TEXT NOT NULL,
    events         TEXT NOT NULL,          -- JSON array of event ids
    ticket_ref     TEXT NOT NULL,
    description    TEXT NOT NULL,
    claimed        TEXT,                   -- credits the customer claims
    status         TEXT NOT NULL,
    assignee       TEXT,
    opened_by      TEXT NOT NULL,
    opened_at      INTEGER NOT NULL,
    sla_due_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    resolution     TEXT,
    resolution_reason TEXT,
    resolved_by    TEXT,
    resolved_at    INTEGER,
    approval_id    TEXT
);
CREATE INDEX disputes_status ON disputes(status, opened_at);
CREATE INDEX disputes_customer ON disputes(customer_id, opened_at);

-- The investigation's notes: append-only like the audit log.
CREATE TABLE dispute_comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    dispute_id TEXT NOT NULL,
    at         INTEGER NOT NULL,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX dispute_comments_of ON dispute_comments(dispute_id, id);
CREATE TRIGGER dispute_comments_no_update BEFORE UPDATE ON dispute_comments BEGIN SELECT RAISE(ABORT, 'dispute comments are append-only'); END;
CREATE TRIGGER dispute_comments_no_delete BEFORE DELETE ON dispute_comments BEGIN SELECT RAISE(ABORT, 'dispute comments are append-only'); END;

CREATE INDEX audit_action ON audit_log(action, id);
CREATE INDEX audit_at ON audit_log(at, id);
