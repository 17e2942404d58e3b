// Display helpers. Amounts arrive as exact decimal strings from the Rust
// side and are only re-punctuated here (digit grouping), never computed.

/** "1234567.50" -> "1,234,567.50"; keeps the sign and every digit. */
export function groupDecimal(value: string): string {
  const m = /^(-?)(\d+)(\.\d+)?$/.exec(value.trim());
  if (!m) return value;
  const [, sign, int = "", frac = ""] = m;
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${grouped}${frac}`;
}

const digitsByCurrency = new Map<string, number>();

/** The currency's minor-unit digits (USD 2, JPY 0, BHD 3); 2 for an unknown code. */
export function minorDigits(currency: string): number {
  // Looked up once per currency: every money cell of every table asks.
  let digits = digitsByCurrency.get(currency);
  if (digits === undefined) {
    try {
      digits =
        new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    digitsByCurrency.set(currency, digits);
  }
  return digits;
}

/**
 * A decimal string rounded half away from zero to `digits` places, by its
 * digits (no floating point): "1074.675" -> "1074.68". For display only;
 * the exact value stays what the server sent.
 */
export function roundDecimal(value: string, digits: number): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value.trim());
  if (!m) return value;
  const [, sign, int = "", frac = ""] = m;
  if (frac.length <= digits) return `${sign}${int}${digits ? "." + frac.padEnd(digits, "0") : ""}`;
  const kept = (int + frac.slice(0, digits)).split("").map(Number);
  if (Number(frac[digits]) >= 5) {
    let i = kept.length - 1;
    while (i >= 0 && kept[i] === 9) kept[i--] = 0;
    if (i < 0) kept.unshift(1);
    else kept[i] = (kept[i] ?? 0) + 1;
  }
  const all = kept.join("");
  const whole = all.slice(0, all.length - digits) || "0";
  const rounded = digits ? `${whole}.${all.slice(all.length - digits)}` : whole;
  return isZero(rounded) ? rounded : `${sign}${rounded}`;
}

/** A Money object as text in the currency's minor units: "1,074.68 USD". */
export function money(m: { amount: string; currency: string }): string {
  return `${groupDecimal(roundDecimal(m.amount, minorDigits(m.currency)))} ${m.currency}`;
}

/** A Money object with every digit the server sent: "1,074.67663343 USD" (shown on hover). */
export function moneyExact(m: { amount: string; currency: string }): string {
  return `${groupDecimal(m.amount)} ${m.currency}`;
}

/** Whether a decimal string is negative (a sign test, not arithmetic). */
export function isNegative(value: string): boolean {
  return /^-\d*\.?\d*[1-9]/.test(value.trim());
}

/** Whether a decimal string is zero ("0", "0.00", "-0"). */
export function isZero(value: string): boolean {
  return /^-?0*\.?0*$/.test(value.trim());
}

/** A signed amount for a waterfall step: "+12.5", "-3", "0". */
export function signed(value: string): string {
  if (isZero(value)) return "0";
  return isNegative(value) ? groupDecimal(value) : `+${groupDecimal(value)}`;
}

// One formatter per kind, made on first use: in WebKit a `toLocale*String`
// call with options builds a new ICU formatter every time, and a ledger
// page formats a hundred instants.
function formatter(options: Intl.DateTimeFormatOptions): () => Intl.DateTimeFormat {
  let made: Intl.DateTimeFormat | undefined;
  return () => (made ??= new Intl.DateTimeFormat(undefined, options));
}
const clockFormat = formatter({ hour: "numeric", minute: "numeric", second: "numeric", hour12: false });
const dayFormat = formatter({ year: "numeric", month: "short", day: "numeric", timeZone: "UTC" });
const instantFormat = formatter({
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
  timeZone: "UTC",
  timeZoneName: "short",
});

/**
 * Makes the formatters (ICU loads its locale and time-zone data on the
 * first one, tens of milliseconds in WebKit), for a moment when the UI
 * waits anyway: at launch, while the session is on its way.
 */
export function warmFormatters(): void {
  const now = new Date();
  for (const f of [clockFormat, dayFormat, instantFormat]) f().format(now);
  minorDigits("USD");
}

/** "12:03:55" in the user's locale and time zone, from an RFC 3339 instant. */
export function clock(iso: string): string {
  return clockFormat().format(new Date(iso));
}

/** "Mar 5, 2026" from an RFC 3339 instant or a plain date. */
export function day(iso: string): string {
  const d = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? new Date(`${iso}T00:00:00Z`) : new Date(iso);
  return dayFormat().format(d);
}

/** "Mar 5, 2026, 14:02 UTC" from an RFC 3339 instant. */
export function instant(iso: string): string {
  return instantFormat().format(new Date(iso));
}

/** A datetime-local input's value ("2026-03-05T14:02", taken as UTC) as RFC 3339. */
export function localInputToUtc(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null;
  return `${value.length === 16 ? `${value}:00` : value}Z`;
}

/** An RFC 3339 instant, `days` later, as a datetime-local input's value in UTC ("2026-03-05T14:02"). */
export function utcToLocalInput(iso: string, days = 0): string {
  const t = new Date(iso).getTime() + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 16);
}
