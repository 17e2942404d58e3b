import type { S } from "../api";

/**
 * What the caller may do, as the server says (`GET /v1/me`'s `policy`, from
 * the server's own table in `crates/server/src/http/policy.rs`). The app
 * offers an action only where this allows it and keeps no copy of the
 * table; the server still checks every call.
 */
export type Action = keyof S["Policy"];

export function may(me: S["MeResponse"], action: Action): boolean {
  return me.policy[action].includes(me.role);
}

/** "support agent" from `support_agent`. */
export function roleName(role: S["Role"]): string {
  return role.replace(/_/g, " ");
}

/** "support lead, finance or admin" from roles. */
export function roleList(roles: S["Role"][]): string {
  const names = roles.map(roleName);
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}
