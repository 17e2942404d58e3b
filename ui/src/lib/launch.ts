// What the app asks for as its script loads, before React renders: the
// session (signing in), and, when the last view was a customer, that
// customer's head and burn chart. If they come within a short wait, the
// first render draws the reopened customer whole, in one frame, instead of
// "Connecting...", then the view's skeleton, then its data and charts, each
// a render and a paint later (`BENCHMARKS.md`, cold start).
import { api, type AppError, type ChartSpec, type S } from "../api";
import { launchHint } from "./route";
import { currentTheme } from "./theme";

// A chart's last measured width, per panel: what it will measure at the
// next launch if the window keeps its size.
const widthKey = (panel: string) => `chart-width ${panel}`;

export function saveChartWidth(panel: string, width: number): void {
  try {
    localStorage.setItem(widthKey(panel), String(width));
  } catch {
    // Only the drawing ahead at launch is lost.
  }
}

function savedChartWidth(panel: string): number | null {
  const w = Number(localStorage.getItem(widthKey(panel)));
  return Number.isInteger(w) && w > 0 ? w : null;
}

/** A chart drawn before its panel mounted, and what it was drawn at. */
export type EarlyChart = { spec: ChartSpec; chart: S["ChartView"]; ms: number };

/** The reopened customer's head, and its first credit type's 30-day burn chart. */
export type Reopened = { id: string; view: S["CustomerView"]; burn?: EarlyChart };

/** The burn chart's height and first range: the customer view's defaults. */
export const BURN_CHART_HEIGHT = 260;
export const FIRST_BURN_RANGE = 30;

async function reopenAhead(id: string): Promise<Reopened> {
  const view = await api.customer(id);
  const creditType = view.balances.balances[0]?.credit_type_id;
  const width = savedChartWidth("burn-chart");
  if (!creditType || !width) return { id, view };
  const spec = { width, height: BURN_CHART_HEIGHT, theme: currentTheme() };
  const t0 = performance.now();
  const chart = await api.burnChart(id, creditType, FIRST_BURN_RANGE, spec);
  return { id, view, burn: { spec, chart, ms: performance.now() - t0 } };
}

// Asked for as this module loads. The Rust side makes a view request wait
// for the sign-in under way, so both can go at once.
let launch: Promise<S["Session"]> | null = api.appStart();
launch.catch(() => undefined); // handled by whoever takes it
const hint = launchHint(localStorage);
const reopening: Promise<Reopened | undefined> =
  hint?.name === "customer" ? reopenAhead(hint.id).catch(() => undefined) : Promise.resolve(undefined);

// One start at a time (StrictMode runs effects twice in development).
let starting: Promise<S["Session"]> | null = null;

/** The session: the launch's sign-in the first time, a new one after. */
export function start(): Promise<S["Session"]> {
  starting ??= (launch ?? api.appStart()).finally(() => {
    starting = null;
  });
  launch = null;
  return starting;
}

/** How the launch ended, if it ended before the first render. */
export type FirstStart = { session: S["Session"]; reopened?: Reopened } | { error: AppError } | null;

/**
 * The launch's sign-in and reopened customer, if they come within `waitMs`
 * (null if not: the app renders "Connecting..." and takes the session from
 * `start()` when it comes).
 */
export function firstStart(waitMs: number): Promise<FirstStart> {
  const settled = (launch ?? start()).then(
    async (session): Promise<FirstStart> => ({ session, reopened: await reopening }),
    (error: AppError): FirstStart => ({ error }),
  );
  const waited = new Promise<FirstStart>((resolve) => setTimeout(() => resolve(null), waitMs));
  return Promise.race([settled, waited]).then((first) => {
    if (first) launch = null; // taken: a retry signs in anew
    return first;
  });
}
