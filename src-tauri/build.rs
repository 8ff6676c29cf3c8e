//! Lists the app's commands so that Tauri generates one `allow-*` permission per command and
//! allows nothing else; `capabilities/main.json` grants exactly these to the main window.

/// The app's commands; `src/lib.rs` registers the same list, and a test checks they agree.
const COMMANDS: &[&str] = &[
    "overview",
    "bans",
    "trackers",
    "traffic",
    "ip_detail",
    "ban_ip",
    "unban_ip",
    "clear_tracker",
    "host_preview",
    "ban_host",
    "settings",
    "save_settings",
    "audit",
    "choose_file",
    "checklist",
    "access",
    "add_policy",
    "remove_policy",
    "allow_only_plan",
    "set_allow_only",
    "signins",
    "incidents",
    "test_alert",
    "test_crowdsec",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("failed to run tauri-build");
}
