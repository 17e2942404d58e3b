import { useEffect, useState } from "react";
import { api, type AppError, type S } from "../api";
import { ErrorBox } from "../components/common";
import type { ThemePref } from "../lib/theme";
import { RoleLimits } from "./RoleLimits";

/** Settings -> Connection: a remote server (URL + token), or the embedded demo. Role limits, and the theme. */
export function Settings({
  session,
  onSession,
  themePref,
  onTheme,
}: {
  session: S["Session"] | null;
  onSession: (s: S["Session"]) => void;
  themePref: ThemePref;
  onTheme: (t: ThemePref) => void;
}) {
  const [url, setUrl] = useState("");
  const [token, setToken] = useState("");
  const [saved, setSaved] = useState<S["ConnectionSettings"]>();
  const [test, setTest] = useState<S["ConnectionTest"]>();
  const [error, setError] = useState<AppError>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.connectionSettings().then(
      (s) => (setSaved(s), setUrl(s.server_url ?? "")),
      (e: AppError) => setError(e),
    );
  }, [session]);

  const run = <T,>(p: Promise<T>, then: (v: T) => void) => {
    setBusy(true);
    setError(undefined);
    p.then(
      (v) => (then(v), setBusy(false)),
      (e: AppError) => (setError(e), setTest(undefined), setBusy(false)),
    );
  };

  return (
    <div className="view" data-testid="view-settings">
      <h2>Settings</h2>
      <section className="panel">
        <header>
          <h3>Connection</h3>
        </header>
        <p>
          Now: {session ? `${session.mode === "embedded" ? "embedded demo server" : "remote server"} ${session.server_url}, signed in as ${session.user.name} (${session.user.role})` : "not connected"}
          {saved?.mode === "remote" && saved.has_token ? " · token stored (readable only by you)" : ""}
        </p>
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            run(api.saveConnection(url, token), (s) => (onSession(s), setToken("")));
          }}
        >
          <label>
            Server URL
            <input
              type="url"
              required
              placeholder="https://billing.example.com"
              value={url}
              onChange={(e) => setUrl(e.target.value)}
              data-testid="server-url"
            />
          </label>
          <label>
            Token
            <input
              type="password"
              required
              autoComplete="off"
              placeholder="cdk_..."
              value={token}
              onChange={(e) => setToken(e.target.value)}
              data-testid="server-token"
            />
          </label>
          <div className="buttons">
            <button type="button" disabled={busy} onClick={() => run(api.testConnection(url, token), setTest)} data-testid="test-connection">
              Test connection
            </button>
            <button type="submit" disabled={busy}>
              Save and connect
            </button>
            <button type="button" disabled={busy} onClick={() => run(api.useEmbedded(), onSession)}>
              Use the embedded demo instead
            </button>
          </div>
        </form>
        {test && (
          <div className="notice" role="status" data-testid="connection-ok">
            Connected: server version {test.server_version}, signed in as {test.user_name} ({test.role}).
          </div>
        )}
        {error && <ErrorBox error={error} />}
      </section>
      {session && <RoleLimits me={session.user} />}
      <section className="panel">
        <header>
          <h3>Theme</h3>
        </header>
        <div className="range" role="group" aria-label="Theme">
          {(["system", "light", "dark"] as const).map((t) => (
            <button key={t} type="button" aria-pressed={themePref === t} onClick={() => onTheme(t)}>
              {t}
            </button>
          ))}
        </div>
      </section>
    </div>
  );
}
