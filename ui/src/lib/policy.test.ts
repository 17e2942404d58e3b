import { describe, expect, it } from "vitest";
import { may, roleList } from "./policy";
import { caller } from "./testing";

describe("may", () => {
  it("follows the server's policy, whatever the role's name", () => {
    expect(may(caller("viewer", { void: ["viewer"] }), "void")).toBe(true);
    expect(may(caller("admin", { void: ["finance"] }), "void")).toBe(false);
    expect(may(caller("admin"), "grant")).toBe(false);
  });

  it("names roles as a sentence does", () => {
    expect(roleList(["support_lead", "finance", "admin"])).toBe("support lead, finance or admin");
    expect(roleList(["admin"])).toBe("admin");
  });
});
