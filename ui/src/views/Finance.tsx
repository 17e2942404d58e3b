import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { api, onReportProgress, type AppError, type S } from "../api";
import { ChartTable } from "../components/ChartPanel";
import { DataAgeBar, Money, Empty, ErrorBox, useCommand } from "../components/common";
import { day, groupDecimal } from "../lib/format";
import type { Theme } from "../lib/theme";

const SPEC_HEIGHT = 260;

/** A panel's padding and border on each side (`.panel` in styles.css): its charts are this much narrower than the view. */
const PANEL_INSET = 13;

/** How long a resized view waits for its width to settle before the charts are drawn again. */
const RESIZE_SETTLE_MS = 200;

/**
 * Finance: expiring liability (7/30/90 days), breakage by month, reconciliation, CSV export.
 * The view is measured first, so its charts are drawn once, at the width of their panels.
 */
export function Finance({ theme }: { theme: Theme }) {
  const view = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  useLayoutEffect(() => {
    const el = view.current;
    if (!el) return;
    const measure = () => Math.max(320, Math.floor(el.clientWidth) - 2 * PANEL_INSET);
    setWidth(measure());
    let t: ReturnType<typeof setTimeout> | undefined;
    const ro =
      typeof ResizeObserver !== "undefined"
        ? new ResizeObserver(() => {
            clearTimeout(t);
            t = setTimeout(() => setWidth(measure()), RESIZE_SETTLE_MS);
          })
        : undefined;
    ro?.observe(el);
    return () => (ro?.disconnect(), clearTimeout(t));
  }, []);
  return (
    <div className="view" data-testid="view-finance" ref={view}>
      {width > 0 && <FinanceReports theme={theme} width={width} />}
    </div>
  );
}

function FinanceReports({ theme, width }: { theme: Theme; width: number }) {
  const [days, setDays] = useState(30);
  const spec = { width, height: SPEC_HEIGHT, theme };
  const { data, error, busy, reload } = useCommand(() => api.finance(days, spec), [days, theme, width]);
  // The reports are gathered step by step in Rust: say which, and offer to stop.
  const [progress, setProgress] = useState<S["ReportProgress"]>();
  useEffect(() => {
    let unlisten: (() => void) | undefined;
    onReportProgress(setProgress).then((u) => (unlisten = u), () => undefined);
    return () => unlisten?.();
  }, []);
  const [exported, setExported] = useState<string>();
  const [exportError, setExportError] = useState<AppError>();
  const [exporting, setExporting] = useState(false);
  // A new run starts without the last one's final step on screen.
  const working = busy || exporting;
  useEffect(() => {
    if (working) setProgress(undefined);
  }, [working]);
  const exportCsv = (kind: string) => {
    setExporting(true);
    api.exportCsv(kind, days, spec).then(
      (d) => (setExported(`${d.rows} rows written to ${d.path}`), setExportError(undefined), setExporting(false)),
      (e: AppError) => (setExportError(e), setExporting(false)),
    );
  };

  return (
    <>
      <div className="toolbar">
        <h2>Finance</h2>
        <div className="range" role="group" aria-label="Expiring within">
          {[7, 30, 90].map((d) => (
            <button key={d} type="button" aria-pressed={days === d} onClick={() => setDays(d)}>
              next {d} days
            </button>
          ))}
        </div>
        <DataAgeBar age={data?.age} onRefresh={reload} busy={busy} />
      </div>
      {error && <ErrorBox error={error} onRetry={reload} />}
      {working && (
        <div className="notice" role="status" data-testid="report-progress">
          {exporting ? "Exporting" : "Gathering the finance reports"}
          {progress ? `: ${progress.label} (step ${progress.step} of ${progress.of})` : ""}...{" "}
          <button type="button" onClick={() => void api.cancelReports()} data-testid="cancel-reports">
            Cancel
          </button>
        </div>
      )}
      {exported && (
        <div className="notice" role="status" data-testid="export-done">
          {exported}
        </div>
      )}
      {exportError && <ErrorBox error={exportError} />}
      {data && (
        <>
          <section className="panel">
            <header>
              <h3>Expiring in the next {data.days} days: <Money m={data.expirations.total_value} /></h3>
              <button type="button" onClick={() => exportCsv("expirations")} data-testid="export-expirations">
                Export CSV
              </button>
            </header>
            <div className="chart" dangerouslySetInnerHTML={{ __html: data.expiring_chart.svg }} />
            <details>
              <summary>Exact values</summary>
              <ChartTable chart={data.expiring_chart} />
            </details>
            <ByCustomer report={data.by_customer} />
          </section>
          <section className="panel">
            <header>
              <h3>
                Breakage by month: expired <Money m={data.breakage.total_expired_value} />, voided{" "}
                <Money m={data.breakage.total_voided_value} />
              </h3>
              <button type="button" onClick={() => exportCsv("breakage")}>
                Export CSV
              </button>
            </header>
            <div className="chart" dangerouslySetInnerHTML={{ __html: data.breakage_chart.svg }} />
            <details>
              <summary>Exact values</summary>
              <ChartTable chart={data.breakage_chart} />
            </details>
          </section>
          <Reconciliation report={data.reconciliation} onExport={() => exportCsv("reconciliation")} />
        </>
      )}
    </>
  );
}

function ByCustomer({ report }: { report: S["ExpirationReport"] }) {
  if (report.rows.length === 0) return <Empty>Nothing expires in this window.</Empty>;
  return (
    <table className="data" data-testid="expiring-by-customer">
      <thead>
        <tr>
          <th>Customer</th>
          <th>Credit type</th>
          <th className="num">Grants</th>
          <th className="num">Credits</th>
          <th className="num">Value</th>
          <th className="num">Rolls over</th>
        </tr>
      </thead>
      <tbody>
        {report.rows.map((r, i) => (
          <tr key={i}>
            <td>{r.customer_id}</td>
            <td>{r.credit_type_id}</td>
            <td className="num">{r.grants}</td>
            <td className="num">{groupDecimal(r.credits)}</td>
            <td className="num"><Money m={r.value} /></td>
            <td className="num">{groupDecimal(r.rolls_over)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Reconciliation({ report, onExport }: { report: S["ReconciliationReport"]; onExport: () => void }) {
  return (
    <section className="panel">
      <header>
        <h3>
          Reconciliation, last 30 days by week:{" "}
          <span className={report.balanced ? "ok" : "warn"}>{report.balanced ? "balanced" : "differences found"}</span>
        </h3>
        <button type="button" onClick={onExport}>
          Export CSV
        </button>
      </header>
      <table className="data">
        <thead>
          <tr>
            <th>Week of</th>
            <th>Credit type</th>
            <th className="num">Events</th>
            <th className="num">Rated</th>
            <th className="num">Burned</th>
            <th className="num">Overage</th>
            <th className="num">Difference</th>
          </tr>
        </thead>
        <tbody>
          {report.rows.map((r, i) => (
            <tr key={i}>
              <td>{day(r.period)}</td>
              <td>{r.credit_type_id}</td>
              <td className="num">{r.events}</td>
              <td className="num">{groupDecimal(r.rated)}</td>
              <td className="num">{groupDecimal(r.burned)}</td>
              <td className="num">{groupDecimal(r.overage)}</td>
              <td className="num">{groupDecimal(r.difference)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
