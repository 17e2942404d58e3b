import { useEffect, useRef, useState, type HTMLAttributes, type KeyboardEvent, type ReactNode } from "react";
import type { AppError, S } from "../api";
import { clock, money, moneyExact } from "../lib/format";

/** "as of 12:03:55" with a refresh button; says so when the data is stale. */
export function DataAgeBar({ age, onRefresh, busy }: { age?: S["DataAge"]; onRefresh: () => void; busy?: boolean }) {
  return (
    <div className="age" data-testid="data-age">
      {age ? <span>as of {clock(age.as_of)}</span> : <span>loading...</span>}
      {age?.stale && (
        <span className="stale" role="status" title={age.stale}>
          server unreachable: showing the last data fetched
        </span>
      )}
      <button type="button" onClick={onRefresh} disabled={busy} aria-label="Refresh">
        {busy ? "Refreshing..." : "Refresh"}
      </button>
    </div>
  );
}

export function ErrorBox({ error, onRetry }: { error: AppError; onRetry?: () => void }) {
  return (
    <div className="error" role="alert" data-testid="error">
      <strong>{error.message}</strong>
      {error.field && <span className="field"> (field: {error.field})</span>}
      <div className="hint">{error.hint}</div>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      Loading {what}...
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** State of one command call: data, error, loading, and a reload. */
export function useCommand<T>(run: () => Promise<T>, deps: unknown[], initial?: T) {
  const [data, setData] = useState<T | undefined>(initial);
  const [error, setError] = useState<AppError | undefined>(undefined);
  const [busy, setBusy] = useState(initial === undefined);
  const [tick, setTick] = useState(0);
  const runRef = useRef(run);
  // An answer the caller already had (fetched at launch) stands for the first run.
  const skipFirstRun = useRef(initial !== undefined);
  useEffect(() => {
    runRef.current = run;
  });
  useEffect(() => {
    if (skipFirstRun.current) {
      skipFirstRun.current = false;
      return;
    }
    let live = true;
    setBusy(true);
    runRef.current().then(
      (d) => {
        if (!live) return;
        setData(d);
        setError(undefined);
        setBusy(false);
      },
      (e: AppError) => {
        if (!live) return;
        setError(e);
        setBusy(false);
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { data, error, busy, reload: () => setTick((t) => t + 1) };
}

/**
 * False until two animation frames after `ready` first holds, then true:
 * a view renders what is above the fold first (WebKit's first layout of a
 * page is its slowest) and the rest once that has been painted.
 */
export function useAfterFirstPaint(ready: boolean): boolean {
  const [after, setAfter] = useState(false);
  useEffect(() => {
    if (!ready || after) return;
    let inner = 0;
    const outer = requestAnimationFrame(() => {
      inner = requestAnimationFrame(() => setAfter(true));
    });
    return () => {
      cancelAnimationFrame(outer);
      cancelAnimationFrame(inner);
    };
  }, [ready, after]);
  return after;
}

/** A cursor-paged list: the first page on every change of `deps`, "Load more" appends. */
export function usePaged<T>(
  run: (cursor: string | null) => Promise<{ items: T[]; next_cursor?: string | null; age: S["DataAge"] }>,
  deps: unknown[],
  enabled = true,
) {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [age, setAge] = useState<S["DataAge"]>();
  const [error, setError] = useState<AppError>();
  const [busy, setBusy] = useState(true);
  const [loaded, setLoaded] = useState(false);
  const [tick, setTick] = useState(0);
  const runRef = useRef(run);
  useEffect(() => {
    runRef.current = run;
  });
  // A first page starts a new generation; answers of an older one (a search
  // typed over, a filter toggled back) arrive late and are dropped.
  const generation = useRef(0);
  const load = (after: string | null) => {
    const mine = after ? generation.current : ++generation.current;
    setBusy(true);
    runRef.current(after).then(
      (p) => {
        if (mine !== generation.current) return;
        setItems((old) => (after ? [...old, ...p.items] : p.items));
        setCursor(p.next_cursor ?? null);
        setAge(p.age);
        setError(undefined);
        setBusy(false);
        setLoaded(true);
      },
      (e: AppError) => {
        if (mine !== generation.current) return;
        setError(e);
        setBusy(false);
        setLoaded(true);
      },
    );
  };
  useEffect(() => {
    if (enabled) load(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick, enabled]);
  return {
    items,
    cursor,
    age,
    error,
    busy,
    loaded,
    more: () => cursor && load(cursor),
    reload: () => setTick((t) => t + 1),
  };
}

/** Table rows: Enter opens, arrow keys move between rows. */
function rowKeys(e: KeyboardEvent<HTMLTableRowElement>, open: () => void) {
  if (e.key === "Enter") open();
  if (e.key === "ArrowDown") focusRow(e.currentTarget, "nextElementSibling");
  if (e.key === "ArrowUp") focusRow(e.currentTarget, "previousElementSibling");
}

/** Focuses the nearest focusable row that way, past the rows between that
 *  are not (an opened row's explanation). */
function focusRow(from: Element, way: "nextElementSibling" | "previousElementSibling") {
  let row = from[way];
  while (row instanceof HTMLElement && row.tabIndex < 0) row = row[way];
  if (row instanceof HTMLElement) row.focus();
}

type RowProps = Omit<HTMLAttributes<HTMLTableRowElement>, "className" | "tabIndex" | "onClick" | "onKeyDown">;

/** A table row that opens (or toggles) something: by click, or Enter once
 *  focused; the arrow keys move between rows. `selected` marks the one open. */
export function OpenRow({ onOpen, selected = false, children, ...rest }: RowProps & { onOpen: () => void; selected?: boolean }) {
  return (
    <tr {...rest} tabIndex={0} className={selected ? "clickable selected" : "clickable"} onClick={onOpen} onKeyDown={(e) => rowKeys(e, onOpen)}>
      {children}
    </tr>
  );
}

/** "Load more" under a paged list. */
export function LoadMore({ cursor, busy, onMore }: { cursor: string | null; busy: boolean; onMore: () => void }) {
  if (!cursor) return null;
  return (
    <button type="button" onClick={onMore} disabled={busy}>
      {busy ? "Loading..." : "Load more"}
    </button>
  );
}

/** Money in the currency's minor units; the exact amount the server sent on hover. */
export function Money({ m }: { m: { amount: string; currency: string } }) {
  const exact = moneyExact(m);
  const shown = money(m);
  return (
    <span className="money" title={shown === exact ? undefined : `exactly ${exact}`} data-exact={m.amount}>
      {shown}
    </span>
  );
}
