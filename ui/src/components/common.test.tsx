import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useCommand } from "./common";

function Probe({ run, initial }: { run: () => Promise<string>; initial?: string }) {
  const { data, busy, reload } = useCommand(run, [], initial);
  return (
    <button type="button" onClick={reload}>
      {busy ? "busy" : data}
    </button>
  );
}

afterEach(cleanup);

describe("useCommand", () => {
  it("runs the command on mount", async () => {
    const run = vi.fn().mockResolvedValue("fresh");
    render(<Probe run={run} />);
    expect(screen.getByRole("button").textContent).toBe("busy");
    await act(async () => undefined);
    expect(run).toHaveBeenCalledTimes(1);
    expect(screen.getByRole("button").textContent).toBe("fresh");
  });

  it("takes an answer it was given for the first run, and runs on reload", async () => {
    const run = vi.fn().mockResolvedValue("fresh");
    render(<Probe run={run} initial="fetched at launch" />);
    await act(async () => undefined);
    expect(run).not.toHaveBeenCalled();
    expect(screen.getByRole("button").textContent).toBe("fetched at launch");
    await act(async () => screen.getByRole("button").click());
    expect(run).toHaveBeenCalledTimes(1);
    expect(screen.getByRole("button").textContent).toBe("fresh");
  });
});
