import { useEffect, useLayoutEffect, useRef, useState } from "react";
import type { AppError, ChartSpec, S } from "../api";
import { saveChartWidth, type EarlyChart } from "../lib/launch";
import { markOnce, markPaintedOnce } from "../lib/marks";
import type { Theme } from "../lib/theme";
import { ErrorBox, Loading } from "./common";

/** The exact values behind a chart: the accessible alternative. */
export function ChartTable({ chart }: { chart: Pick<S["ChartView"], "caption" | "columns" | "rows"> }) {
  return (
    <table className="data chart-table">
      <caption>{chart.caption}</caption>
      <thead>
        <tr>
          {chart.columns.map((c, i) => (
            <th key={i} className={c.numeric ? "num" : undefined}>
              {c.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {chart.rows.map((row, r) => (
          <tr key={r}>
            {row.map((cell, i) => (
              <td key={i} className={chart.columns[i]?.numeric ? "num" : undefined}>
                {cell}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * A chart drawn by the Rust side at the container's width, in the UI's
 * theme, with a toggle to its table of exact values.
 */
export function ChartPanel({
  title,
  draw,
  theme,
  height = 260,
  deps,
  testId,
  early,
}: {
  title: string;
  draw: (spec: ChartSpec) => Promise<S["ChartView"]>;
  theme: Theme;
  height?: number;
  deps: unknown[];
  testId: string;
  /** The chart for the first `deps`, drawn before the panel mounted (at launch). */
  early?: EarlyChart;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  const [chart, setChart] = useState<S["ChartView"] | undefined>(early?.chart);
  // What the chart on screen was drawn for (its deps, space-separated): lets
  // a caller, such as the benchmark, tell a fresh chart from the last one.
  const [drawnFor, setDrawnFor] = useState<string | undefined>(early && deps.map(String).join(" "));
  // How long the Rust side took to answer that draw (fetch, draw, IPC), in ms.
  const [drawMs, setDrawMs] = useState<string | undefined>(early?.ms.toFixed(2));
  // The early chart stands for the first draw if drawn at the size and theme the panel has.
  const earlyChart = useRef(early);
  const drawnWidth = useRef(0);
  const [error, setError] = useState<AppError | undefined>();
  const [showTable, setShowTable] = useState(false);
  const drawRef = useRef(draw);
  useEffect(() => {
    drawRef.current = draw;
  });

  // Measured before the first paint, so the first draw is asked for in the
  // same frame the panel mounts (not one render later).
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    markOnce(`measure:${testId}`);
    const measure = () => {
      const w = Math.max(320, Math.floor(el.clientWidth));
      markOnce(`measured:${testId}`); // after the page's first full layout, at launch
      setWidth(w);
      saveChartWidth(testId, w);
    };
    measure();
    const ro = typeof ResizeObserver !== "undefined" ? new ResizeObserver(measure) : undefined;
    ro?.observe(el);
    return () => ro?.disconnect();
  }, [testId]);

  useLayoutEffect(() => {
    if (!chart) return;
    markOnce(`commit:${testId}`);
    markPaintedOnce(`painted:${testId}`);
  }, [chart, testId]);

  useEffect(() => {
    if (width === 0) return;
    const e = earlyChart.current;
    earlyChart.current = undefined;
    if (e && e.spec.width === width && e.spec.height === height && e.spec.theme === theme) {
      drawnWidth.current = width;
      return;
    }
    let live = true;
    const key = deps.map(String).join(" ");
    const draw = () => {
      drawnWidth.current = width;
      const t0 = performance.now();
      drawRef.current({ width, height, theme }).then(
        (c) => live && (setChart(c), setDrawnFor(key), setDrawMs((performance.now() - t0).toFixed(2)), setError(undefined)),
        (e: AppError) => live && setError(e),
      );
    };
    // A resize waits for the width to settle before asking Rust to draw.
    // New data (or the first draw) is asked for now, before this frame is
    // painted: the request runs while the rest of the view paints.
    const resized = drawnWidth.current !== 0 && drawnWidth.current !== width;
    const t = resized ? setTimeout(draw, 60) : undefined;
    if (!resized) draw();
    return () => {
      live = false;
      clearTimeout(t);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [width, height, theme, ...deps]);

  return (
    <section className="panel" data-testid={testId} data-drawn-for={drawnFor} data-draw-ms={drawMs}>
      <header>
        <h3>{title}</h3>
        <button type="button" onClick={() => setShowTable((s) => !s)} aria-pressed={showTable}>
          {showTable ? "Show chart" : "Show table"}
        </button>
      </header>
      <div ref={box} className="chart-box" style={{ minHeight: height }}>
        {error && <ErrorBox error={error} />}
        {!error && !chart && <Loading what="chart" />}
        {chart && !showTable && (
          // The SVG is drawn by our own Rust code (text escaped there); no remote content.
          <div className="chart" dangerouslySetInnerHTML={{ __html: chart.svg }} />
        )}
        {chart && showTable && <ChartTable chart={chart} />}
      </div>
    </section>
  );
}
