// The app benchmark's driver (scripts/bench-app). Off unless the app was
// started with CREDITDESK_TIMING_LOG: then it opens a customer (or finds it
// reopened), switches through others and redraws the 365-day burn chart,
// reporting each moment the result is on screen as a timing mark the
// benchmark reads back.
import { api } from "./api";

let started = false;

/** Resolves after the next frame has been painted. */
function painted(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve())));
}

/** Resolves once `ready()` holds, checked on every DOM change, then after the next paint. */
export function whenOnScreen(ready: () => boolean, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      observer.disconnect();
      clearTimeout(timer);
      void painted().then(resolve);
    };
    const observer = new MutationObserver(() => ready() && done());
    const timer = setTimeout(() => {
      observer.disconnect();
      reject(new Error("benchmark: the view never rendered"));
    }, timeoutMs);
    observer.observe(document.body, { subtree: true, childList: true, attributes: true });
    if (ready()) done();
  });
}

/** The customer view for `id`, once its balance cards are in the DOM. */
function customerHead(id: string): Element | undefined {
  const view = [...document.querySelectorAll("[data-testid=view-customer]")].find(
    (v) => v.getAttribute("data-customer") === id,
  );
  return view?.querySelector("[data-testid=available]") ? view : undefined;
}

/** How long the burn chart on screen took its draw command, in ms ("?" before any). */
function burnChartCommandMs(): string {
  return document.querySelector("[data-testid=burn-chart]")?.getAttribute("data-draw-ms") ?? "?";
}

/** The customer view shows `id`'s balance cards and a burn chart drawn for `id` (and `range`, if given). */
export function customerOnScreen(id: string, range?: number): boolean {
  const view = customerHead(id);
  const drawn = view?.querySelector("[data-testid=burn-chart]")?.getAttribute("data-drawn-for")?.split(" ");
  return (
    !!view &&
    !!view.querySelector("[data-testid=burn-chart] svg") &&
    drawn?.[0] === id &&
    (range === undefined || drawn[2] === String(range))
  );
}

function rangeButton(days: number): HTMLButtonElement | undefined {
  return [...document.querySelectorAll<HTMLButtonElement>("[data-testid=view-customer] .range button")].find(
    (b) => b.textContent === `${days} days`,
  );
}

/**
 * Opens customer `id` and waits until its cards and burn chart are painted.
 * Returns "total head command" in ms: to the painted view, to the balance
 * cards in the DOM (the customer command's share), and the burn chart
 * command's own round trip.
 */
async function openAndTime(open: (customer: string) => void, id: string): Promise<string> {
  const t0 = performance.now();
  let head = 0;
  const headIn = new MutationObserver(() => {
    if (!head && customerHead(id)) head = performance.now() - t0;
  });
  headIn.observe(document.body, { subtree: true, childList: true, attributes: true });
  open(id);
  try {
    await whenOnScreen(() => customerOnScreen(id));
  } finally {
    headIn.disconnect();
  }
  return `${(performance.now() - t0).toFixed(2)} ${head.toFixed(2)} ${burnChartCommandMs()}`;
}

export async function runBenchmark(open: (customer: string) => void): Promise<void> {
  if (started) return;
  started = true;
  const config = await api.timingConfig();
  const first = config.open_customer;
  if (!config.enabled || !first) return;
  const mark = (name: string, detail: string) => api.timingMark(name, detail);
  try {
    // Cold start phases: the page's navigation start (unix ms), then when the
    // UI's script began and when it had its session (ms after navigation).
    const at = (name: string) => (performance.getEntriesByName(name)[0]?.startTime ?? 0).toFixed(2);
    await mark("page", `${performance.timeOrigin.toFixed(3)} ${at("ui_start")} ${at("session")}`);
    // Cold start: the benchmark times this mark against the process start.
    // After the warm-up run the app reopens `first` by itself (the last view,
    // left open at the end of every run); `open` is then a no-op.
    const cold = await openAndTime(open, first);
    // When the reopened view was first painted (ms after navigation): its
    // burn chart's paint mark, taken in the page, so this benchmark's own
    // calls (the config, the marks) do not delay the figure.
    await mark("customer_rendered", `${first} ${cold} ${at("painted:burn-chart")}`);
    // Every mark the page took until then (ms after navigation): the first
    // call and answer of each command (api.ts), where the UI's time went.
    const marks = performance.getEntriesByType("mark").map((m) => `${m.name}=${m.startTime.toFixed(1)}`);
    await mark("cold_marks", marks.join(" "));
    for (const id of config.switch_through) {
      await mark("switch", `${id} ${await openAndTime(open, id)}`);
    }

    // The 365-day burn chart: fetch from the API, draw in Rust, show; as a click on "365 days" does.
    const last = config.switch_through.at(-1) ?? first;
    for (let i = 0; i < 20; i++) {
      for (const days of [30, 365]) {
        const t0 = performance.now();
        rangeButton(days)?.click();
        await whenOnScreen(() => customerOnScreen(last, days));
        if (days === 365) await mark("chart365", `${last} ${(performance.now() - t0).toFixed(2)} ${burnChartCommandMs()}`);
      }
    }
    // The view the next launch reopens.
    open(first);
    await whenOnScreen(() => customerOnScreen(first));
    await mark("done", "");
  } catch (e) {
    await mark("failed", String(e));
  }
}
