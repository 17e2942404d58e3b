import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { S } from "../api";

const cancelReports = vi.fn(() => Promise.resolve(null));
let progress: ((p: S["ReportProgress"]) => void) | undefined;
vi.mock("../api", () => ({
  api: {
    appStart: () => new Promise(() => undefined),
    // Never answers: the reports are still being gathered.
    finance: () => new Promise(() => undefined),
    cancelReports: () => cancelReports(),
  },
  onReportProgress: (f: (p: S["ReportProgress"]) => void) => {
    progress = f;
    return Promise.resolve(() => undefined);
  },
}));

const { Finance } = await import("./Finance");

describe("Finance", () => {
  it("says which report is being gathered, from Rust's progress events, and offers to cancel", async () => {
    render(<Finance theme="light" />);
    const notice = screen.getByTestId("report-progress");
    expect(notice.textContent).toContain("Gathering the finance reports...");
    await act(async () => progress?.({ step: 3, of: 5, label: "breakage by month" }));
    expect(notice.textContent).toContain("Gathering the finance reports: breakage by month (step 3 of 5)...");
    fireEvent.click(screen.getByTestId("cancel-reports"));
    expect(cancelReports).toHaveBeenCalledTimes(1);
  });
});
