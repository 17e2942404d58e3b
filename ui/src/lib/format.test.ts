import { describe, expect, it } from "vitest";
import {
  clock,
  day,
  groupDecimal,
  instant,
  isNegative,
  isZero,
  localInputToUtc,
  minorDigits,
  money,
  moneyExact,
  roundDecimal,
  signed,
  utcToLocalInput,
} from "./format";

describe("decimal display", () => {
  it("groups digits without changing any", () => {
    expect(groupDecimal("1234567.125")).toBe("1,234,567.125");
    expect(groupDecimal("-1000")).toBe("-1,000");
    expect(groupDecimal("999")).toBe("999");
    expect(groupDecimal("0.000001")).toBe("0.000001");
    expect(groupDecimal("12345678901234567890.5")).toBe("12,345,678,901,234,567,890.5");
  });
  it("leaves what is not a decimal alone", () => {
    expect(groupDecimal("n/a")).toBe("n/a");
  });
  it("formats money with its currency, in its minor units, exact on request", () => {
    expect(money({ amount: "1234.50", currency: "USD" })).toBe("1,234.50 USD");
    expect(money({ amount: "1074.67663343", currency: "USD" })).toBe("1,074.68 USD");
    expect(moneyExact({ amount: "1074.67663343", currency: "USD" })).toBe("1,074.67663343 USD");
    expect(money({ amount: "1500.5", currency: "JPY" })).toBe("1,501 JPY");
    expect(money({ amount: "7", currency: "USD" })).toBe("7.00 USD");
  });
  it("rounds a decimal string half away from zero, digit by digit", () => {
    expect(minorDigits("USD")).toBe(2);
    expect(minorDigits("JPY")).toBe(0);
    expect(minorDigits("BHD")).toBe(3);
    expect(roundDecimal("1.005", 2)).toBe("1.01");
    expect(roundDecimal("1.00499999", 2)).toBe("1.00");
    expect(roundDecimal("999.995", 2)).toBe("1000.00");
    expect(roundDecimal("-2.345", 2)).toBe("-2.35");
    expect(roundDecimal("-0.001", 2)).toBe("0.00");
    expect(roundDecimal("0.5", 0)).toBe("1");
    expect(roundDecimal("12345678901234567890.125", 2)).toBe("12345678901234567890.13");
    expect(roundDecimal("n/a", 2)).toBe("n/a");
  });
  it("reads signs and zeros from the text", () => {
    expect(isNegative("-0.01")).toBe(true);
    expect(isNegative("-0")).toBe(false);
    expect(isNegative("5")).toBe(false);
    expect(isZero("0.000")).toBe(true);
    expect(isZero("0.001")).toBe(false);
    expect(signed("12.5")).toBe("+12.5");
    expect(signed("-1200")).toBe("-1,200");
    expect(signed("0.00")).toBe("0");
  });
  it("reads a datetime-local value as UTC", () => {
    expect(localInputToUtc("2026-03-05T14:02")).toBe("2026-03-05T14:02:00Z");
    expect(localInputToUtc("yesterday")).toBeNull();
  });
  it("formats days and instants in UTC, the same on every call", () => {
    // The formatters are made once and reused: the second call must not differ.
    for (let i = 0; i < 2; i++) {
      expect(day("2026-03-05")).toBe(new Date("2026-03-05T00:00:00Z").toLocaleDateString(undefined, {
        year: "numeric",
        month: "short",
        day: "numeric",
        timeZone: "UTC",
      }));
      expect(day("2026-03-05T23:59:59Z")).toBe(day("2026-03-05"));
      expect(instant("2026-03-05T14:02:09Z")).toContain("14:02");
      expect(instant("2026-03-05T14:02:09Z")).toContain("UTC");
      expect(instant("2026-03-05T14:02:09Z")).not.toBe(instant("2026-03-06T14:02:09Z"));
      const at = "2026-03-05T14:02:09Z";
      expect(clock(at)).toBe(new Date(at).toLocaleTimeString(undefined, { hour12: false }));
    }
  });
});

describe("utcToLocalInput", () => {
  it("gives the instant in UTC, days later, as the input wants it, and round-trips", () => {
    expect(utcToLocalInput("2026-12-29T00:00:00Z", 30)).toBe("2027-01-28T00:00");
    expect(utcToLocalInput("2026-03-05T14:02:59.5Z")).toBe("2026-03-05T14:02");
    expect(localInputToUtc(utcToLocalInput("2026-03-05T14:02:00Z"))).toBe("2026-03-05T14:02:00Z");
  });
});
