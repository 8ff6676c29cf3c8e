//! A blank Tauri window: the same Tauri version, features and WebKit flag as `warden-desktop`,
//! with an empty page and nothing else. `bench/idle.py` measures it as the floor for the app at
//! rest.
//!
//! `cargo build --release -p warden-desktop --features custom-protocol --example blank`

fn main() {
    // The same renderer choice as warden-desktop (see its `main`).
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
    if let Err(e) = tauri::Builder::default().run(tauri::generate_context!("examples/blank/tauri.conf.json")) {
        eprintln!("blank: {e}");
        std::process::exit(1);
    }
}
