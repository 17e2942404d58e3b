import { useEffect, useRef, type ReactNode } from "react";

/**
 * A modal dialog: focus moves into it on open, Esc closes it, and focus
 * returns to whatever opened it (the element focused before it opened).
 */
export function Dialog({
  title,
  onClose,
  children,
  testId,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  testId?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const closeRef = useRef(onClose);
  useEffect(() => {
    closeRef.current = onClose;
  });
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const first = box.current?.querySelector<HTMLElement>("input, select, textarea, button:not([data-close])");
    (first ?? box.current)?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        closeRef.current();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => {
      window.removeEventListener("keydown", onKey, true);
      opener?.focus();
    };
  }, []);
  return (
    <div className="backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dialog" role="dialog" aria-modal="true" aria-label={title} ref={box} tabIndex={-1} data-testid={testId}>
        <header>
          <h3>{title}</h3>
          <button type="button" onClick={onClose} aria-label="Close" data-close>
            ×
          </button>
        </header>
        {children}
      </div>
    </div>
  );
}

/** A labelled form field. */
export function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <label>
      <span className="sub">{label}</span>
      {children}
    </label>
  );
}

/** Reason codes offered for grants, voids and resolutions. */
export const REASONS = ["goodwill", "service_outage", "purchase", "migration", "billing_error", "promotion"];

export function ReasonSelect({
  value,
  onChange,
  testId,
}: {
  value: string;
  onChange: (v: string) => void;
  testId?: string;
}) {
  return (
    <select value={value} onChange={(e) => onChange(e.target.value)} data-testid={testId}>
      {REASONS.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
    </select>
  );
}

/** A dialog form's submit and Cancel buttons. */
export function FormButtons({
  busy,
  label,
  busyLabel,
  onCancel,
  testId,
  kind = "primary",
}: {
  busy: boolean;
  label: string;
  busyLabel: string;
  onCancel: () => void;
  testId?: string;
  kind?: "primary" | "danger";
}) {
  return (
    <div className="buttons">
      <button type="submit" className={kind} disabled={busy} data-testid={testId}>
        {busy ? busyLabel : label}
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

/** A dialog's form: Enter or the submit button calls `onSubmit` (the page never reloads). */
export function DialogForm({ onSubmit, children }: { onSubmit: () => void; children: ReactNode }) {
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      {children}
    </form>
  );
}

/** A dialog once its action is done: the outcome, and Close holding the focus (so Esc and Enter both close). */
export function DialogDone({ onClose, testId, children }: { onClose: () => void; testId?: string; children: ReactNode }) {
  return (
    <div className="form" data-testid={testId}>
      {children}
      <div className="buttons">
        <button type="button" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
    </div>
  );
}
