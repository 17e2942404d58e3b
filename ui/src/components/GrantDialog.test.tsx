import { act, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { S } from "../api";
import { caller } from "../lib/testing";

const previewGrant = vi.fn();
const submitGrant = vi.fn();
const catalog = [
  { id: "api", name: "API credits", unit_label: "credits" },
  { id: "rt", name: "Real-time minutes", unit_label: "minutes" },
] as S["CreditType"][];
const products = [
  { id: "chat", name: "Chat", credit_type_id: "api" },
  { id: "images", name: "Images", credit_type_id: "api" },
  { id: "live", name: "Live captions", credit_type_id: "rt" },
] as S["Product"][];
vi.mock("../api", () => ({
  api: {
    previewGrant: (f: unknown) => previewGrant(f),
    submitGrant: (f: unknown) => submitGrant(f),
    creditTypes: () => Promise.resolve(catalog),
    products: () => Promise.resolve(products),
  },
}));

const { GrantDialog, PREVIEW_DELAY, creditTypeOptions, previewText } = await import("./GrantDialog");
const { Dialog } = await import("./Dialog");
const { voidRefusal } = await import("./VoidDialog");

const usd = (amount: string) => ({ amount, currency: "USD" });
const pending: S["GrantPreview"] = {
  request: {} as S["CreateGrantRequest"],
  value: usd("80"),
  available_before: "100",
  available_after: "180",
  executes_now: false,
  exceeded: "per_action",
  limit: usd("50"),
  exceeded_by: usd("30"),
  approver_roles: ["support_lead", "finance", "admin"],
  remaining_monthly_budget: usd("500"),
};

afterEach(() => {
  vi.useRealTimers();
  previewGrant.mockReset();
  submitGrant.mockReset();
});

describe("previewText", () => {
  it("says who must approve and by how much the limit is exceeded, from the server's strings", () => {
    expect(previewText(pending)).toBe(
      "Needs approval by support lead, finance or admin: exceeds your per-action limit (50.00 USD) by 30.00 USD.",
    );
    expect(previewText({ ...pending, executes_now: true, value: usd("1234.5") })).toBe("Executes now: worth 1,234.50 USD.");
  });
});

describe("creditTypeOptions", () => {
  it("offers the whole catalog, named, and the chosen type alone until it loads", () => {
    expect(creditTypeOptions(catalog, "api").map((o) => o.label)).toEqual([
      "API credits (api, credits)",
      "Real-time minutes (rt, minutes)",
    ]);
    expect(creditTypeOptions(undefined, "api")).toEqual([{ id: "api", label: "api" }]);
    expect(creditTypeOptions(undefined, "")).toEqual([]);
  });
});

describe("GrantDialog", () => {
  it("previews once typing pauses (not per keystroke) and submits to a 202 with the request id", async () => {
    vi.useFakeTimers();
    previewGrant.mockResolvedValue(pending);
    submitGrant.mockResolvedValue({
      status: 202,
      pending: {
        approval_id: "ap_9",
        action: "grant",
        value: usd("80"),
        exceeded: "per_action",
        limit: usd("50"),
        exceeded_by: usd("30"),
        approver_roles: ["finance"],
        requested_by: "u1",
        requested_at: "2026-03-01T00:00:00Z",
        expires_at: "2026-03-08T00:00:00Z",
      },
    });
    const done = vi.fn();
    render(<GrantDialog customer="c1" initialCreditType="api" onClose={() => undefined} onDone={done} />);
    const amount = screen.getByTestId("grant-amount");
    fireEvent.change(amount, { target: { value: "8" } });
    await act(async () => vi.advanceTimersByTimeAsync(PREVIEW_DELAY / 2));
    fireEvent.change(amount, { target: { value: "80" } });
    await act(async () => vi.advanceTimersByTimeAsync(PREVIEW_DELAY + 10));
    expect(previewGrant).toHaveBeenCalledTimes(1);
    expect(previewGrant.mock.calls[0]?.[0]).toMatchObject({ customer_id: "c1", credit_type_id: "api", amount: "80" });
    expect(screen.getByTestId("grant-preview").textContent).toContain("Needs approval by support lead, finance or admin");
    expect(screen.getByTestId("grant-submit").textContent).toBe("Request approval");
    await act(async () => {
      fireEvent.click(screen.getByTestId("grant-submit"));
      await vi.advanceTimersByTimeAsync(1);
    });
    expect(screen.getByTestId("approval-id").textContent).toBe("ap_9");
    expect(done).toHaveBeenCalled();
  });

  it("sends the priority as typed and the ticked products of the chosen credit type, none after a change of type", async () => {
    vi.useFakeTimers();
    previewGrant.mockResolvedValue({ ...pending, executes_now: true });
    const { unmount } = render(
      <GrantDialog customer="c1" initialCreditType="api" onClose={() => undefined} onDone={() => undefined} />,
    );
    await act(async () => vi.advanceTimersByTimeAsync(1));
    const offered = () => [...screen.getByTestId("grant-products").querySelectorAll("input")].map((i) => i.value);
    expect(offered()).toEqual(["chat", "images"]);
    fireEvent.click(screen.getByLabelText("Images"));
    fireEvent.change(screen.getByTestId("grant-priority"), { target: { value: "7" } });
    fireEvent.change(screen.getByTestId("grant-amount"), { target: { value: "5" } });
    await act(async () => vi.advanceTimersByTimeAsync(PREVIEW_DELAY + 10));
    expect(previewGrant.mock.calls.at(-1)?.[0]).toMatchObject({ priority: "7", products: ["images"] });
    expect(screen.getByTestId("grant-products").textContent).toContain("Products (1 of 2)");
    fireEvent.change(screen.getByTestId("grant-credit-type"), { target: { value: "rt" } });
    expect(offered()).toEqual(["live"]);
    await act(async () => vi.advanceTimersByTimeAsync(PREVIEW_DELAY + 10));
    expect(previewGrant.mock.calls.at(-1)?.[0]).toMatchObject({ credit_type_id: "rt", products: [] });
    expect(screen.getByTestId("grant-products").textContent).toContain("Products (all)");
    unmount();
  });

  it("shows the server's refusal of a preview with its field", async () => {
    vi.useFakeTimers();
    previewGrant.mockRejectedValue({ code: "validation_failed", message: "ticket_ref is required", field: "ticket_ref", hint: "" });
    render(<GrantDialog customer="c1" initialCreditType="api" onClose={() => undefined} onDone={() => undefined} />);
    fireEvent.change(screen.getByTestId("grant-amount"), { target: { value: "5" } });
    await act(async () => vi.advanceTimersByTimeAsync(PREVIEW_DELAY + 10));
    expect(screen.getByTestId("grant-preview").textContent).toContain("ticket_ref is required (field: ticket_ref)");
  });
});

describe("Dialog", () => {
  it("closes on Esc and gives focus back to its opener", () => {
    const opener = document.createElement("button");
    document.body.appendChild(opener);
    opener.focus();
    const close = vi.fn();
    const { unmount } = render(
      <Dialog title="T" onClose={close}>
        <input aria-label="x" />
      </Dialog>,
    );
    expect(document.activeElement).toBe(screen.getByLabelText("x"));
    fireEvent.keyDown(window, { key: "Escape" });
    expect(close).toHaveBeenCalledTimes(1);
    unmount();
    expect(document.activeElement).toBe(opener);
  });
});

describe("voidRefusal", () => {
  it("says why a role may not void, and allows finance on a live grant", () => {
    const policy = { void: ["support_lead", "finance"] as S["Role"][] };
    expect(voidRefusal(caller("admin", policy), "active")).toBe(
      "Only support lead or finance may void grants (you are admin).",
    );
    expect(voidRefusal(caller("finance", policy), "expired")).toContain("nothing left");
    expect(voidRefusal(caller("support_lead", policy), "active")).toBeNull();
  });
});
