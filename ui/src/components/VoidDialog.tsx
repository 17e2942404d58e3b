import { useState } from "react";
import { api, type AppError, type S } from "../api";
import { groupDecimal, money } from "../lib/format";
import { may, roleList, roleName } from "../lib/policy";
import { ErrorBox, useCommand } from "./common";
import { Dialog, DialogDone, DialogForm, Field, FormButtons, ReasonSelect } from "./Dialog";

/** Why the caller may not void, or null when it may. */
export function voidRefusal(me: S["MeResponse"], status: S["GrantStatus"]): string | null {
  if (!may(me, "void")) return `Only ${roleList(me.policy.void)} may void grants (you are ${roleName(me.role)}).`;
  if (status !== "active" && status !== "pending") return `A ${status} grant has nothing left to void.`;
  return null;
}

/** Voids a grant's remainder now (finance, admin): reason required. */
export function VoidDialog({
  customer,
  g,
  onClose,
  onDone,
}: {
  customer: string;
  g: S["GrantBalance"];
  onClose: () => void;
  onDone: () => void;
}) {
  // The balance after, computed in Rust from the balance now (no arithmetic here).
  const preview = useCommand(() => api.previewVoid(customer, g.grant.id), []);
  const [reason, setReason] = useState("billing_error");
  const [ticket, setTicket] = useState("");
  const [note, setNote] = useState("");
  const [done, setDone] = useState<S["GrantVoided"]>();
  const [error, setError] = useState<AppError>();
  const [busy, setBusy] = useState(false);
  const submit = () => {
    setBusy(true);
    api.voidGrant(g.grant.id, reason, ticket, note).then(
      (v) => (setDone(v), setError(undefined), setBusy(false), onDone()),
      (e: AppError) => (setError(e), setBusy(false)),
    );
  };
  return (
    <Dialog title={`Void grant ${g.grant.id}`} onClose={onClose} testId="void-dialog">
      {done ? (
        <DialogDone onClose={onClose}>
          <p className="notice" data-testid="void-done">
            Voided: {groupDecimal(done.voided)} credits ({money(done.voided_value)}) forfeited.
          </p>
        </DialogDone>
      ) : (
        <DialogForm onSubmit={submit}>
          <p>
            Forfeits the remaining {groupDecimal(g.remaining)} credits ({money(g.remaining_value)}) now. Earlier burns
            stand.
          </p>
          <div className="preview" data-testid="void-preview">
            {preview.data && (
              <div>
                Executes now (voids need no approval). {preview.data.credit_type_id} available:{" "}
                {groupDecimal(preview.data.available_before)} → <b>{groupDecimal(preview.data.available_after)}</b>{" "}
                {preview.data.unit_label} ({money(preview.data.available_after_value)}).
              </div>
            )}
            {preview.error && <ErrorBox error={preview.error} />}
            {!preview.data && !preview.error && <span className="sub">Previewing...</span>}
          </div>
          <Field label="Reason code">
            <ReasonSelect value={reason} onChange={setReason} />
          </Field>
          <Field label="Ticket">
            <input value={ticket} onChange={(e) => setTicket(e.target.value)} placeholder="SUP-1234" data-testid="void-ticket" />
          </Field>
          <Field label="Note">
            <input value={note} onChange={(e) => setNote(e.target.value)} />
          </Field>
          {error && <ErrorBox error={error} />}
          <FormButtons busy={busy} label="Void remainder" busyLabel="Voiding..." onCancel={onClose} kind="danger" />
        </DialogForm>
      )}
    </Dialog>
  );
}
