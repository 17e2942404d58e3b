import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
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

afterEach(cleanup);

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

  it("shows a chart drawn at launch without drawing again, if drawn at the size and theme it measures", () => {
    const draw = vi.fn().mockReturnValue(new Promise(() => undefined));
    const early = { spec: { width: 320, height: 260, theme: "dark" as const }, chart, ms: 12 };
    render(<ChartPanel title="Burn" draw={draw} theme="dark" deps={["c1", 30]} testId="burn" early={early} />);
    expect(draw).not.toHaveBeenCalled();
    expect(document.querySelector("svg title")?.textContent).toBe("Daily burn");
    expect(screen.getByTestId("burn").dataset.drawnFor).toBe("c1 30");
  });

  it("draws anew when the chart drawn at launch has another width or theme", () => {
    for (const spec of [
      { width: 640, height: 260, theme: "dark" as const },
      { width: 320, height: 260, theme: "light" as const },
    ]) {
      const draw = vi.fn().mockReturnValue(new Promise(() => undefined));
      const { unmount } = render(
        <ChartPanel title="Burn" draw={draw} theme="dark" deps={[]} testId="burn" early={{ spec, chart, ms: 12 }} />,
      );
      expect(draw).toHaveBeenCalledWith({ width: 320, height: 260, theme: "dark" });
      unmount();
    }
  });
});
