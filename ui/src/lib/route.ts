// Which view is open, and the view a signed-in user had open last: the app
// reopens it on the next launch (per server and user), so a support agent
// who closed the app on a customer comes back to that customer.

export type Route =
  | { name: "customers" }
  | { name: "customer"; id: string }
  | { name: "approvals"; customer?: string }
  | { name: "disputes"; id: string | null }
  | { name: "finance" }
  | { name: "audit" }
  | { name: "settings" };

type Store = Pick<Storage, "getItem" | "setItem">;

type Who = { mode: "embedded" | "remote"; server_url: string; user: { user_id: string } };

// The embedded server listens on a new port at every launch: it is one server all the same.
function key(who: Who): string {
  return `last-view ${who.mode === "embedded" ? "embedded" : who.server_url} ${who.user.user_id}`;
}

const isId = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 200;

// The last route saved by anyone: read at launch, before the session says
// who is signed in, to ask for what is about to be reopened (a hint only).
const LAUNCH_HINT = "last-view";

/** The route saved for this server and user, if it is one the app still has (Settings is never reopened). */
export function lastRoute(store: Store, who: Who): Route | null {
  return parseRoute(store.getItem(key(who)));
}

/** The last route saved, whoever saved it: what the next launch will probably reopen. */
export function launchHint(store: Store): Route | null {
  return parseRoute(store.getItem(LAUNCH_HINT));
}

function parseRoute(text: string | null): Route | null {
  let r: unknown;
  try {
    r = JSON.parse(text ?? "null");
  } catch {
    return null;
  }
  if (typeof r !== "object" || r === null) return null;
  const o = r as Record<string, unknown>;
  switch (o.name) {
    case "customers":
    case "finance":
    case "audit":
      return { name: o.name };
    case "customer":
      return isId(o.id) ? { name: "customer", id: o.id } : null;
    case "approvals":
      return isId(o.customer) ? { name: "approvals", customer: o.customer } : { name: "approvals" };
    case "disputes":
      return { name: "disputes", id: isId(o.id) ? o.id : null };
    default:
      return null;
  }
}

export function saveRoute(store: Store, who: Who, route: Route): void {
  try {
    store.setItem(key(who), JSON.stringify(route));
    store.setItem(LAUNCH_HINT, JSON.stringify(route));
  } catch {
    // A full or disabled storage only loses the reopen-on-launch nicety.
  }
}
