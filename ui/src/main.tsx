import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { warmFormatters } from "./lib/format";
import { firstStart } from "./lib/launch";
import "./styles.css";

// When the UI's script began: the app benchmark's cold-start breakdown reads it.
performance.mark("ui_start");

// The sign-in (and the reopened customer) were asked for as lib/launch
// loaded. While they run, the formatters are made, and the first render
// waits for them (tens of milliseconds from a remote server) for up to
// 300 ms.
warmFormatters();
void firstStart(300).then((first) => {
  if (first && "session" in first) performance.mark("session");
  const root = document.getElementById("root");
  if (root) {
    createRoot(root).render(
      <StrictMode>
        <App first={first} />
      </StrictMode>,
    );
  }
});
