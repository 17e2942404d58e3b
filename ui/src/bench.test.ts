import { afterEach, describe, expect, it } from "vitest";
import { customerOnScreen, whenOnScreen } from "./bench";

function view(customer: string, drawnFor?: string, withSvg = true): string {
  return `<div data-testid="view-customer" data-customer="${customer}">
    <button data-testid="balance-batch"><div data-testid="available">12.5</div></button>
    <section data-testid="burn-chart"${drawnFor ? ` data-drawn-for="${drawnFor}"` : ""}>
      ${withSvg ? '<div class="chart"><svg role="img"></svg></div>' : ""}
    </section></div>`;
}

afterEach(() => {
  document.body.innerHTML = "";
});

describe("the benchmark's notion of 'on screen'", () => {
  it("needs the customer's cards and a burn chart drawn for that customer and range", () => {
    document.body.innerHTML = view("cus_0002", "cus_0002 batch 30 2026-12-01T00:00:00Z");
    expect(customerOnScreen("cus_0002")).toBe(true);
    expect(customerOnScreen("cus_0002", 30)).toBe(true);
    expect(customerOnScreen("cus_0002", 365)).toBe(false);
    expect(customerOnScreen("cus_0003")).toBe(false);
  });

  it("does not take the last customer's chart for the next one's", () => {
    document.body.innerHTML = view("cus_0003", "cus_0002 batch 30 2026-12-01T00:00:00Z");
    expect(customerOnScreen("cus_0003")).toBe(false);
    document.body.innerHTML = view("cus_0003", "cus_0003 batch 30 x", false);
    expect(customerOnScreen("cus_0003")).toBe(false);
  });

  it("resolves once the DOM shows it, and times out when it never does", async () => {
    const shown = whenOnScreen(() => customerOnScreen("cus_0004"));
    document.body.innerHTML = view("cus_0004", "cus_0004 batch 30 x");
    await expect(shown).resolves.toBeUndefined();
    await expect(whenOnScreen(() => false, 50)).rejects.toThrow("never rendered");
  });
});
