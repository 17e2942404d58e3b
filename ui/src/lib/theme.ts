// Light or dark: the user's preference (Settings, kept in localStorage) or
// the system's. Read at launch too (lib/launch.ts), before React renders,
// so a chart drawn ahead is drawn in the theme the app will paint.
import { useEffect, useState } from "react";

export type Theme = "light" | "dark";
export type ThemePref = "system" | Theme;

const KEY = "theme";
const darkQuery = () => window.matchMedia?.("(prefers-color-scheme: dark)");

/** The theme preference saved in Settings ("system" when none). */
export function savedThemePref(): ThemePref {
  const t = localStorage.getItem(KEY);
  return t === "light" || t === "dark" ? t : "system";
}

/** The theme painted for a preference, given whether the system is dark. */
export function resolveTheme(pref: ThemePref, systemDark: boolean): Theme {
  return pref === "system" ? (systemDark ? "dark" : "light") : pref;
}

/** The theme the app paints in now. */
export function currentTheme(): Theme {
  return resolveTheme(savedThemePref(), darkQuery()?.matches ?? false);
}

/** The preference, its setter (saved), and the theme painted; follows the system's changes. */
export function useTheme(): [ThemePref, (t: ThemePref) => void, Theme] {
  const [pref, setPref] = useState<ThemePref>(savedThemePref);
  const media = darkQuery();
  const [systemDark, setSystemDark] = useState(media?.matches ?? false);
  useEffect(() => {
    const f = (e: MediaQueryListEvent) => setSystemDark(e.matches);
    media?.addEventListener("change", f);
    return () => media?.removeEventListener("change", f);
  }, [media]);
  const theme = resolveTheme(pref, systemDark);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const set = (t: ThemePref) => {
    localStorage.setItem(KEY, t);
    setPref(t);
  };
  return [pref, set, theme];
}
