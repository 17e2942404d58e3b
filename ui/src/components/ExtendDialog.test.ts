import { describe, expect, it } from "vitest";
import type { S } from "../api";
import { caller } from "../lib/testing";
import { extendRefusal } from "./ExtendDialog";

const live = {
  grant: { id: "g1", expires_at: "2026-12-29T00:00:00Z" },
  remaining: "120.5",
  status: "active",
} as S["GrantBalance"];

describe("extendRefusal", () => {
  it("offers an extension of a live, expiring grant with credits left to anyone who may grant", () => {
    const granter = caller("viewer", { grant: ["viewer"] });
    expect(extendRefusal(granter, live)).toBeNull();
    expect(extendRefusal(caller("admin", { grant: ["viewer"] }), live)).toBe("Your role (admin) cannot change grants.");
    expect(extendRefusal(granter, { ...live, status: "expired" })).toMatch(/expired grant/);
    expect(extendRefusal(granter, { ...live, grant: { ...live.grant, expires_at: null } })).toMatch(/never expires/);
    expect(extendRefusal(granter, { ...live, remaining: "0.000" })).toMatch(/Nothing is left/);
  });
});
