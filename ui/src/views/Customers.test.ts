import { describe, expect, it } from "vitest";
import { nextSort } from "./Customers";

describe("nextSort", () => {
  it("sorts a new column ascending and flips the order of the current one", () => {
    expect(nextSort(null, "runway")).toEqual({ by: "runway", order: "asc" });
    expect(nextSort({ by: "runway", order: "asc" }, "runway")).toEqual({ by: "runway", order: "desc" });
    expect(nextSort({ by: "runway", order: "desc" }, "runway")).toEqual({ by: "runway", order: "asc" });
    expect(nextSort({ by: "runway", order: "desc" }, "name")).toEqual({ by: "name", order: "asc" });
  });
});
