//! The app benchmark's baseline (`scripts/bench-app`): an empty Tauri
//! window, same Tauri and WebKitGTK as the app, that marks `page_loaded`
//! in `CREDITDESK_TIMING_LOG` when its one static page has loaded. What the
//! app costs above this floor is the app's own doing.

use creditdesk_app::core::timing::Timing;
use tauri::webview::PageLoadEvent;

fn main() {
    // The app's WebKit settings, so the floor is measured as the app runs.
    creditdesk_app::choose_webkit_compositing();
    let timing = Timing::from_env(|k| std::env::var(k).ok());
    tauri::Builder::default()
        .on_page_load(move |_, payload| {
            if payload.event() == PageLoadEvent::Finished {
                if let Err(e) = timing.mark("page_loaded", "") {
                    eprintln!("timing mark: {e}");
                }
            }
        })
        .run(tauri::generate_context!("tauri.empty-window.conf.json"))
        .expect("the empty window");
}
