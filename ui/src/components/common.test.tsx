import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { OpenRow, useAfterFirstPaint, useCommand, usePaged } from "./common";

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

function PagedProbe({ run, q }: { run: (q: string) => Promise<string[]>; q: string }) {
  const { items } = usePaged(() => run(q).then((items) => ({ items, age: { as_of: "" } })), [q]);
  return <output>{items.join(",")}</output>;
}

describe("usePaged", () => {
  it("drops the late answer of a query typed over", async () => {
    const answers: Record<string, (items: string[]) => void> = {};
    const run = (q: string) => new Promise<string[]>((resolve) => (answers[q] = resolve));
    const { rerender } = render(<PagedProbe run={run} q="a" />);
    rerender(<PagedProbe run={run} q="ab" />);
    await act(async () => answers["ab"]?.(["ab-1"]));
    await act(async () => answers["a"]?.(["a-1", "a-2"]));
    expect(screen.getByRole("status").textContent).toBe("ab-1");
  });
});

function FoldProbe({ ready }: { ready: boolean }) {
  return <output>{useAfterFirstPaint(ready) ? "below" : "above only"}</output>;
}

describe("useAfterFirstPaint", () => {
  it("holds back what is below the fold until two frames after the view has its data, then keeps it", async () => {
    const frames: FrameRequestCallback[] = [];
    vi.stubGlobal("requestAnimationFrame", (f: FrameRequestCallback) => frames.push(f));
    vi.stubGlobal("cancelAnimationFrame", () => undefined);
    const frame = () => act(async () => frames.splice(0).forEach((f) => f(0)));
    const { rerender } = render(<FoldProbe ready={false} />);
    await frame();
    expect(screen.getByRole("status").textContent).toBe("above only");
    rerender(<FoldProbe ready={true} />);
    await frame();
    expect(screen.getByRole("status").textContent).toBe("above only");
    await frame();
    expect(screen.getByRole("status").textContent).toBe("below");
    rerender(<FoldProbe ready={false} />);
    expect(screen.getByRole("status").textContent).toBe("below");
    vi.unstubAllGlobals();
  });
});

describe("OpenRow", () => {
  it("opens by click or Enter and moves with the arrow keys past an opened row's explanation", () => {
    const open = vi.fn();
    render(
      <table>
        <tbody>
          <OpenRow onOpen={() => open("a")} selected data-testid="a">
            <td>a</td>
          </OpenRow>
          <tr data-testid="explanation">
            <td>why a</td>
          </tr>
          <OpenRow onOpen={() => open("b")} data-testid="b">
            <td>b</td>
          </OpenRow>
        </tbody>
      </table>,
    );
    const [a, b] = [screen.getByTestId("a"), screen.getByTestId("b")];
    expect(a.className).toBe("clickable selected");
    expect(b.className).toBe("clickable");
    a.focus();
    fireEvent.keyDown(a, { key: "ArrowDown" });
    expect(document.activeElement).toBe(b);
    fireEvent.keyDown(b, { key: "ArrowUp" });
    expect(document.activeElement).toBe(a);
    fireEvent.keyDown(a, { key: "Enter" });
    fireEvent.click(b);
    expect(open.mock.calls).toEqual([["a"], ["b"]]);
  });
});
