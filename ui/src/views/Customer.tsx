import { useEffect, useLayoutEffect, useState } from "react";
import { api, type AppError, type S } from "../api";
import { ChartPanel } from "../components/ChartPanel";
import {
  DataAgeBar,
  Money,
  Empty,
  ErrorBox,
  Loading,
  LoadMore,
  OpenRow,
  useAfterFirstPaint,
  useCommand,
  usePaged,
} from "../components/common";
import { DisputeDialog } from "../components/DisputeDialog";
import { GrantDialog } from "../components/GrantDialog";
import { ExtendDialog, extendRefusal } from "../components/ExtendDialog";
import { VoidDialog, voidRefusal } from "../components/VoidDialog";
import { day, groupDecimal, instant, isZero, localInputToUtc, signed } from "../lib/format";
import { BURN_CHART_HEIGHT, FIRST_BURN_RANGE, type Reopened } from "../lib/launch";
import { markOnce } from "../lib/marks";
import { may, roleName } from "../lib/policy";
import type { Theme } from "../lib/theme";

/** One customer: balances, grants, burn and balance charts, ledger, balance at, explain. */
export function Customer({
  id,
  reopened,
  theme,
  me,
  onBack,
  onOpenDispute,
  onOpenApprovals,
}: {
  id: string;
  /** This customer's head and burn chart, fetched at launch (lib/launch). */
  reopened?: Reopened;
  theme: Theme;
  me: S["MeResponse"];
  onBack: () => void;
  onOpenDispute: (id: string) => void;
  onOpenApprovals: () => void;
}) {
  const { data, error, busy, reload } = useCommand(() => api.customer(id), [id], reopened?.view);
  const [granting, setGranting] = useState(false);
  const [creditType, setCreditType] = useState<string | null>(null);
  const [range, setRange] = useState(FIRST_BURN_RANGE);
  const [panel, setPanel] = useState<"none" | "at" | "explain">("none");
  const balances = data?.balances.balances ?? [];
  const ct = creditType ?? balances[0]?.credit_type_id ?? null;
  const wallet = balances.find((b) => b.credit_type_id === ct);
  // The cards and the burn chart first; the balance chart, grants and ledger once they are painted.
  const below = useAfterFirstPaint(data !== undefined);
  if (data) markOnce("render:customer");
  useLayoutEffect(() => {
    if (data) markOnce("commit:customer");
  }, [data]);

  return (
    <div className="view" data-testid="view-customer" data-customer={data?.customer.id}>
      <div className="toolbar">
        <button type="button" onClick={onBack} aria-label="Back to customers">
          ← Customers
        </button>
        <h2 data-testid="customer-name">{data?.customer.name ?? id}</h2>
        <span className="sub">
          {id}
          {data?.customer.external_ref ? ` · ${data.customer.external_ref}` : ""}
        </span>
        <button type="button" onClick={() => setPanel(panel === "at" ? "none" : "at")} aria-pressed={panel === "at"}>
          Balance at...
        </button>
        <button
          type="button"
          onClick={() => setPanel(panel === "explain" ? "none" : "explain")}
          aria-pressed={panel === "explain"}
        >
          Explain balance
        </button>
        <button
          type="button"
          className="primary"
          onClick={() => setGranting(true)}
          disabled={!data || !may(me, "grant")}
          title={may(me, "grant") ? undefined : `Your role (${roleName(me.role)}) cannot grant credits`}
          data-testid="open-grant"
        >
          Grant credits...
        </button>
        <button type="button" onClick={onOpenApprovals} data-testid="customer-approvals">
          Approvals
        </button>
        <DataAgeBar age={data?.age} onRefresh={reload} busy={busy} />
      </div>
      {granting && (
        <GrantDialog
          customer={id}
          initialCreditType={ct ?? null}
          onClose={() => setGranting(false)}
          onDone={reload}
        />
      )}
      {error && <ErrorBox error={error} onRetry={reload} />}
      {!data && !error && <Loading what="the customer" />}
      {data && (
        <>
          {balances.length === 0 && <Empty>This customer has no grants or usage yet.</Empty>}
          <div className="cards">
            {balances.map((b) => (
              <BalanceCard
                key={b.credit_type_id}
                b={b}
                expiring={data.expiring_30d.find((e) => e.credit_type_id === b.credit_type_id)}
                selected={b.credit_type_id === ct}
                onSelect={() => setCreditType(b.credit_type_id)}
              />
            ))}
          </div>
          {panel === "at" && <BalanceAt customer={id} />}
          {panel === "explain" && <Explain customer={id} />}
          {ct && (
            <>
              <div className="range" role="group" aria-label="Burn range">
                {[30, 90, 365].map((d) => (
                  <button key={d} type="button" aria-pressed={range === d} onClick={() => setRange(d)}>
                    {d} days
                  </button>
                ))}
              </div>
              <div className="charts">
                <ChartPanel
                  title={`Daily burn by product: ${ct}, last ${range} days`}
                  testId="burn-chart"
                  theme={theme}
                  height={BURN_CHART_HEIGHT}
                  // Drawn at launch for the first credit type and range; the panel
                  // uses it if it measures the width it was drawn at.
                  early={ct === reopened?.view.balances.balances[0]?.credit_type_id ? reopened?.burn : undefined}
                  deps={[id, ct, range, data.age.as_of]}
                  draw={(spec) => api.burnChart(id, ct, range, spec)}
                />
                {below && (
                  <ChartPanel
                    title={`Balance history and runway: ${ct}`}
                    testId="balance-chart"
                    theme={theme}
                    deps={[id, ct, data.age.as_of]}
                    draw={(spec) => api.balanceChart(id, ct, spec)}
                  />
                )}
              </div>
              {below && wallet && <Grants customer={id} grants={wallet.grants} me={me} onChanged={reload} />}
              {below && (
                <Ledger customer={id} creditType={ct} me={me} tick={data.age.as_of} onOpenDispute={onOpenDispute} />
              )}
              {below && <Rejected customer={id} tick={data.age.as_of} />}
            </>
          )}
        </>
      )}
    </div>
  );
}

function BalanceCard({
  b,
  expiring,
  selected,
  onSelect,
}: {
  b: S["Balance"];
  expiring?: S["CreditTypeAmount"];
  selected: boolean;
  onSelect: () => void;
}) {
  return (
    <button
      type="button"
      className={`card${selected ? " selected" : ""}`}
      onClick={onSelect}
      aria-pressed={selected}
      data-testid={`balance-${b.credit_type_id}`}
    >
      <div className="card-title">{b.credit_type_id}</div>
      <div className="big" data-testid="available">
        {groupDecimal(b.available)} <span className="unit">{b.unit_label}</span>
      </div>
      <dl>
        <dt>Value</dt>
        <dd><Money m={b.available_value} /></dd>
        <dt>Pending</dt>
        <dd>{groupDecimal(b.pending)}</dd>
        <dt>Overage</dt>
        <dd className={isZero(b.overage) ? undefined : "warn"}>{groupDecimal(b.overage)}</dd>
        <dt>Expiring in 30 days</dt>
        <dd>{expiring ? groupDecimal(expiring.credits) : "0"}</dd>
      </dl>
    </button>
  );
}

function Grants({
  customer,
  grants,
  me,
  onChanged,
}: {
  customer: string;
  grants: S["GrantBalance"][];
  me: S["MeResponse"];
  onChanged: () => void;
}) {
  const [voiding, setVoiding] = useState<S["GrantBalance"] | null>(null);
  const [extending, setExtending] = useState<S["GrantBalance"] | null>(null);
  if (grants.length === 0) return <Empty>No grants in this credit type.</Empty>;
  return (
    <section className="panel">
      <header>
        <h3>Grants (burn order)</h3>
      </header>
      <table className="data" data-testid="grants">
        <thead>
          <tr>
            <th>Grant</th>
            <th>Status</th>
            <th>Category / source</th>
            <th className="num">Remaining</th>
            <th className="num">Of</th>
            <th className="num">Priority</th>
            <th>Products</th>
            <th>Contract</th>
            <th>Expires</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {grants.map((g) => {
            const refusal = voidRefusal(me, g.status);
            const noExtend = extendRefusal(me, g);
            return (
            <tr key={g.grant.id} data-grant={g.grant.id}>
              <td className="mono wrap">{g.grant.id}</td>
              <td>{g.status}</td>
              <td>
                {g.grant.category} / {g.grant.source}
              </td>
              <td className="num">{groupDecimal(g.remaining)}</td>
              <td className="num">{groupDecimal(g.grant.amount)}</td>
              <td className="num">{g.grant.priority}</td>
              <td>{g.grant.products?.join(", ") ?? "all"}</td>
              <td>{g.grant.contract_id ?? "—"}</td>
              <td className="when">{g.grant.expires_at ? day(g.grant.expires_at) : "never"}</td>
              <td>
                <div className="buttons nowrap">
                  <button
                    type="button"
                    onClick={() => setExtending(g)}
                    disabled={noExtend !== null}
                    title={noExtend ?? "Move this grant's remainder to a later expiry"}
                    aria-label={`Extend ${g.grant.id}`}
                    data-testid="extend-grant"
                  >
                    Extend...
                  </button>
                  <button
                    type="button"
                    onClick={() => setVoiding(g)}
                    disabled={refusal !== null}
                    title={refusal ?? "Forfeit this grant's remainder now"}
                    aria-label={`Void ${g.grant.id}`}
                  >
                    Void...
                  </button>
                </div>
              </td>
            </tr>
            );
          })}
        </tbody>
      </table>
      {voiding && <VoidDialog customer={customer} g={voiding} onClose={() => setVoiding(null)} onDone={onChanged} />}
      {extending && <ExtendDialog g={extending} onClose={() => setExtending(null)} onDone={onChanged} />}
    </section>
  );
}

const KINDS: S["EntryKind"][] = [
  "grant",
  "burn",
  "overage",
  "overage_settled",
  "expire",
  "expiry_correction",
  "rollover_out",
  "void",
  "reversal",
];

function Ledger({
  customer,
  creditType,
  me,
  tick: outer,
  onOpenDispute,
}: {
  customer: string;
  creditType: string;
  me: S["MeResponse"];
  tick: string;
  onOpenDispute: (id: string) => void;
}) {
  const [kind, setKind] = useState<S["EntryKind"] | "">("");
  // The product filter applies on Enter or leaving the field (not per keystroke).
  const [productDraft, setProductDraft] = useState("");
  const [product, setProduct] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [picked, setPicked] = useState<number[]>([]);
  const [disputing, setDisputing] = useState(false);
  const [open, setOpen] = useState<number | null>(null);
  const filter = {
    credit_type: creditType,
    kind: kind || null,
    product: product || null,
    from: from || null,
    to: to || null,
  };
  const paged = usePaged(
    (after) => api.ledger(customer, filter, after),
    [customer, creditType, kind, product, from, to, outer],
  );
  const { items: rows, cursor, age, error, busy } = paged;
  // A new filter or a refresh closes the explanation and clears the picks.
  const restart = () => {
    setOpen(null);
    setPicked([]);
  };
  useEffect(restart, [customer, creditType, kind, product, from, to, outer]);
  const productsSeen = [...new Set(rows.map((r) => r.entry.product_id).filter((p): p is string => !!p))];
  const events = rows
    .filter((r) => picked.includes(r.entry.seq) && r.entry.event_id)
    .map((r) => r.entry.event_id as string);
  const toggle = (seq: number) => setPicked((p) => (p.includes(seq) ? p.filter((x) => x !== seq) : [...p, seq]));

  return (
    <section className="panel" data-testid="ledger">
      <header>
        <h3>Ledger</h3>
        <select aria-label="Entry kind" value={kind} onChange={(e) => setKind(e.target.value as S["EntryKind"] | "")}>
          <option value="">all kinds</option>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <input
          type="search"
          className="narrow"
          aria-label="Product"
          placeholder="product"
          list="ledger-products"
          value={productDraft}
          onChange={(e) => setProductDraft(e.target.value)}
          onBlur={() => setProduct(productDraft.trim())}
          onKeyDown={(e) => e.key === "Enter" && setProduct(productDraft.trim())}
          data-testid="ledger-product"
        />
        <datalist id="ledger-products">
          {productsSeen.map((p) => (
            <option key={p} value={p} />
          ))}
        </datalist>
        <label className="sub">
          from{" "}
          <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} data-testid="ledger-from" />
        </label>
        <label className="sub">
          to <input type="date" value={to} onChange={(e) => setTo(e.target.value)} data-testid="ledger-to" />
        </label>
        <button
          type="button"
          onClick={() => setDisputing(true)}
          disabled={picked.length < 1 || !may(me, "dispute")}
          title={picked.length < 1 ? "Tick the usage rows the customer contests" : undefined}
          data-testid="open-dispute"
        >
          Dispute{picked.length > 0 ? ` ${picked.length} rows` : ""}...
        </button>
        <DataAgeBar
          age={age}
          onRefresh={() => {
            restart();
            paged.reload();
          }}
          busy={busy}
        />
      </header>
      {disputing && (
        <DisputeDialog
          customer={customer}
          events={events}
          onClose={() => setDisputing(false)}
          onOpened={(id) => {
            setDisputing(false);
            onOpenDispute(id);
          }}
        />
      )}
      {error && <ErrorBox error={error} />}
      {!error && rows.length === 0 && !busy && (
        <Empty>{kind || product || from || to ? "No ledger entries match these filters." : "No ledger entries."}</Empty>
      )}
      {rows.length > 0 && (
        <table className="data">
          <thead>
            <tr>
              <th className="num">#</th>
              <th>Booked</th>
              <th>Kind</th>
              <th className="num">Amount</th>
              <th>Product</th>
              <th>Grant</th>
              <th>Actor</th>
              <th>Dispute</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <LedgerLine
                key={r.entry.seq}
                r={r}
                open={open === r.entry.seq}
                onToggle={() => setOpen(open === r.entry.seq ? null : r.entry.seq)}
                picked={picked.includes(r.entry.seq)}
                onPick={() => toggle(r.entry.seq)}
              />
            ))}
          </tbody>
        </table>
      )}
      <LoadMore cursor={cursor} busy={busy} onMore={paged.more} />
    </section>
  );
}

function LedgerLine({
  r,
  open,
  onToggle,
  picked,
  onPick,
}: {
  r: S["LedgerRow"];
  open: boolean;
  onToggle: () => void;
  picked: boolean;
  onPick: () => void;
}) {
  const e = r.entry;
  const disputable = (e.kind === "burn" || e.kind === "overage") && !!e.event_id;
  return (
    <>
      <OpenRow
        onOpen={onToggle}
        aria-expanded={open}
        data-testid="ledger-row"
        data-kind={e.kind}
        data-event={e.event_id ?? undefined}
        data-product={e.product_id ?? undefined}
        data-booked={e.booked_at.slice(0, 10)}
      >
        <td className="num">{e.seq}</td>
        <td>{instant(e.booked_at)}</td>
        <td>{e.kind}</td>
        <td className="num">{signed(e.amount)}</td>
        <td>{e.product_id ?? ""}</td>
        <td className="mono">{e.grant_id ?? ""}</td>
        <td>{e.actor}</td>
        <td onClick={(x) => x.stopPropagation()}>
          {disputable && (
            <input
              type="checkbox"
              checked={picked}
              onChange={onPick}
              aria-label={`Select entry ${e.seq} for a dispute`}
              data-testid="ledger-pick"
            />
          )}
        </td>
      </OpenRow>
      {open && (
        <tr className="explain-row">
          <td colSpan={8} data-testid="ledger-explanation">
            {r.explanation}
            {e.event_id && <UsageEventLine id={e.event_id} />}
          </td>
        </tr>
      )}
    </>
  );
}

/** The usage event behind a ledger row, as rated: asked for when the row opens. */
function UsageEventLine({ id }: { id: string }) {
  const { data: u, error } = useCommand(() => api.usageEvent(id), [id]);
  if (error) return <div className="sub">The usage event could not be read: {error.message}</div>;
  if (!u) return <div className="sub">Reading the usage event...</div>;
  return (
    <div data-testid="ledger-usage">
      Usage: {groupDecimal(u.quantity)} of {u.product_id} at {groupDecimal(u.credits_per_unit)} credits per unit ={" "}
      {groupDecimal(u.credits)} credits, by {u.from_override ? "the customer's own" : "the product's"} rate card of{" "}
      {instant(u.rate_version)}. Happened {instant(u.timestamp)}, received {instant(u.received_at)}
      {u.reversed ? "; since reversed" : ""}.
    </div>
  );
}

/**
 * The customer's usage events the API refused, with the reason: where
 * support looks when usage seems missing. Asked for only when opened.
 */
function Rejected({ customer, tick }: { customer: string; tick: string }) {
  const [open, setOpen] = useState(false);
  const { items, cursor, error, busy, loaded, more } = usePaged(
    (after) => api.rejectedEvents(customer, after),
    [customer, tick],
    open,
  );
  return (
    <details className="panel" data-testid="rejected" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>
        <h3>Rejected usage events</h3>
      </summary>
      {open && error && <ErrorBox error={error} />}
      {open && !loaded && busy && <Loading what="rejected events" />}
      {open && loaded && !error && items.length === 0 && <Empty>No usage events of this customer were refused.</Empty>}
      {open && items.length > 0 && (
        <div className="table-scroll">
          <table className="data" data-testid="rejected-events">
            <thead>
              <tr>
                <th>Received</th>
                <th>Event</th>
                <th>Product</th>
                <th className="num">Quantity</th>
                <th>Happened</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr key={r.rejection_id} data-event={r.event.id}>
                  <td className="when">{instant(r.received_at)}</td>
                  <td className="mono wrap">{r.event.id}</td>
                  <td>{r.event.product_id}</td>
                  <td className="num">{groupDecimal(r.event.quantity)}</td>
                  <td className="when">{instant(r.event.timestamp)}</td>
                  <td>
                    <strong>{r.reason.code}</strong>: {r.reason.detail}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {open && <LoadMore cursor={cursor} busy={busy} onMore={more} />}
    </details>
  );
}

function BalanceAt({ customer }: { customer: string }) {
  const [value, setValue] = useState("");
  const [view, setView] = useState<S["BalanceAtView"]>();
  const [error, setError] = useState<AppError>();
  const submit = () => {
    const at = localInputToUtc(value);
    if (!at) {
      setError({ code: "invalid_input", message: "Enter a date and time.", field: "at", hint: "Use the picker (UTC)." });
      return;
    }
    api.balanceAt(customer, at).then(
      (v) => (setView(v), setError(undefined)),
      (e: AppError) => setError(e),
    );
  };
  return (
    <section className="panel" data-testid="balance-at">
      <header>
        <h3>Balance at an instant (UTC)</h3>
        <input
          type="datetime-local"
          aria-label="Instant (UTC)"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          data-testid="balance-at-input"
        />
        <button type="button" onClick={submit} data-testid="balance-at-go">
          Show
        </button>
      </header>
      {error && <ErrorBox error={error} />}
      {view && (
        <table className="data">
          <caption>At {instant(view.at)}</caption>
          <thead>
            <tr>
              <th>Credit type</th>
              <th className="num">Available, as known now</th>
              <th className="num">Available, as known then</th>
              <th className="num">Overage now / then</th>
            </tr>
          </thead>
          <tbody>
            {view.known_now.balances.map((b) => {
              const then = view.known_then.balances.find((t) => t.credit_type_id === b.credit_type_id);
              return (
                <tr key={b.credit_type_id} data-testid={`at-${b.credit_type_id}`}>
                  <td>{b.credit_type_id}</td>
                  <td className="num" data-testid="at-now">
                    {groupDecimal(b.available)}
                  </td>
                  <td className="num" data-testid="at-then">
                    {then ? groupDecimal(then.available) : "not known then"}
                  </td>
                  <td className="num">
                    {groupDecimal(b.overage)} / {then ? groupDecimal(then.overage) : "—"}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Explain({ customer }: { customer: string }) {
  const { data, error, reload } = useCommand(() => api.explain(customer), [customer]);
  return (
    <section className="panel" data-testid="explain">
      <header>
        <h3>Explain balance</h3>
      </header>
      {error && <ErrorBox error={error} onRetry={reload} />}
      {!data && !error && <Loading what="the explanation" />}
      <div className="waterfalls">
        {data?.wallets.map((w) => (
          <table key={w.credit_type_id} className="data waterfall">
            <caption>
              {w.credit_type_id} ({w.unit_label})
            </caption>
            <tbody>
              {w.steps.map((s) => (
                <tr key={s.label} className={s.total ? "total" : undefined}>
                  <td>{s.label}</td>
                  <td className="num">{s.total ? groupDecimal(s.amount) : signed(s.amount)}</td>
                </tr>
              ))}
              <tr>
                <td>Balance (available + pending)</td>
                <td className="num">{groupDecimal(w.reported)}</td>
              </tr>
              {!isZero(w.difference) && (
                <tr className="warn">
                  <td>Unexplained difference</td>
                  <td className="num">{signed(w.difference)}</td>
                </tr>
              )}
            </tbody>
          </table>
        ))}
      </div>
    </section>
  );
}
