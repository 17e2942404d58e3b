import { useState } from "react";
import { api, type AppError, type S } from "../api";
import { Money, DataAgeBar, Empty, ErrorBox, LoadMore, Loading, OpenRow, usePaged } from "../components/common";
import { may, roleList, roleName } from "../lib/policy";
import { groupDecimal, instant } from "../lib/format";

type Scope = S["ApprovalScope"];
const STATUSES: (S["ApprovalStatus"] | "")[] = ["pending", "approved", "rejected", "cancelled", "expired", "failed", ""];

/** What a request does when approved, in words. */
export function effectText(a: S["Approval"]): string {
  const credits = `${groupDecimal(a.credits)} ${a.credit_type_id} credits`;
  switch (a.action) {
    case "grant":
      return `Grants ${credits} to ${a.customer_id}.`;
    case "goodwill_grant":
      return `Grants ${credits} of goodwill to ${a.customer_id}${a.dispute_id ? ` (dispute ${a.dispute_id})` : ""}.`;
    case "reverse_usage":
      return `Reverses disputed usage worth ${credits} for ${a.customer_id}${a.dispute_id ? ` (dispute ${a.dispute_id})` : ""}.`;
    case "extend_expiry":
      return `Extends the expiry of ${credits} for ${a.customer_id}.`;
    default:
      return `${a.action}: ${credits} for ${a.customer_id}.`;
  }
}

/** Whether `me` filed the request (the server names the requester by user id). */
export function requestedBy(a: S["Approval"], me: S["MeResponse"]): boolean {
  return a.requested_by === me.user_id || a.requested_by === me.name;
}

/** Approval requests: all, mine, or one customer's; detail with decide buttons. */
export function Approvals({
  session,
  customer: initialCustomer,
}: {
  session: S["Session"];
  customer?: string;
}) {
  const [scope, setScope] = useState<Scope>(initialCustomer ? "customer" : "all");
  const [customer, setCustomer] = useState(initialCustomer ?? "");
  const [status, setStatus] = useState<S["ApprovalStatus"] | "">("pending");
  // The request shown in detail: kept when a decision drops it from the list.
  const [chosen, setChosen] = useState<S["Approval"] | null>(null);
  const list = usePaged<S["Approval"]>(
    (after) => api.approvals(scope, scope === "customer" ? customer : null, status || null, after),
    [scope, customer, status],
    scope !== "customer" || customer.trim() !== "",
  );
  const { items, error, loaded } = list;

  return (
    <div className="view" data-testid="view-approvals">
      <div className="toolbar">
        <h2>Approvals</h2>
        <div className="range" role="group" aria-label="Whose requests">
          {(["all", "mine", "customer"] as Scope[]).map((s) => (
            <button key={s} type="button" aria-pressed={scope === s} onClick={() => setScope(s)} data-testid={`scope-${s}`}>
              {s === "all" ? "All" : s === "mine" ? "Mine" : "For a customer"}
            </button>
          ))}
        </div>
        {scope === "customer" && (
          <input
            type="search"
            placeholder="Customer id"
            aria-label="Customer id"
            value={customer}
            onChange={(e) => setCustomer(e.target.value)}
          />
        )}
        <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value as S["ApprovalStatus"] | "")}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s || "any status"}
            </option>
          ))}
        </select>
        <DataAgeBar age={list.age} onRefresh={list.reload} busy={list.busy} />
      </div>
      <p className="sub">
        You are {session.user.name} ({roleName(session.user.role)}); you may approve up to{" "}
        {session.user.limits.approve_up_to ? <Money m={session.user.limits.approve_up_to} /> : "any value"}.
      </p>
      {error && <ErrorBox error={error} onRetry={list.reload} />}
      {!loaded && !error && <Loading what="approval requests" />}
      {loaded && !error && items.length === 0 && <Empty>No {status || ""} requests here.</Empty>}
      <div className="split">
        {items.length > 0 && (
          <div className="table-scroll">
          <table className="data" data-testid="approvals">
            <thead>
              <tr>
                <th>Requested</th>
                <th>Customer</th>
                <th>Action</th>
                <th className="num">Value</th>
                <th>Status</th>
                <th>Exceeded</th>
                <th>Reason</th>
                <th>By</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <OpenRow
                  key={a.id}
                  selected={a.id === chosen?.id}
                  onOpen={() => setChosen(a)}
                  data-approval={a.id}
                  data-testid="approval-row"
                >
                  <td className="when">{instant(a.requested_at)}</td>
                  <td>{a.customer_id}</td>
                  <td>{a.action}</td>
                  <td className="num"><Money m={a.value} /></td>
                  <td className={`status-${a.status}`}>{a.status}</td>
                  <td>{a.exceeded.replace("_", "-")}</td>
                  <td>{a.reason_code}</td>
                  <td>
                    {a.requested_by}
                    {requestedBy(a, session.user) && <span className="sub"> (you)</span>}
                  </td>
                </OpenRow>
              ))}
            </tbody>
          </table>
          </div>
        )}
        {chosen && (
          <ApprovalDetail
            key={chosen.id}
            a={chosen}
            me={session.user}
            onDecided={list.reload}
            onClose={() => setChosen(null)}
          />
        )}
      </div>
      <LoadMore cursor={list.cursor} busy={list.busy} onMore={list.more} />
    </div>
  );
}

function ApprovalDetail({
  a,
  me,
  onDecided,
  onClose,
}: {
  a: S["Approval"];
  me: S["MeResponse"];
  onDecided: () => void;
  onClose: () => void;
}) {
  const [note, setNote] = useState("");
  const [error, setError] = useState<AppError>();
  const [done, setDone] = useState<S["ApprovalDecided"]>();
  const [busy, setBusy] = useState(false);
  const mine = requestedBy(a, me);
  // Only roles the server's policy lets decide requests get the buttons.
  const decides = may(me, "decide");
  const decide = (run: () => Promise<S["ApprovalDecided"]>) => {
    setBusy(true);
    run().then(
      (d) => (setDone(d), setError(undefined), setBusy(false), onDecided()),
      (e: AppError) => (setError(e), setBusy(false)),
    );
  };
  const reject = () => {
    if (!note.trim()) {
      setError({ code: "invalid_input", message: "A reason is required to reject.", field: "reason", hint: "Say why below." });
      return;
    }
    decide(() => api.reject(a.id, note));
  };
  const shown = done?.approval ?? a;
  return (
    <section className="panel detail" data-testid="approval-detail" aria-label={`Request ${a.id}`}>
      <header>
        <h3>Request {a.id}</h3>
        <button type="button" onClick={onClose} aria-label="Close detail">
          ×
        </button>
      </header>
      <p className="effect">{effectText(a)}</p>
      <dl className="facts">
        <dt>Requested by</dt>
        <dd>
          {a.requested_by} ({roleName(a.requested_role)}) on {instant(a.requested_at)}
        </dd>
        <dt>Value</dt>
        <dd><Money m={a.value} /></dd>
        <dt>Limit exceeded</dt>
        <dd>
          {a.exceeded === "monthly" ? "monthly budget left" : "per action"} <Money m={a.limit} />, by <Money m={a.exceeded_by} />
        </dd>
        <dt>Who may approve</dt>
        <dd>{roleList(a.approver_roles)}</dd>
        <dt>Reason</dt>
        <dd>
          {a.reason_code} · ticket {a.ticket_ref}
        </dd>
        <dt>Note</dt>
        <dd>{a.note}</dd>
        <dt>Expires</dt>
        <dd>{instant(a.expires_at)}</dd>
        <dt>Status</dt>
        <dd data-testid="approval-status">
          {shown.status}
          {shown.decided_by && ` by ${shown.decided_by}`}
          {shown.decision_note && `: ${shown.decision_note}`}
        </dd>
      </dl>
      {done && (
        <p className="notice" data-testid="approval-done">
          {done.approval.status === "approved"
            ? `Approved and executed${done.entries.length ? `: ${done.entries.length} ${done.entries.length === 1 ? "entry" : "entries"} booked` : ""}${
                done.reversed_events.length ? `, ${done.reversed_events.length} events reversed` : ""
              }.`
            : `Request ${done.approval.status}.`}
        </p>
      )}
      {error && <ErrorBox error={error} />}
      {shown.status === "pending" && !decides && (
        <p className="sub" data-testid="approval-read-only">
          Your role ({roleName(me.role)}) cannot decide approval requests.
        </p>
      )}
      {shown.status === "pending" && !done && decides && (
        <div className="form">
          {/* Four-eyes: the server refuses a decision by the requester, so none is offered. */}
          {mine && (
            <p className="sub" data-testid="approval-own">
              You requested this, so another user must approve or reject it. You may cancel it.
            </p>
          )}
          <label>
            <span className="sub">{mine ? "Note (optional)" : "Note (the reason, required to reject)"}</span>
            <input value={note} onChange={(e) => setNote(e.target.value)} data-testid="approval-note" />
          </label>
          <div className="buttons">
            {mine ? (
              <button
                type="button"
                disabled={busy}
                onClick={() => decide(() => api.cancelApproval(a.id, note || null))}
                data-testid="cancel-request"
              >
                Cancel my request
              </button>
            ) : (
              <>
                <button
                  type="button"
                  className="primary"
                  disabled={busy}
                  onClick={() => decide(() => api.approve(a.id, note || null))}
                  data-testid="approve"
                >
                  Approve
                </button>
                <button type="button" disabled={busy} onClick={reject} data-testid="reject">
                  Reject
                </button>
              </>
            )}
          </div>
        </div>
      )}
    </section>
  );
}
