//! The app benchmark's baseline (`scripts/bench-app`): an empty Tauri
//! window, same Tauri and WebKitGTK as the app, that marks `page_loaded`
//! in `CREDITDESK_TIMING_LOG` when its one static page has loaded. What the
//! app costs above this floor is the app's own doing.

use creditdesk_app::core::timing::Timing;
use tauri::webview::PageLoadEvent;

fn main() {
    // The app's WebKit settings, so the floor is measured as the app runs.
    creditdesk_app::choose_webkit_compositing();
    let timing = std::sync::Arc::new(Timing::from_env(|k| std::env::var(k).ok()));
    timing.mark_quietly("main");
    let at_setup = timing.clone();
    tauri::Builder::default()
        .setup(move |_| {
            at_setup.mark_quietly("setup");
            Ok(())
        })
        .on_page_load(move |_, payload| match payload.event() {
            PageLoadEvent::Started => timing.mark_quietly("page_started"),
            PageLoadEvent::Finished => timing.mark_quietly("page_loaded"),
        })
        .run(tauri::generate_context!("tauri.empty-window.conf.json"))
        .expect("the empty window");
}
