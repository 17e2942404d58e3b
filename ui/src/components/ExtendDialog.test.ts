import { describe, expect, it } from "vitest";
import type { S } from "../api";
import { extendRefusal } from "./ExtendDialog";

const live = {
  grant: { id: "g1", expires_at: "2026-12-29T00:00:00Z" },
  remaining: "120.5",
  status: "active",
} as S["GrantBalance"];

describe("extendRefusal", () => {
  it("offers an extension of a live, expiring grant with credits left to anyone who may grant", () => {
    expect(extendRefusal("support_agent", live)).toBeNull();
    expect(extendRefusal("viewer", live)).toMatch(/Viewers/);
    expect(extendRefusal("admin", { ...live, status: "expired" })).toMatch(/expired grant/);
    expect(extendRefusal("admin", { ...live, grant: { ...live.grant, expires_at: null } })).toMatch(/never expires/);
    expect(extendRefusal("admin", { ...live, remaining: "0.000" })).toMatch(/Nothing is left/);
  });
});
