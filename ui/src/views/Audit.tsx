import { Fragment, useEffect, useState } from "react";
import { api, type AppError, type S } from "../api";
import { Money, DataAgeBar, Empty, ErrorBox, Loading, OpenRow } from "../components/common";
import { instant, localInputToUtc } from "../lib/format";
import { may, roleList, roleName } from "../lib/policy";

type Filter = { actor: string; customer: string; action: string; from: string; to: string };
const EMPTY: Filter = { actor: "", customer: "", action: "", from: "", to: "" };

/** The audit log, newest first: filter by actor, customer, action and time; cursor paging. */
export function Audit({ me }: { me: S["MeResponse"] }) {
  const [draft, setDraft] = useState<Filter>(EMPTY);
  const [filter, setFilter] = useState<Filter>(EMPTY);
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<S["AuditPage"]>();
  const [error, setError] = useState<AppError>();
  const [busy, setBusy] = useState(true);
  const [tick, setTick] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const allowed = may(me, "audit");
  const cursor = pages[pages.length - 1] ?? null;

  useEffect(() => {
    if (!allowed) return;
    const f: S["AuditFilter"] = {
      actor: filter.actor || null,
      customer: filter.customer || null,
      action: filter.action || null,
      from: filter.from ? localInputToUtc(filter.from) : null,
      to: filter.to ? localInputToUtc(filter.to) : null,
    };
    let live = true;
    setBusy(true);
    api.audit(f, cursor).then(
      (p) => live && (setPage(p), setError(undefined), setBusy(false)),
      (e: AppError) => live && (setError(e), setBusy(false)),
    );
    return () => {
      live = false;
    };
  }, [filter, cursor, tick, allowed]);

  if (!allowed) {
    return (
      <div className="view" data-testid="view-audit">
        <h2>Audit log</h2>
        <Empty>
          The audit log is for {roleList(me.policy.audit)}; you are {roleName(me.role)}.
        </Empty>
      </div>
    );
  }
  const set = (k: keyof Filter) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  return (
    <div className="view" data-testid="view-audit">
      <div className="toolbar">
        <h2>Audit log</h2>
        <DataAgeBar age={page?.age} onRefresh={() => setTick((t) => t + 1)} busy={busy} />
      </div>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setPages([null]);
          setFilter(draft);
        }}
      >
        <input placeholder="Actor (user id)" aria-label="Actor" value={draft.actor} onChange={set("actor")} />
        <input placeholder="Customer id" aria-label="Customer" value={draft.customer} onChange={set("customer")} />
        <input placeholder="Action, e.g. grant" aria-label="Action" value={draft.action} onChange={set("action")} data-testid="audit-action" />
        <label className="sub">
          from <input type="datetime-local" aria-label="From (UTC)" value={draft.from} onChange={set("from")} />
        </label>
        <label className="sub">
          to <input type="datetime-local" aria-label="To (UTC)" value={draft.to} onChange={set("to")} />
        </label>
        <button type="submit" className="primary" data-testid="audit-apply">
          Filter
        </button>
        <button
          type="button"
          onClick={() => {
            setDraft(EMPTY);
            setPages([null]);
            setFilter(EMPTY);
          }}
        >
          Clear
        </button>
      </form>
      {error && <ErrorBox error={error} onRetry={() => setTick((t) => t + 1)} />}
      {!page && !error && <Loading what="the audit log" />}
      {page && page.items.length === 0 && <Empty>No audit records match.</Empty>}
      {page && page.items.length > 0 && (
        <div className="table-scroll">
          <table className="data" data-testid="audit">
            <thead>
              <tr>
                <th>When</th>
                <th>Actor</th>
                <th>Action</th>
                <th>Target</th>
                <th>Customer</th>
                <th className="num">Value</th>
                <th>Outcome</th>
                <th>Rule</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((r) => (
                <Fragment key={r.id}>
                <OpenRow
                  aria-expanded={open === r.id}
                  onOpen={() => setOpen(open === r.id ? null : r.id)}
                  data-testid="audit-row"
                >
                  <td className="when">{instant(r.at)}</td>
                  <td className="nowrap">
                    {r.actor}
                    <div className="sub">{r.role}</div>
                  </td>
                  <td className="mono">{r.action}</td>
                  <td className="mono wrap">{r.target ?? ""}</td>
                  <td>{r.customer_id ?? ""}</td>
                  <td className="num">{r.value ? <Money m={r.value} /> : ""}</td>
                  <td className={r.outcome === "refused" || r.outcome === "failed" ? "warn" : undefined}>{r.outcome}</td>
                  <td className="mono">{r.rule ?? ""}</td>
                </OpenRow>
                {open === r.id && (
                  <tr className="explain-row">
                    <td colSpan={8}>
                      {r.detail ?? "No detail."} · record {r.id}
                      {r.request_id ? ` · request ${r.request_id}` : ""}
                    </td>
                  </tr>
                )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="buttons">
        <button type="button" disabled={pages.length < 2 || busy} onClick={() => setPages((p) => p.slice(0, -1))}>
          Newer
        </button>
        <button
          type="button"
          disabled={!page?.next_cursor || busy}
          onClick={() => page?.next_cursor && setPages((p) => [...p, page.next_cursor ?? null])}
          data-testid="audit-older"
        >
          Older
        </button>
      </div>
    </div>
  );
}
