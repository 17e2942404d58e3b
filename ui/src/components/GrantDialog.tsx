import { useEffect, useState } from "react";
import { api, type AppError, type S } from "../api";
import { groupDecimal, localInputToUtc, money } from "../lib/format";
import { roleList } from "../lib/policy";
import { ErrorBox, useCommand } from "./common";
import { Dialog, DialogDone, DialogForm, Field, FormButtons, ReasonSelect } from "./Dialog";

/** Milliseconds of typing quiet before the preview is asked for. */
export const PREVIEW_DELAY = 300;

const SOURCES: S["GrantSource"][] = ["goodwill", "promotion", "purchase", "plan", "migration"];

/** The preview as one sentence: executes now, or who must approve and why. */
export function previewText(p: S["GrantPreview"]): string {
  if (p.executes_now) return `Executes now: worth ${money(p.value)}.`;
  const limit = p.exceeded === "monthly" ? "your monthly budget left" : "your per-action limit";
  const over =
    p.limit && p.exceeded_by ? `: exceeds ${limit} (${money(p.limit)}) by ${money(p.exceeded_by)}` : "";
  return `Needs approval by ${roleList(p.approver_roles)}${over}.`;
}

/** The credit type select's options: the catalog's, or the chosen one alone while the catalog loads. */
export function creditTypeOptions(catalog: S["CreditType"][] | undefined, chosen: string): { id: string; label: string }[] {
  if (!catalog) return chosen ? [{ id: chosen, label: chosen }] : [];
  return catalog.map((c) => ({ id: c.id, label: `${c.name} (${c.id}, ${c.unit_label})` }));
}

/** The catalog's products of one credit type: what a grant of it may be restricted to. */
export function productsOf(products: S["Product"][] | undefined, creditType: string): S["Product"][] {
  return (products ?? []).filter((p) => p.credit_type_id === creditType);
}

type Draft = {
  credit_type_id: string;
  amount: string;
  category: S["GrantCategory"];
  source: S["GrantSource"];
  expires: string;
  priority: string;
  /** Ticked products; none for every product of the credit type. */
  products: string[];
  reason_code: string;
  ticket_ref: string;
  note: string;
};

/**
 * "Grant credits..." from the Customer view. As the agent types, the server
 * previews the grant (debounced): whether it executes now or needs an
 * approval, and by whom. Submitting shows 201 (granted) or 202 (request id).
 */
export function GrantDialog({
  customer,
  initialCreditType,
  onClose,
  onDone,
}: {
  customer: string;
  /** The wallet on screen; none for a customer without one yet. */
  initialCreditType: string | null;
  onClose: () => void;
  onDone: () => void;
}) {
  // Every credit type of the catalog, so a customer's first grant can be made here too.
  const catalog = useCommand(() => api.creditTypes(), []);
  const productCatalog = useCommand(() => api.products(), []);
  const [d, setD] = useState<Draft>({
    credit_type_id: initialCreditType ?? "",
    amount: "",
    category: "promotional",
    source: "goodwill",
    expires: "",
    priority: "",
    products: [],
    reason_code: "goodwill",
    ticket_ref: "",
    note: "",
  });
  const [preview, setPreview] = useState<S["GrantPreview"]>();
  const [previewError, setPreviewError] = useState<AppError>();
  const [result, setResult] = useState<S["GrantSubmitted"]>();
  const [error, setError] = useState<AppError>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof Draft) => (e: { target: { value: string } }) => setD({ ...d, [k]: e.target.value });

  const expiresAt = d.expires ? localInputToUtc(d.expires) : null;
  const form: S["GrantForm"] = {
    customer_id: customer,
    credit_type_id: d.credit_type_id,
    amount: d.amount,
    category: d.category,
    source: d.source,
    expires_at: expiresAt,
    priority: d.priority,
    products: d.products,
    reason_code: d.reason_code,
    ticket_ref: d.ticket_ref,
    note: d.note,
  };
  const key = JSON.stringify(form);

  useEffect(() => {
    if (!d.amount.trim()) {
      setPreview(undefined);
      setPreviewError(undefined);
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      api.previewGrant(JSON.parse(key) as S["GrantForm"]).then(
        (p) => live && (setPreview(p), setPreviewError(undefined)),
        (e: AppError) => live && (setPreview(undefined), setPreviewError(e)),
      );
    }, PREVIEW_DELAY);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [key, d.amount]);

  const submit = () => {
    setBusy(true);
    api.submitGrant(form).then(
      (r) => {
        setResult(r);
        setError(undefined);
        setBusy(false);
        onDone();
      },
      (e: AppError) => {
        setError(e);
        setBusy(false);
      },
    );
  };

  return (
    <Dialog title={`Grant credits to ${customer}`} onClose={onClose} testId="grant-dialog">
      {result ? (
        <GrantResult r={result} onClose={onClose} />
      ) : (
        <DialogForm onSubmit={submit}>
          <div className="row2 wide-first">
            <Field label="Credit type">
              <select
                value={d.credit_type_id}
                // Products belong to a credit type: a new type starts with all of its products.
                onChange={(e) => setD({ ...d, credit_type_id: e.target.value, products: [] })}
                data-testid="grant-credit-type"
                required
              >
                {d.credit_type_id === "" && <option value="">Choose...</option>}
                {creditTypeOptions(catalog.data, d.credit_type_id).map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.label}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Amount (credits)">
              <input inputMode="decimal" value={d.amount} onChange={set("amount")} data-testid="grant-amount" />
            </Field>
          </div>
          <div className="row2">
            <Field label="Category">
              <select value={d.category} onChange={set("category")}>
                <option value="promotional">promotional</option>
                <option value="paid">paid</option>
              </select>
            </Field>
            <Field label="Source">
              <select value={d.source} onChange={set("source")}>
                {SOURCES.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </Field>
          </div>
          <div className="row2">
            <Field label="Expires (UTC, optional)">
              <input type="datetime-local" value={d.expires} onChange={set("expires")} data-testid="grant-expires" />
            </Field>
            <Field label="Reason code">
              <ReasonSelect
                value={d.reason_code}
                onChange={(v) => setD({ ...d, reason_code: v })}
                testId="grant-reason"
              />
            </Field>
          </div>
          <div className="row2 top">
            <Field label="Priority (1-100, lower burns first)">
              <input
                inputMode="numeric"
                value={d.priority}
                onChange={set("priority")}
                placeholder="50"
                data-testid="grant-priority"
              />
            </Field>
            <ProductsField
              products={productsOf(productCatalog.data, d.credit_type_id)}
              chosen={d.products}
              onChange={(products) => setD({ ...d, products })}
            />
          </div>
          <Field label="Ticket">
            <input value={d.ticket_ref} onChange={set("ticket_ref")} placeholder="SUP-1234" data-testid="grant-ticket" />
          </Field>
          <Field label="Note">
            <input value={d.note} onChange={set("note")} data-testid="grant-note" />
          </Field>
          <div className="preview" aria-live="polite" data-testid="grant-preview">
            {!preview && !previewError && <span className="sub">Enter an amount to see what happens.</span>}
            {preview && (
              <>
                <strong className={preview.executes_now ? "ok" : "warn"}>{previewText(preview)}</strong>
                <div className="sub">
                  Available {groupDecimal(preview.available_before)} → {groupDecimal(preview.available_after)}
                  {preview.remaining_monthly_budget &&
                    ` · your budget left this month: ${money(preview.remaining_monthly_budget)}`}
                </div>
              </>
            )}
            {previewError && (
              <span className="warn">
                {previewError.message}
                {previewError.field && ` (field: ${previewError.field})`}
              </span>
            )}
          </div>
          {error && <ErrorBox error={error} />}
          <FormButtons
            busy={busy}
            label={preview && !preview.executes_now ? "Request approval" : "Grant"}
            busyLabel="Submitting..."
            onCancel={onClose}
            testId="grant-submit"
          />
        </DialogForm>
      )}
    </Dialog>
  );
}

/** The products a grant may burn for: none ticked means every product of its credit type. */
function ProductsField({
  products,
  chosen,
  onChange,
}: {
  products: S["Product"][];
  chosen: string[];
  onChange: (chosen: string[]) => void;
}) {
  const toggle = (id: string) => onChange(chosen.includes(id) ? chosen.filter((p) => p !== id) : [...chosen, id]);
  return (
    <fieldset className="products" data-testid="grant-products">
      <legend className="sub">Products ({chosen.length === 0 ? "all" : `${chosen.length} of ${products.length}`})</legend>
      {products.map((p) => (
        <label key={p.id} className="check">
          <input type="checkbox" checked={chosen.includes(p.id)} onChange={() => toggle(p.id)} value={p.id} />
          {p.name}
        </label>
      ))}
    </fieldset>
  );
}

function GrantResult({ r, onClose }: { r: S["GrantSubmitted"]; onClose: () => void }) {
  return (
    <DialogDone onClose={onClose} testId="grant-result">
      {r.created && (
        <p className="notice" data-testid="grant-granted">
          Granted (201): {groupDecimal(r.created.grant.grant.amount)} credits as grant{" "}
          <span className="mono">{r.created.grant.grant.id}</span>.
        </p>
      )}
      {r.pending && <PendingNotice p={r.pending} testId="grant-pending" />}
    </DialogDone>
  );
}

/** A money-moving action over the caller's limits: the request filed, what it is worth, who may approve. */
export function PendingNotice({ p, testId }: { p: S["ApprovalPending"]; testId: string }) {
  return (
    <p className="notice pending" data-testid={testId}>
      Approval pending (202): request <span className="mono" data-testid="approval-id">{p.approval_id}</span> worth{" "}
      {money(p.value)} waits for {roleList(p.approver_roles)}.
    </p>
  );
}
