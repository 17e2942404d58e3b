import { describe, expect, it } from "vitest";
import type { S } from "../api";
import { effectText } from "./Approvals";
import { slaText } from "./Disputes";

const base = {
  id: "d1",
  customer_id: "c1",
  credit_type_id: "api",
  events: ["e1"],
  ticket_ref: "T",
  description: "x",
  status: "open",
  opened_by: "u",
  opened_at: "2026-03-01T00:00:00Z",
  sla_due_at: "2026-03-04T00:00:00Z",
  overdue: false,
  updated_at: "2026-03-01T00:00:00Z",
} as S["Dispute"];

describe("slaText", () => {
  it("counts down to the SLA, then says how overdue", () => {
    expect(slaText(base, new Date("2026-03-03T19:00:00Z"))).toBe("due in 5 h");
    expect(slaText({ ...base, overdue: true }, new Date("2026-03-06T00:00:00Z"))).toBe("overdue by 2 d");
    expect(slaText({ ...base, status: "resolved", overdue: false }, new Date("2026-03-09T00:00:00Z"))).toBe("closed");
  });
});

describe("effectText", () => {
  it("describes what approving executes, re-punctuating the exact credits", () => {
    const a = { action: "grant", credits: "1000000", credit_type_id: "api", customer_id: "c1" } as S["Approval"];
    expect(effectText(a)).toBe("Grants 1,000,000 api credits to c1.");
    expect(effectText({ ...a, action: "reverse_usage", dispute_id: "d1" })).toBe(
      "Reverses disputed usage worth 1,000,000 api credits for c1 (dispute d1).",
    );
  });
});
