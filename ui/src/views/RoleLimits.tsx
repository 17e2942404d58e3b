import { useState } from "react";
import { api, type AppError, type S } from "../api";
import { ErrorBox, Loading, Money, useCommand } from "../components/common";
import { instant } from "../lib/format";
import { may, roleName } from "../lib/policy";

/** A limit as shown: its amount, or "unlimited" (null). */
function Limit({ m }: { m?: S["Money"] | null }) {
  return m ? <Money m={m} /> : <span className="sub">unlimited</span>;
}

/**
 * Settings -> Role limits: what each role may do alone per action and per
 * month, and what it may approve for others. Everyone may read them (an
 * agent sees why a grant needs approval); only an admin may change them,
 * and the server enforces that too.
 */
export function RoleLimits({ me }: { me: S["MeResponse"] }) {
  const editable = may(me, "admin");
  const { data, error, reload } = useCommand(() => api.roleLimits(), []);
  const [editing, setEditing] = useState<S["Role"] | null>(null);
  return (
    <section className="panel" data-testid="role-limits">
      <header>
        <h3>Role limits{data ? ` (${data.currency})` : ""}</h3>
      </header>
      {error && <ErrorBox error={error} onRetry={reload} />}
      {!data && !error && <Loading what="role limits" />}
      {data && (
        <table className="data">
          <thead>
            <tr>
              <th>Role</th>
              <th className="num">Alone, per action</th>
              <th className="num">Alone, per month</th>
              <th className="num">Approves up to</th>
              <th>Last set</th>
              {editable && <th></th>}
            </tr>
          </thead>
          <tbody>
            {data.roles.map((r) =>
              editing === r.role ? (
                <EditRow key={r.role} entry={r} onDone={() => (setEditing(null), reload())} onCancel={() => setEditing(null)} />
              ) : (
                <tr key={r.role} data-role={r.role}>
                  <td>{roleName(r.role)}</td>
                  <td className="num">
                    <Limit m={r.limits.per_action} />
                  </td>
                  <td className="num">
                    <Limit m={r.limits.monthly} />
                  </td>
                  <td className="num">
                    <Limit m={r.limits.approve_up_to} />
                  </td>
                  <td className="sub">
                    {/* The service's defaults carry no meaningful time. */}
                    {r.updated_by === "system:default" ? "service default" : `${r.updated_by} · ${instant(r.updated_at)}`}
                  </td>
                  {editable && (
                    <td>
                      <button type="button" onClick={() => setEditing(r.role)} data-testid={`edit-limits-${r.role}`}>
                        Edit
                      </button>
                    </td>
                  )}
                </tr>
              ),
            )}
          </tbody>
        </table>
      )}
      <p className="sub">Empty means unlimited; 0 means never alone (or, to approve, not at all).</p>
    </section>
  );
}

function EditRow({ entry, onDone, onCancel }: { entry: S["RoleLimitsEntry"]; onDone: () => void; onCancel: () => void }) {
  const [form, setForm] = useState<S["RoleLimitsForm"]>({
    per_action: entry.limits.per_action?.amount ?? "",
    monthly: entry.limits.monthly?.amount ?? "",
    approve_up_to: entry.limits.approve_up_to?.amount ?? "",
  });
  const [error, setError] = useState<AppError>();
  const [busy, setBusy] = useState(false);
  const save = () => {
    setBusy(true);
    api.setRoleLimits(entry.role, form).then(
      () => (setBusy(false), onDone()),
      (e: AppError) => (setError(e), setBusy(false)),
    );
  };
  const input = (field: keyof S["RoleLimitsForm"], label: string) => (
    <td className="num">
      <input
        className="amount"
        value={form[field]}
        placeholder="unlimited"
        aria-label={`${label} for ${entry.role}`}
        onChange={(e) => setForm({ ...form, [field]: e.target.value })}
        onKeyDown={(e) => {
          if (e.key === "Enter") save();
          if (e.key === "Escape") onCancel();
        }}
        data-testid={`limit-${field}`}
      />
    </td>
  );
  return (
    <>
      <tr data-role={entry.role} className="selected">
        <td>{roleName(entry.role)}</td>
        {input("per_action", "Per action")}
        {input("monthly", "Per month")}
        {input("approve_up_to", "Approves up to")}
        <td></td>
        <td>
          <div className="buttons nowrap">
            <button type="button" className="primary" onClick={save} disabled={busy} data-testid="save-limits">
              {busy ? "Saving..." : "Save"}
            </button>
            <button type="button" onClick={onCancel}>
              Cancel
            </button>
          </div>
        </td>
      </tr>
      {error && (
        <tr>
          <td colSpan={6}>
            <ErrorBox error={error} />
          </td>
        </tr>
      )}
    </>
  );
}
