import { useState } from "react";
import { api, type AppError, type S } from "../api";
import { Money, DataAgeBar, Empty, ErrorBox, LoadMore, Loading, OpenRow, useCommand, usePaged } from "../components/common";
import { ReasonSelect } from "../components/Dialog";
import { may, roleList, roleName } from "../lib/policy";
import { groupDecimal, instant, signed } from "../lib/format";

const STATUSES: (S["DisputeStatus"] | "")[] = ["", "open", "investigating", "awaiting_approval", "resolved", "rejected"];

/** "due in 5 h", "overdue by 2 d", or when it was closed. */
export function slaText(d: S["Dispute"], now: Date): string {
  if (d.status === "resolved" || d.status === "rejected") return d.resolved_at ? `closed ${instant(d.resolved_at)}` : "closed";
  const ms = new Date(d.sla_due_at).getTime() - now.getTime();
  const hours = Math.round(Math.abs(ms) / 3_600_000);
  const span = hours >= 48 ? `${Math.round(hours / 24)} d` : `${hours} h`;
  return d.overdue || ms < 0 ? `overdue by ${span}` : `due in ${span}`;
}

/** Disputes: list with state and SLA; a dispute's evidence, comments, assign and resolve. */
export function Disputes({
  session,
  openId,
  onOpen,
}: {
  session: S["Session"];
  openId: string | null;
  onOpen: (id: string | null) => void;
}) {
  const [status, setStatus] = useState<S["DisputeStatus"] | "">("");
  const [customer, setCustomer] = useState("");
  const [overdue, setOverdue] = useState(false);
  const list = usePaged<S["Dispute"]>(
    (after) => api.disputes(status || null, customer || null, overdue ? true : null, after),
    [status, customer, overdue],
  );
  const { items, error, loaded } = list;
  const now = new Date();

  return (
    <div className="view" data-testid="view-disputes">
      <div className="toolbar">
        <h2>Disputes</h2>
        <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value as S["DisputeStatus"] | "")}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s ? s.replace("_", " ") : "any status"}
            </option>
          ))}
        </select>
        <input
          type="search"
          placeholder="Customer id"
          aria-label="Customer id"
          value={customer}
          onChange={(e) => setCustomer(e.target.value)}
        />
        <label className="check">
          <input type="checkbox" checked={overdue} onChange={(e) => setOverdue(e.target.checked)} /> Overdue only
        </label>
        <DataAgeBar age={list.age} onRefresh={list.reload} busy={list.busy} />
      </div>
      {error && <ErrorBox error={error} onRetry={list.reload} />}
      {!loaded && !error && <Loading what="disputes" />}
      {loaded && !error && items.length === 0 && <Empty>No disputes match.</Empty>}
      {items.length > 0 && (
        <table className="data" data-testid="disputes">
          <thead>
            <tr>
              <th>Dispute</th>
              <th>Customer</th>
              <th className="num">Events</th>
              <th>Status</th>
              <th>SLA</th>
              <th>Assignee</th>
              <th>Ticket</th>
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <OpenRow
                key={d.id}
                selected={d.id === openId}
                onOpen={() => onOpen(d.id)}
                data-dispute={d.id}
                data-testid="dispute-row"
              >
                <td className="mono">{d.id}</td>
                <td>{d.customer_id}</td>
                <td className="num">{d.events.length}</td>
                <td className={`status-${d.status}`}>{d.status.replace("_", " ")}</td>
                <td className={d.overdue ? "warn" : undefined}>{slaText(d, now)}</td>
                <td>{d.assignee ?? "—"}</td>
                <td>{d.ticket_ref}</td>
              </OpenRow>
            ))}
          </tbody>
        </table>
      )}
      <LoadMore cursor={list.cursor} busy={list.busy} onMore={list.more} />
      {openId && (
        <DisputeDetail key={openId} id={openId} me={session.user} onChanged={list.reload} onClose={() => onOpen(null)} />
      )}
    </div>
  );
}

function DisputeDetail({
  id,
  me,
  onChanged,
  onClose,
}: {
  id: string;
  me: S["MeResponse"];
  onChanged: () => void;
  onClose: () => void;
}) {
  const { data, error, busy, reload } = useCommand(() => api.dispute(id), [id]);
  const [actionError, setActionError] = useState<AppError>();
  const [comment, setComment] = useState("");
  const [outcome, setOutcome] = useState<S["DisputeOutcome"]>("reverse_usage");
  const [reason, setReason] = useState("");
  const [reasonCode, setReasonCode] = useState("billing_error");
  const [goodwill, setGoodwill] = useState("");
  const [resolved, setResolved] = useState<S["DisputeResolved"]>();
  const [working, setWorking] = useState(false);
  const act = <T,>(run: () => Promise<T>, then?: (t: T) => void) => {
    setWorking(true);
    run().then(
      (t) => {
        setActionError(undefined);
        setWorking(false);
        then?.(t);
        reload();
        onChanged();
      },
      (e: AppError) => (setActionError(e), setWorking(false)),
    );
  };
  const d = data?.detail.dispute;
  const open = d && (d.status === "open" || d.status === "investigating");
  // Only roles the server's policy lets work on disputes get the actions.
  const works = may(me, "dispute");
  return (
    <section className="panel" data-testid="dispute-detail" aria-label={`Dispute ${id}`}>
      <header>
        <h3>Dispute {id}</h3>
        <DataAgeBar age={data?.age} onRefresh={reload} busy={busy} />
        <button type="button" onClick={onClose} aria-label="Close detail">
          ×
        </button>
      </header>
      {error && <ErrorBox error={error} onRetry={reload} />}
      {!data && !error && <Loading what="the dispute" />}
      {data && d && (
        <>
          <dl className="facts">
            <dt>Customer</dt>
            <dd>
              {d.customer_id} · {d.credit_type_id}
            </dd>
            <dt>Status</dt>
            <dd data-testid="dispute-status">
              {d.status.replace("_", " ")}
              {d.resolution && ` (${d.resolution.replace("_", " ")}${d.resolved_by ? ` by ${d.resolved_by}` : ""})`}
            </dd>
            <dt>SLA</dt>
            <dd className={d.overdue ? "warn" : undefined}>
              due {instant(d.sla_due_at)} · {slaText(d, new Date())}
            </dd>
            <dt>Opened</dt>
            <dd>
              by {d.opened_by} on {instant(d.opened_at)} · ticket {d.ticket_ref}
            </dd>
            <dt>Description</dt>
            <dd>{d.description}</dd>
            {d.claimed_amount && (
              <>
                <dt>Claimed</dt>
                <dd>{groupDecimal(d.claimed_amount)} credits</dd>
              </>
            )}
            <dt>Assignee</dt>
            <dd>
              {d.assignee ?? "nobody"}{" "}
              {open && works && d.assignee !== me.user_id && (
                <button type="button" disabled={working} onClick={() => act(() => api.assignDispute(id, me.user_id))}>
                  Assign to me
                </button>
              )}
            </dd>
            {d.approval_id && (
              <>
                <dt>Approval</dt>
                <dd className="mono">{d.approval_id}</dd>
              </>
            )}
          </dl>
          <h4>
            Evidence: {groupDecimal(data.evidence.total_credits)} credits, <Money m={data.evidence.total_value} />
          </h4>
          <table className="data" data-testid="evidence">
            <thead>
              <tr>
                <th>Event</th>
                <th>Product</th>
                <th className="num">Quantity</th>
                <th>At / received</th>
                <th className="num">Credits</th>
                <th>Rate</th>
                <th>Burns</th>
                <th>Reversed</th>
              </tr>
            </thead>
            <tbody>
              {data.evidence.events.map((e) => (
                <tr key={e.event_id}>
                  <td className="mono">{e.event_id}</td>
                  <td>{e.product_id}</td>
                  <td className="num">{groupDecimal(e.quantity)}</td>
                  <td>
                    {instant(e.timestamp)}
                    <div className="sub">received {instant(e.received_at)}</div>
                  </td>
                  <td className="num">{groupDecimal(e.credits)}</td>
                  <td>
                    {groupDecimal(e.credits_per_unit)}/unit
                    <div className="sub">
                      card of {instant(e.rate_version)}
                      {e.from_override ? " (customer override)" : ""}
                    </div>
                  </td>
                  <td>
                    {e.usage.map((u) => (
                      <div key={u.seq}>
                        {u.kind} {signed(u.amount)}
                        {u.grant_id ? ` from ${u.grant_id}` : ""}
                      </div>
                    ))}
                  </td>
                  <td>{e.reversed ? "yes" : "no"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h4>Comments</h4>
          {data.detail.comments.length === 0 && <div className="sub">No comments yet.</div>}
          <ul className="comments">
            {data.detail.comments.map((c) => (
              <li key={c.id}>
                <span className="sub">
                  {c.author} · {instant(c.at)}
                </span>
                <div>{c.body}</div>
              </li>
            ))}
          </ul>
          {d.status !== "resolved" && d.status !== "rejected" && !works && (
            <p className="sub" data-testid="dispute-read-only">
              Your role ({roleName(me.role)}) cannot work on disputes.
            </p>
          )}
          {d.status !== "resolved" && d.status !== "rejected" && works && (
            <form
              className="inline"
              onSubmit={(e) => {
                e.preventDefault();
                act(() => api.commentDispute(id, comment), () => setComment(""));
              }}
            >
              <input
                value={comment}
                onChange={(e) => setComment(e.target.value)}
                placeholder="Add a comment"
                aria-label="Comment"
              />
              <button type="submit" disabled={working || !comment.trim()}>
                Comment
              </button>
            </form>
          )}
          {resolved && <ResolvedNotice r={resolved} />}
          {actionError && <ErrorBox error={actionError} />}
          {open && works && (
            <form
              className="form resolve"
              data-testid="resolve-form"
              onSubmit={(e) => {
                e.preventDefault();
                act(
                  () =>
                    api.resolveDispute(id, {
                      outcome,
                      reason,
                      reason_code: outcome === "no_action" ? null : reasonCode,
                      goodwill_amount: outcome === "goodwill_grant" ? goodwill : null,
                    }),
                  setResolved,
                );
              }}
            >
              <h4>Resolve</h4>
              <div className="range" role="radiogroup" aria-label="Outcome">
                {(["reverse_usage", "goodwill_grant", "no_action"] as S["DisputeOutcome"][]).map((o) => (
                  <button
                    key={o}
                    type="button"
                    role="radio"
                    aria-checked={outcome === o}
                    aria-pressed={outcome === o}
                    onClick={() => setOutcome(o)}
                    data-testid={`outcome-${o}`}
                  >
                    {o === "reverse_usage" ? "Reverse usage" : o === "goodwill_grant" ? "Goodwill grant" : "No action"}
                  </button>
                ))}
              </div>
              {outcome !== "no_action" && (
                <label>
                  <span className="sub">Reason code</span>
                  <ReasonSelect value={reasonCode} onChange={setReasonCode} />
                </label>
              )}
              {outcome === "goodwill_grant" && (
                <label>
                  <span className="sub">Goodwill credits</span>
                  <input inputMode="decimal" value={goodwill} onChange={(e) => setGoodwill(e.target.value)} />
                </label>
              )}
              <label>
                <span className="sub">Reason (required)</span>
                <input value={reason} onChange={(e) => setReason(e.target.value)} data-testid="resolve-reason" />
              </label>
              <div className="buttons">
                <button type="submit" className="primary" disabled={working} data-testid="resolve-submit">
                  {working ? "Resolving..." : "Resolve"}
                </button>
              </div>
            </form>
          )}
        </>
      )}
    </section>
  );
}

function ResolvedNotice({ r }: { r: S["DisputeResolved"] }) {
  if (r.approval) {
    return (
      <p className="notice pending" data-testid="resolve-outcome">
        Awaiting approval (202): request <span className="mono">{r.approval.approval_id}</span> worth{" "}
        <Money m={r.approval.value} /> exceeds your limit by <Money m={r.approval.exceeded_by} />; {roleList(r.approval.approver_roles)}{" "}
        may approve it.
      </p>
    );
  }
  if (r.dispute.status === "rejected") {
    return (
      <p className="notice" data-testid="resolve-outcome">
        Closed with no action: nothing was booked.
      </p>
    );
  }
  return (
    <p className="notice" data-testid="resolve-outcome">
      Resolved (201):{" "}
      {r.reversed_events.length > 0
        ? `${r.reversed_events.length} events reversed.`
        : `goodwill grant booked (${r.entries.length} entries).`}
    </p>
  );
}
