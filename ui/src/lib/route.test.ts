import { describe, expect, it } from "vitest";
import { lastRoute, launchHint, saveRoute } from "./route";

function memory() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), m };
}

const agent = { mode: "remote", server_url: "http://127.0.0.1:4000/", user: { user_id: "usr_1" } } as const;
const finance = { ...agent, user: { user_id: "usr_2" } };

describe("the last view", () => {
  it("is reopened for the same server and user only", () => {
    const store = memory();
    expect(lastRoute(store, agent)).toBeNull();
    saveRoute(store, agent, { name: "customer", id: "cus_0001" });
    expect(lastRoute(store, agent)).toEqual({ name: "customer", id: "cus_0001" });
    expect(lastRoute(store, finance)).toBeNull();
    expect(lastRoute(store, { ...agent, server_url: "https://billing.example/" })).toBeNull();
  });

  it("is the embedded server's whatever port it listens on this time", () => {
    const store = memory();
    const demo = { mode: "embedded", server_url: "http://127.0.0.1:41001/", user: { user_id: "usr_a" } } as const;
    saveRoute(store, demo, { name: "finance" });
    expect(lastRoute(store, { ...demo, server_url: "http://127.0.0.1:39999/" })).toEqual({ name: "finance" });
  });

  it("never reopens Settings, and ignores what it cannot read", () => {
    const store = memory();
    saveRoute(store, agent, { name: "settings" });
    expect(lastRoute(store, agent)).toBeNull();
    const k = [...store.m.keys()].find((k) => k !== "last-view") as string;
    for (const bad of ["{", "42", '{"name":"customer"}', '{"name":"customer","id":7}', '{"name":"nope"}']) {
      store.m.set(k, bad);
      expect(lastRoute(store, agent), bad).toBeNull();
    }
    store.m.set(k, '{"name":"disputes","id":5}');
    expect(lastRoute(store, agent)).toEqual({ name: "disputes", id: null });
  });

  it("leaves a launch hint: the last route saved, by any user", () => {
    const store = memory();
    expect(launchHint(store)).toBeNull();
    saveRoute(store, agent, { name: "customer", id: "cus_0001" });
    saveRoute(store, finance, { name: "finance" });
    expect(launchHint(store)).toEqual({ name: "finance" });
    expect(lastRoute(store, agent)).toEqual({ name: "customer", id: "cus_0001" });
  });
});
