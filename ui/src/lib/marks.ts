// Performance marks for the app benchmark's cold-start breakdown
// (scripts/bench-app reads every mark the page took): each name is marked
// once, the first time, so a long session does not pile them up.
const marked = new Set<string>();

export function markOnce(name: string): void {
  if (marked.has(name)) return;
  marked.add(name);
  performance.mark(name);
}

/** Marks `name` once, when the frame now being drawn has been painted. */
export function markPaintedOnce(name: string): void {
  if (marked.has(name)) return;
  marked.add(name);
  // The second frame callback runs once the first frame has been painted.
  requestAnimationFrame(() => requestAnimationFrame(() => performance.mark(name)));
}
