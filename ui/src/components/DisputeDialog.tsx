import { useState } from "react";
import { api, type AppError } from "../api";
import { ErrorBox } from "./common";
import { Dialog, DialogForm, Field, FormButtons } from "./Dialog";

/** Opens a dispute on the usage events of the selected ledger rows. */
export function DisputeDialog({
  customer,
  events,
  onClose,
  onOpened,
}: {
  customer: string;
  events: string[];
  onClose: () => void;
  onOpened: (id: string) => void;
}) {
  const unique = events.filter((e, i) => events.indexOf(e) === i);
  const [ticket, setTicket] = useState("");
  const [description, setDescription] = useState("");
  const [claimed, setClaimed] = useState("");
  const [sla, setSla] = useState("72");
  const [error, setError] = useState<AppError>();
  const [busy, setBusy] = useState(false);
  const submit = () => {
    const hours = Number.parseInt(sla, 10);
    setBusy(true);
    api
      .openDispute({
        customer_id: customer,
        events: unique,
        ticket_ref: ticket,
        description,
        claimed_amount: claimed || null,
        sla_hours: Number.isFinite(hours) ? hours : null,
      })
      .then(
        (d) => (setBusy(false), onOpened(d.id)),
        (e: AppError) => (setError(e), setBusy(false)),
      );
  };
  return (
    <Dialog title={`Dispute ${unique.length} usage event${unique.length === 1 ? "" : "s"}`} onClose={onClose} testId="dispute-dialog">
      <DialogForm onSubmit={submit}>
        <div className="sub">
          Events: <span className="mono">{unique.join(", ")}</span>
        </div>
        <Field label="Ticket">
          <input value={ticket} onChange={(e) => setTicket(e.target.value)} placeholder="SUP-1234" data-testid="dispute-ticket" />
        </Field>
        <Field label="What the customer contests">
          <textarea
            rows={3}
            value={description}
            onChange={(e) => setDescription(e.target.value)}
            data-testid="dispute-description"
          />
        </Field>
        <div className="row2">
          <Field label="Credits claimed back (optional)">
            <input inputMode="decimal" value={claimed} onChange={(e) => setClaimed(e.target.value)} />
          </Field>
          <Field label="SLA (hours)">
            <input inputMode="numeric" value={sla} onChange={(e) => setSla(e.target.value)} />
          </Field>
        </div>
        {error && <ErrorBox error={error} />}
        <FormButtons busy={busy} label="Open dispute" busyLabel="Opening..." onCancel={onClose} testId="dispute-submit" />
      </DialogForm>
    </Dialog>
  );
}
