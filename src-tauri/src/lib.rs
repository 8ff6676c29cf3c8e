//! Warden's desktop app: a thin Tauri shell with no rules of its own.
//!
//! It runs the same [`warden::monitor::Monitor`] as `warden watch`, answers the UI through
//! one-line commands into [`warden::dashboard::Desk`], and maps the monitor's notices to UI events
//! and desktop alerts.
//!
//! Layout:
//! - [`shell`]: what the app was started on (real OpenAlgo or the demo workspace), the managed
//!   state, and the monitor's lifetime;
//! - `commands`: the commands the UI may call (listed again in `build.rs` for the permissions);
//! - [`events`]: notices to UI events, desktop alerts and the tray's state.

mod commands;
pub mod events;
pub mod shell;

use std::process::ExitCode;

use clap::Parser;
use tauri::{Builder, Manager, Runtime};

pub use shell::{Launch, Shell};

/// The desktop app's command line: the CLI's global options, and `--demo`.
#[derive(Debug, Parser)]
#[command(name = "warden-desktop", version, about = "Warden's desktop app: a live security dashboard for OpenAlgo")]
pub struct Args {
    /// The same options as `warden`.
    #[command(flatten)]
    pub global: warden::cli::GlobalArgs,
    /// Open on the demo workspace even when an OpenAlgo install is found.
    #[arg(long)]
    pub demo: bool,
}

/// Adds Warden's plugins, state, commands and start-up to `builder`. Tests pass Tauri's mock
/// builder; [`main`] passes the real one.
pub fn run_app<R: Runtime>(builder: Builder<R>, launch: Launch) -> Builder<R> {
    let tray = launch.tray;
    builder
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .manage(Shell::new(launch))
        .invoke_handler(tauri::generate_handler![
            commands::overview,
            commands::bans,
            commands::trackers,
            commands::traffic,
            commands::ip_detail,
            commands::ban_ip,
            commands::unban_ip,
            commands::clear_tracker,
            commands::host_preview,
            commands::ban_host,
            commands::settings,
            commands::save_settings,
            commands::audit,
            commands::choose_file,
            commands::checklist,
            commands::access,
            commands::add_policy,
            commands::remove_policy,
            commands::allow_only_plan,
            commands::set_allow_only,
            commands::signins,
            commands::incidents,
            commands::test_alert,
            commands::test_crowdsec,
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            if tray && events::create_tray(&handle) {
                app.state::<Shell>().set_tray(true);
            }
            // The monitor opens its files off the main thread, so the window and the UI's first
            // commands do not wait for them.
            std::thread::spawn(move || handle.state::<Shell>().start(&handle));
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                events::on_close_requested(window, api);
            }
        })
}

/// Parses the command line and runs the app until its window is closed.
pub fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("warden-desktop: {}; see `warden-desktop --help`", warden::cli::usage_error(&e));
            return ExitCode::FAILURE;
        }
    };
    // NOTE: WebKitGTK's DMA-BUF renderer falls back to a slow path where there is no GPU to share
    // buffers with (virtual machines, remote desktops, Xvfb, some NVIDIA drivers): scrolling a table
    // measured 266 ms per frame with it and 22 ms without (bench/table_scroll.py). Shared-memory
    // rendering works everywhere, so it is the default unless the user chose otherwise. This runs
    // before any thread or GTK starts.
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1");
    }
    let launch = match Launch::from_args(&args.global, args.demo) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("warden-desktop: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A second start focuses the running window instead of running two monitors on one state.
    let single = tauri_plugin_single_instance::init(|app, _args, _cwd| events::show_main(app));
    match run_app(tauri::Builder::default().plugin(single), launch).build(tauri::generate_context!()) {
        Ok(app) => {
            app.run(|_, _| {});
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warden-desktop: cannot start the window: {e}");
            ExitCode::FAILURE
        }
    }
}
