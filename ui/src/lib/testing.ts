// Fixtures for the unit tests (no app code imports this).
import type { S } from "../api";

/**
 * A caller with `role` under `policy`. Tests give it a policy unlike the
 * server's default, so they fail if the app decides from a table of its own.
 */
export function caller(role: S["Role"], policy: Partial<S["Policy"]> = {}): S["MeResponse"] {
  const none: S["Policy"] = { grant: [], decide: [], dispute: [], void: [], audit: [], admin: [], ingest: [] };
  return {
    user_id: `u_${role}`,
    name: role,
    role,
    limits: {},
    budget_period_start: "2026-03-01T00:00:00Z",
    budget_period_end: "2026-04-01T00:00:00Z",
    currency: "USD",
    policy: { ...none, ...policy },
  };
}
