//! From the monitor to the trader: notices become UI events, desktop alerts (through the
//! notification plugin and D-Bus) and the tray's state.

use std::sync::{Arc, Mutex};

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_notification::NotificationExt;
use warden::dashboard::alerts::{Alert, Alerts};
use warden::dashboard::DeskError;
use warden::monitor::Notice;

use crate::shell::lock;

/// The event that carries every monitor notice to the UI.
pub const NOTICE_EVENT: &str = "warden://notice";
/// The event that tells the UI to refresh what it shows.
pub const CHANGED_EVENT: &str = "warden://changed";
/// The tray icon's id.
pub const TRAY_ID: &str = "warden";

/// Sends one desktop alert. The plugin sends it on a background task and does not report
/// failures (spec of the plugin), so there is nothing to handle here.
pub fn send_alert<R: Runtime>(app: &AppHandle<R>, alert: &Alert) {
    let _ = app.notification().builder().title(&alert.title).body(&alert.body).show();
}

/// The monitor's notice callback: emit to the UI, alert when [`Alerts`] says so.
pub fn notice_sink<R: Runtime>(app: AppHandle<R>, alerts: Arc<Mutex<Alerts>>) -> impl FnMut(Notice) + Send + 'static {
    move |notice: Notice| {
        let _ = app.emit(NOTICE_EVENT, &notice);
        let alert = lock(&alerts).on_notice(&notice, warden::time::now());
        if let Some(a) = alert {
            send_alert(&app, &a);
        }
        if matches!(notice, Notice::Banned { .. } | Notice::NearThreshold { .. }) {
            update_tray(&app);
        }
    }
}

/// The monitor's round callback: ask the UI to refresh after a round that a file change woke (the
/// monitor drains a burst of changes into one round; the UI debounces further), and send the
/// storm summaries of minutes that ended.
pub fn round_sink<R: Runtime>(app: AppHandle<R>, alerts: Arc<Mutex<Alerts>>) -> impl FnMut(bool) + Send + 'static {
    move |woken: bool| {
        if woken {
            let _ = app.emit(CHANGED_EVENT, ());
        }
        let summaries = lock(&alerts).flush(warden::time::now());
        for a in summaries {
            send_alert(&app, &a);
        }
    }
}

/// Asks the UI to refresh what it shows.
pub fn changed<R: Runtime>(app: &AppHandle<R>) {
    let _ = app.emit(CHANGED_EVENT, ());
}

/// A failure outside the monitor (it did not start, the demo's simulator failed): shown to the
/// UI as a failing source, and as an alert.
pub fn report_failure<R: Runtime>(app: &AppHandle<R>, what: &str, message: &str) {
    eprintln!("warden-desktop: {what}: {message}");
    let notice = Notice::Source {
        name: what.to_string(),
        path: String::new(),
        health: warden::source::openalgo::Health::Failing(message.to_string()),
    };
    let _ = app.emit(NOTICE_EVENT, &notice);
    send_alert(
        app,
        &Alert {
            title: format!("Warden: the {what} failed"),
            body: message.to_string(),
            event: warden::alert::Event::Health,
        },
    );
}

/// The demo simulator's error callback.
pub fn error_sink<R: Runtime>(app: AppHandle<R>) -> impl FnMut(warden::Error) + Send + 'static {
    move |e| report_failure(&app, "demo simulator", &e.to_string())
}

/// Shows and focuses the main window (the tray's "Open", a second start).
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// The tray icon: its title says the state, its menu opens the app or quits. A desktop without a
/// tray (or a tray host) only loses the icon. Returns whether the icon was made: only then does
/// closing the window hide it instead of quitting.
pub fn create_tray<R: Runtime>(app: &AppHandle<R>) -> bool {
    let made = (|| -> tauri::Result<()> {
        let open = MenuItem::with_id(app, "open", "Open Warden", true, None::<&str>)?;
        let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
        let menu = Menu::with_items(app, &[&open, &quit])?;
        let mut tray = TrayIconBuilder::with_id(TRAY_ID).menu(&menu).tooltip("Warden").title("Warden");
        if let Some(icon) = app.default_window_icon() {
            tray = tray.icon(icon.clone());
        }
        tray.on_menu_event(|app, event| match event.id().as_ref() {
            "open" => show_main(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
        Ok(())
    })();
    if let Err(e) = &made {
        eprintln!("warden-desktop: no tray icon: {e}");
    }
    update_tray(app);
    made.is_ok()
}

/// What the trader is told the first time closing the window hides it.
pub const HIDDEN_TO_TRAY: &str = "Warden is still watching your server. Open it again from the tray icon \
    (or start Warden again); Quit is in the tray icon's menu.";

/// Closing the main window: with a tray icon, the window hides and the monitor goes on (said once,
/// the first time, in a desktop alert); without one, the app quits as usual.
pub fn on_close_requested<R: Runtime>(window: &tauri::Window<R>, api: &tauri::CloseRequestApi) {
    let app = window.app_handle();
    let shell = app.state::<crate::Shell>();
    if !shell.has_tray() {
        return;
    }
    api.prevent_close();
    let _ = window.hide();
    if shell.first_hide() {
        send_alert(
            app,
            &Alert {
                title: "Warden keeps watching".into(),
                body: HIDDEN_TO_TRAY.into(),
                event: warden::alert::Event::Health,
            },
        );
    }
}

/// Puts the headline numbers in the tray's title and tooltip.
pub fn update_tray<R: Runtime>(app: &AppHandle<R>) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    let desk = app.state::<crate::Shell>().desk();
    let text = match desk.overview_status(warden::time::now()) {
        Ok(s) if s.total_bans + s.near_threshold == 0 => "Warden: all quiet".to_string(),
        Ok(s) => format!("Warden: {} banned, {} near threshold", s.total_bans, s.near_threshold),
        Err(e) => format!("Warden: {}", e.message),
    };
    let _ = tray.set_tooltip(Some(&text));
    let _ = tray.set_title(Some(&text));
}

/// Opens the system's file chooser (from Rust, so the UI needs no dialog permission).
pub async fn choose_file<R: Runtime>(app: AppHandle<R>, title: String) -> Result<Option<String>, DeskError> {
    let picked =
        tauri::async_runtime::spawn_blocking(move || app.dialog().file().set_title(title).blocking_pick_file())
            .await
            .map_err(|e| DeskError { kind: "failed", message: e.to_string(), fields: None })?;
    Ok(picked.and_then(|p| p.into_path().ok()).map(|p| p.display().to_string()))
}
