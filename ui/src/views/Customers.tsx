import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { api, type S } from "../api";
import { DataAgeBar, Empty, ErrorBox, Loading, useCommand } from "../components/common";
import { day, groupDecimal } from "../lib/format";

/** Customers: search by name, id or external reference; a row per customer, a line per wallet. */
export function Customers({
  onOpen,
  searchRef,
}: {
  onOpen: (id: string) => void;
  searchRef: React.RefObject<HTMLInputElement | null>;
}) {
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  useEffect(() => {
    const t = setTimeout(() => setQuery(q), 200);
    return () => clearTimeout(t);
  }, [q]);
  const { data, error, busy, reload } = useCommand(() => api.customers(query || null, null), [query]);
  const rows = useRef<HTMLTableSectionElement>(null);

  const onKey = (e: KeyboardEvent<HTMLTableRowElement>, id: string) => {
    const row = e.currentTarget;
    if (e.key === "Enter") onOpen(id);
    if (e.key === "ArrowDown") (row.nextElementSibling as HTMLElement | null)?.focus();
    if (e.key === "ArrowUp") (row.previousElementSibling as HTMLElement | null)?.focus();
  };

  return (
    <div className="view" data-testid="view-customers">
      <div className="toolbar">
        <h2>Customers</h2>
        <input
          ref={searchRef}
          type="search"
          placeholder="Search name, id or external ref (Ctrl+K)"
          aria-label="Search customers"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "ArrowDown") (rows.current?.firstElementChild as HTMLElement | null)?.focus();
            if (e.key === "Enter" && data?.items.length === 1 && data.items[0]) onOpen(data.items[0].id);
          }}
          data-testid="customer-search"
        />
        <DataAgeBar age={data?.age} onRefresh={reload} busy={busy} />
      </div>
      {error && <ErrorBox error={error} onRetry={reload} />}
      {!data && !error && <Loading what="customers" />}
      {data && data.items.length === 0 && <Empty>No customer matches "{query}".</Empty>}
      {data && data.items.length > 0 && (
        <table className="data customers">
          <thead>
            <tr>
              <th>Customer</th>
              <th>Credit type</th>
              <th className="num">Available</th>
              <th className="num">30-day burn</th>
              <th className="num">Runway</th>
              <th>Next expiry</th>
              <th className="num">Disputes</th>
            </tr>
          </thead>
          <tbody ref={rows}>
            {data.items.map((c) => (
              <CustomerRow key={c.id} c={c} onOpen={onOpen} onKey={onKey} />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function CustomerRow({
  c,
  onOpen,
  onKey,
}: {
  c: S["CustomerSummary"];
  onOpen: (id: string) => void;
  onKey: (e: KeyboardEvent<HTMLTableRowElement>, id: string) => void;
}) {
  const wallets = c.wallets.length > 0 ? c.wallets : [undefined];
  return (
    <tr tabIndex={0} className="clickable" onClick={() => onOpen(c.id)} onKeyDown={(e) => onKey(e, c.id)} data-customer={c.id}>
      <td>
        <div className="name">{c.name}</div>
        <div className="sub">
          {c.id}
          {c.external_ref ? ` · ${c.external_ref}` : ""}
        </div>
      </td>
      <td>{wallets.map((w, i) => <div key={i}>{w ? w.credit_type_id : "no wallets"}</div>)}</td>
      <td className="num">
        {wallets.map((w, i) => (
          <div key={i}>{w ? `${groupDecimal(w.available)} ${w.unit_label}` : ""}</div>
        ))}
      </td>
      <td className="num">{wallets.map((w, i) => <div key={i}>{w ? groupDecimal(w.burn_30d) : ""}</div>)}</td>
      <td className="num">
        {wallets.map((w, i) => (
          <div key={i} className={w?.runway_days != null && w.runway_days < 14 ? "warn" : undefined}>
            {w ? (w.runway_days != null ? `${w.runway_days} d` : "beyond horizon") : ""}
          </div>
        ))}
      </td>
      <td>
        {wallets.map((w, i) => (
          <div key={i}>{w?.next_expiry ? `${groupDecimal(w.next_expiry.amount)} on ${day(w.next_expiry.expires_at)}` : "—"}</div>
        ))}
      </td>
      <td className="num" data-testid="open-disputes">
        {c.open_disputes}
      </td>
    </tr>
  );
}
