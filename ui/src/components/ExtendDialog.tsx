import { useState } from "react";
import { api, type AppError, type S } from "../api";
import { day, groupDecimal, isZero, localInputToUtc, money, utcToLocalInput } from "../lib/format";
import { may, roleName } from "../lib/policy";
import { ErrorBox } from "./common";
import { Dialog, DialogDone, DialogForm, Field, FormButtons, ReasonSelect } from "./Dialog";
import { PendingNotice } from "./GrantDialog";

/** Why the caller cannot extend the grant's expiry, or null when it can ask to. */
export function extendRefusal(me: S["MeResponse"], g: S["GrantBalance"]): string | null {
  if (!may(me, "grant")) return `Your role (${roleName(me.role)}) cannot change grants.`;
  if (g.status !== "active") return `A ${g.status} grant cannot be extended.`;
  if (!g.grant.expires_at) return "This grant never expires.";
  if (isZero(g.remaining)) return "Nothing is left to extend.";
  return null;
}

/**
 * "Extend expiry..." on a live grant. The ledger is append-only, so the
 * server voids the remainder and books it again as a new grant with the
 * later expiry; over the caller's limits it files an approval request.
 */
export function ExtendDialog({ g, onClose, onDone }: { g: S["GrantBalance"]; onClose: () => void; onDone: () => void }) {
  const expires = g.grant.expires_at ?? new Date().toISOString();
  const [until, setUntil] = useState(utcToLocalInput(expires, 30));
  const [reason, setReason] = useState("goodwill");
  const [ticket, setTicket] = useState("");
  const [note, setNote] = useState("");
  const [done, setDone] = useState<S["ExtendSubmitted"]>();
  const [error, setError] = useState<AppError>();
  const [busy, setBusy] = useState(false);
  const submit = () => {
    setBusy(true);
    const form = { expires_at: localInputToUtc(until), reason_code: reason, ticket_ref: ticket, note };
    api.extendGrant(g.grant.id, form).then(
      (r) => (setDone(r), setError(undefined), setBusy(false), onDone()),
      (e: AppError) => (setError(e), setBusy(false)),
    );
  };
  return (
    <Dialog title={`Extend grant ${g.grant.id}`} onClose={onClose} testId="extend-dialog">
      {done ? (
        <DialogDone onClose={onClose} testId="extend-result">
          {done.extended && (
            <p className="notice" data-testid="extend-done">
              Extended (201): {groupDecimal(done.extended.credits)} credits ({money(done.extended.value)}) now expire on{" "}
              {day(done.extended.expires_at)}, as grant <span className="mono">{done.extended.new_grant_id}</span>.
            </p>
          )}
          {done.pending && <PendingNotice p={done.pending} testId="extend-pending" />}
        </DialogDone>
      ) : (
        <DialogForm onSubmit={submit}>
          <p>
            Moves the remaining {groupDecimal(g.remaining)} credits ({money(g.remaining_value)}), expiring on{" "}
            {day(expires)}, to a new grant with the later expiry. Over your limits it waits for approval.
          </p>
          <Field label="New expiry (UTC)">
            <input
              type="datetime-local"
              value={until}
              onChange={(e) => setUntil(e.target.value)}
              required
              data-testid="extend-expires"
            />
          </Field>
          <Field label="Reason code">
            <ReasonSelect value={reason} onChange={setReason} />
          </Field>
          <Field label="Ticket">
            <input value={ticket} onChange={(e) => setTicket(e.target.value)} required data-testid="extend-ticket" />
          </Field>
          <Field label="Note">
            <input value={note} onChange={(e) => setNote(e.target.value)} required data-testid="extend-note" />
          </Field>
          {error && <ErrorBox error={error} />}
          <FormButtons busy={busy} label="Extend expiry" busyLabel="Extending..." onCancel={onClose} testId="extend-submit" />
        </DialogForm>
      )}
    </Dialog>
  );
}
