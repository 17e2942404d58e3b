import { act, fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ChartPanel } from "./ChartPanel";

const chart = {
  svg: '<svg role="img"><title>Daily burn</title></svg>',
  caption: "Daily burn",
  columns: [
    { header: "Day", numeric: false },
    { header: "Total", numeric: true },
  ],
  rows: [["Mar 2, 2026", "13.5"]],
  age: { as_of: "2026-03-02T12:00:00Z" },
};

describe("ChartPanel", () => {
  it("asks Rust to draw at the container's width and theme, and toggles to the exact table", async () => {
    vi.useFakeTimers();
    const draw = vi.fn().mockResolvedValue(chart);
    render(<ChartPanel title="Burn" draw={draw} theme="dark" deps={[]} testId="burn" />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(100);
    });
    expect(draw).toHaveBeenCalledWith({ width: 320, height: 260, theme: "dark" });
    expect(document.querySelector("svg title")?.textContent).toBe("Daily burn");
    fireEvent.click(screen.getByRole("button", { name: "Show table" }));
    expect(screen.getByRole("cell", { name: "13.5" }).className).toBe("num");
    expect(document.querySelector("svg")).toBeNull();
    vi.useRealTimers();
  });

  it("asks for the first draw, and a redraw on new data, without waiting for a timer", () => {
    vi.useFakeTimers();
    const draw = vi.fn().mockReturnValue(new Promise(() => undefined));
    const { rerender } = render(<ChartPanel title="Burn" draw={draw} theme="light" deps={["a"]} testId="burn" />);
    expect(draw).toHaveBeenCalledTimes(1);
    rerender(<ChartPanel title="Burn" draw={draw} theme="light" deps={["b"]} testId="burn" />);
    expect(draw).toHaveBeenCalledTimes(2);
    vi.useRealTimers();
  });

  it("shows the error with its hint instead of a chart", async () => {
    vi.useFakeTimers();
    const draw = vi.fn().mockRejectedValue({ code: "unreachable", message: "down", hint: "later" });
    render(<ChartPanel title="Burn" draw={draw} theme="light" deps={[]} testId="burn" />);
    await act(async () => {
      await vi.advanceTimersByTimeAsync(100);
    });
    expect(screen.getByRole("alert").textContent).toContain("down");
    expect(screen.getByRole("alert").textContent).toContain("later");
    vi.useRealTimers();
  });
});
