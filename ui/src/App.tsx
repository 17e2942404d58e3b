import { useEffect, useRef, useState } from "react";
import { api, onSeedProgress, type AppError, type S } from "./api";
import { runBenchmark } from "./bench";
import { ErrorBox } from "./components/common";
import { start, type FirstStart } from "./lib/launch";
import { lastRoute, saveRoute, type Route } from "./lib/route";
import { useTheme } from "./lib/theme";
import { Approvals } from "./views/Approvals";
import { Audit } from "./views/Audit";
import { Customer } from "./views/Customer";
import { Customers } from "./views/Customers";
import { Disputes } from "./views/Disputes";
import { Finance } from "./views/Finance";
import { Settings } from "./views/Settings";

export function App({ first = null }: { first?: FirstStart }) {
  const [session, setSession] = useState<S["Session"] | null>(first && "session" in first ? first.session : null);
  const [startError, setStartError] = useState<AppError | undefined>(first && "error" in first ? first.error : undefined);
  const [progress, setProgress] = useState<S["SeedProgressEvent"]>();
  // The view this user had open last on this server, reopened.
  const [route, setRoute] = useState<Route>(
    () => (first && "session" in first && lastRoute(localStorage, first.session)) || { name: "customers" },
  );
  // The reopened customer's data, fetched before the first render: given to
  // its view once, and dropped as soon as another view opens.
  const [reopened, setReopened] = useState(first && "session" in first ? first.reopened : undefined);
  useEffect(() => {
    if (route.name !== "customer" || route.id !== reopened?.id) setReopened(undefined);
  }, [route, reopened]);
  const [themePref, setThemePref, theme] = useTheme();
  const search = useRef<HTMLInputElement>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let unlisten: (() => void) | undefined;
    onSeedProgress(setProgress).then((u) => (unlisten = u), () => undefined);
    return () => unlisten?.();
  }, []);

  useEffect(() => {
    if (attempt === 0 && first) return; // settled before the first render
    start().then(
      // "session": when the UI had it (the app benchmark's cold-start breakdown).
      (s) => {
        performance.mark("session");
        setSession(s);
        setStartError(undefined);
        // Reopen the view this user had open last on this server (in the same render as the session).
        const last = lastRoute(localStorage, s);
        if (last) setRoute(last);
      },
      (e: AppError) => setStartError(e),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `first` is the launch's, read once
  }, [attempt]);

  useEffect(() => {
    if (session) saveRoute(localStorage, session, route);
  }, [session, route]);

  // The app benchmark (scripts/bench-app) drives the views once signed in; off otherwise.
  useEffect(() => {
    if (session) void runBenchmark((id) => setRoute({ name: "customer", id }));
  }, [session]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        setRoute({ name: "customers" });
        setTimeout(() => search.current?.focus(), 0);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const nav = (r: Route, label: string, key: string) => (
    <button
      type="button"
      className={route.name === r.name ? "active" : undefined}
      onClick={() => setRoute(r)}
      data-testid={`nav-${key}`}
    >
      {label}
    </button>
  );

  return (
    <div className="app">
      <nav className="sidebar" aria-label="Views">
        <div className="brand">Creditdesk</div>
        {nav({ name: "customers" }, "Customers", "customers")}
        {nav({ name: "approvals" }, "Approvals", "approvals")}
        {nav({ name: "disputes", id: null }, "Disputes", "disputes")}
        {nav({ name: "finance" }, "Finance", "finance")}
        {nav({ name: "audit" }, "Audit log", "audit")}
        {nav({ name: "settings" }, "Settings", "settings")}
        {session && (
          <div className="who" data-testid="who">
            {session.user.name}
            <br />
            <span className="sub">
              {session.user.role} · server {session.server_version}
            </span>
          </div>
        )}
      </nav>
      <main>
        {session?.banner && (
          <div className="banner" role="note" data-testid="banner">
            {session.banner}
          </div>
        )}
        {!session && route.name !== "settings" && (
          <Starting
            progress={progress}
            error={startError}
            onRetry={() => setAttempt((a) => a + 1)}
            onSettings={() => setRoute({ name: "settings" })}
          />
        )}
        {session && route.name === "customers" && (
          <Customers onOpen={(id) => setRoute({ name: "customer", id })} searchRef={search} />
        )}
        {session && route.name === "customer" && (
          // Keyed: another customer starts from a clean view (its own first credit type, range, panels).
          <Customer
            key={route.id}
            id={route.id}
            reopened={reopened?.id === route.id ? reopened : undefined}
            theme={theme}
            me={session.user}
            onBack={() => setRoute({ name: "customers" })}
            onOpenDispute={(id) => setRoute({ name: "disputes", id })}
            onOpenApprovals={() => setRoute({ name: "approvals", customer: route.id })}
          />
        )}
        {session && route.name === "approvals" && (
          <Approvals key={`${session.user.user_id}/${route.customer ?? ""}`} session={session} customer={route.customer} />
        )}
        {session && route.name === "disputes" && (
          <Disputes
            key={session.user.user_id}
            session={session}
            openId={route.id}
            onOpen={(id) => setRoute({ name: "disputes", id })}
          />
        )}
        {session && route.name === "audit" && <Audit key={session.user.user_id} me={session.user} />}
        {session && route.name === "finance" && <Finance theme={theme} />}
        {route.name === "settings" && (
          <Settings session={session} onSession={setSession} themePref={themePref} onTheme={setThemePref} />
        )}
      </main>
    </div>
  );
}

function Starting({
  progress,
  error,
  onRetry,
  onSettings,
}: {
  progress?: S["SeedProgressEvent"];
  error?: AppError;
  onRetry: () => void;
  onSettings: () => void;
}) {
  if (error) {
    return (
      <div className="view starting">
        <h2>{error.code === "cancelled" ? "Demo data not loaded" : "Could not connect"}</h2>
        <ErrorBox error={error} onRetry={onRetry} />
        <button type="button" onClick={onSettings}>
          Connect to a server
        </button>
      </div>
    );
  }
  return (
    <div className="view starting" data-testid="starting">
      <h2>{progress ? "Preparing the demo data (first launch only)" : "Connecting..."}</h2>
      {progress && (
        <>
          <progress max={100} value={progress.percent} aria-label="Demo data progress" />
          <p>
            {progress.percent}% · {progress.phase}
            {progress.phase === "usage" && ` · day ${progress.day} of ${progress.days}, ${progress.events.toLocaleString()} events`}
          </p>
          <button type="button" onClick={() => void api.cancelSeed()}>
            Cancel
          </button>
        </>
      )}
    </div>
  );
}
