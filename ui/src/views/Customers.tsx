import { useEffect, useRef, useState } from "react";
import { api, type S } from "../api";
import { DataAgeBar, Empty, ErrorBox, LoadMore, Loading, OpenRow, usePaged } from "../components/common";
import { day, groupDecimal } from "../lib/format";

type Sort = S["CustomerSort"];
type Order = S["SortOrder"];
/** The list's order; `null` is the API's own (customer id ascending). */
export type SortState = { by: Sort; order: Order } | null;

/** A click on a column's header: sort by it ascending, or flip the order if it already sorts. */
export function nextSort(current: SortState, by: Sort): SortState {
  if (current?.by !== by) return { by, order: "asc" };
  return { by, order: current.order === "asc" ? "desc" : "asc" };
}

/** The filters the brief names, as the API's parameters. */
const RUNWAY_UNDER_DAYS = 14;
const EXPIRING_WITHIN_DAYS = 30;

/**
 * Customers: search by name, id or external reference; filter by runway
 * and by credits expiring soon; sort by name, runway, next expiry or open
 * disputes (the API sorts and pages); a row per customer, a line per wallet.
 */
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
  const [runwaySoon, setRunwaySoon] = useState(false);
  const [expiringSoon, setExpiringSoon] = useState(false);
  const [sort, setSort] = useState<SortState>(null);
  const filter: S["CustomerFilter"] = {
    q: query || null,
    runway_under_days: runwaySoon ? RUNWAY_UNDER_DAYS : null,
    expiring_within_days: expiringSoon ? EXPIRING_WITHIN_DAYS : null,
    sort: sort?.by ?? null,
    order: sort?.order ?? null,
  };
  const list = usePaged<S["CustomerSummary"]>((cursor) => api.customers(filter, cursor), [
    query,
    runwaySoon,
    expiringSoon,
    sort?.by,
    sort?.order,
  ]);
  const rows = useRef<HTMLTableSectionElement>(null);
  const filtered = query !== "" || runwaySoon || expiringSoon;
  const header = (label: string, by: Sort, num = false) => (
    <SortHeader label={label} by={by} sort={sort} num={num} onSort={(b) => setSort(nextSort(sort, b))} />
  );

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
            if (e.key === "Enter" && list.items.length === 1 && list.items[0]) onOpen(list.items[0].id);
          }}
          data-testid="customer-search"
        />
        <div className="range" role="group" aria-label="Filters">
          <button type="button" aria-pressed={runwaySoon} onClick={() => setRunwaySoon(!runwaySoon)} data-testid="filter-runway">
            Runway &lt; {RUNWAY_UNDER_DAYS} days
          </button>
          <button
            type="button"
            aria-pressed={expiringSoon}
            onClick={() => setExpiringSoon(!expiringSoon)}
            data-testid="filter-expiring"
          >
            Expiring in {EXPIRING_WITHIN_DAYS} days
          </button>
        </div>
        <DataAgeBar age={list.age} onRefresh={list.reload} busy={list.busy} />
      </div>
      {list.error && <ErrorBox error={list.error} onRetry={list.reload} />}
      {!list.loaded && <Loading what="customers" />}
      {list.loaded && !list.error && list.items.length === 0 && (
        <Empty>{filtered ? "No customer matches the search and filters." : "No customers yet."}</Empty>
      )}
      {list.items.length > 0 && (
        <div className="table-scroll">
          <table className="data customers" data-testid="customers-table">
            <thead>
              <tr>
                {header("Customer", "name")}
                <th>Credit type</th>
                <th className="num">Available</th>
                <th className="num">30-day burn</th>
                {header("Runway", "runway", true)}
                {header("Next expiry", "next_expiry")}
                {header("Disputes", "open_disputes", true)}
              </tr>
            </thead>
            <tbody ref={rows}>
              {list.items.map((c) => (
                <CustomerRow key={c.id} c={c} onOpen={onOpen} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <LoadMore cursor={list.cursor} busy={list.busy} onMore={list.more} />
    </div>
  );
}

/** A column header that sorts the list; `aria-sort` says how it is sorted now. */
function SortHeader({
  label,
  by,
  sort,
  num,
  onSort,
}: {
  label: string;
  by: Sort;
  sort: SortState;
  num: boolean;
  onSort: (by: Sort) => void;
}) {
  const active = sort?.by === by;
  const ascending = sort?.order === "asc";
  return (
    <th className={num ? "num" : undefined} aria-sort={active ? (ascending ? "ascending" : "descending") : "none"}>
      <button type="button" className="sort" onClick={() => onSort(by)} data-testid={`sort-${by}`}>
        {label}
        <span aria-hidden="true">{active ? (ascending ? " ▲" : " ▼") : ""}</span>
      </button>
    </th>
  );
}

function CustomerRow({ c, onOpen }: { c: S["CustomerSummary"]; onOpen: (id: string) => void }) {
  const wallets = c.wallets.length > 0 ? c.wallets : [undefined];
  return (
    <OpenRow onOpen={() => onOpen(c.id)} data-customer={c.id}>
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
      <td className="when">
        {wallets.map((w, i) => (
          <div key={i}>{w?.next_expiry ? `${groupDecimal(w.next_expiry.amount)} on ${day(w.next_expiry.expires_at)}` : "—"}</div>
        ))}
      </td>
      <td className="num" data-testid="open-disputes">
        {c.open_disputes}
      </td>
    </OpenRow>
  );
}
