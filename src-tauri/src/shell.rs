//! What the app runs on, and its one managed state.
//!
//! NOTE: the state is guarded by `std::sync::Mutex`, held only to clone or swap a value and never
//! across an `.await` (clippy's `await_holding_lock` is denied). The work itself (SQLite, DNS)
//! runs on Tauri's blocking pool, so the async runtime's threads never wait on a file lock.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tauri::{AppHandle, Runtime};
use warden::cli::GlobalArgs;
use warden::config::{default_config_path, Config, Paths};
use warden::dashboard::alerts::Alerts;
use warden::dashboard::settings::SettingsForm;
use warden::dashboard::{Desk, DeskError, DeskResult};
use warden::demo::{Simulator, Workspace};
use warden::monitor::{Monitor, MonitorHandle, SharedChecklist, SharedPulse};
use warden::time::Timestamp;

use crate::events;

/// What the app was started on.
#[derive(Debug)]
pub struct Launch {
    /// The configuration and paths.
    pub desk: Desk,
    /// The demo workspace, when no OpenAlgo was configured or found.
    pub demo: Option<Workspace>,
    /// Whether to put an icon in the system tray (GTK must be running: not on the mock runtime).
    pub tray: bool,
}

impl Launch {
    /// From the CLI's options. With no logs.db given, configured or found in the usual places
    /// (or with `force_demo`), the app opens on a fresh demo workspace and says so.
    pub fn from_args(args: &GlobalArgs, force_demo: bool) -> warden::Result<Self> {
        let (cfg, paths) = args.load()?;
        let config_path = args.config.clone().or_else(default_config_path);
        let chosen = args.logs_db.is_some() || cfg.logs_db.is_some();
        if !force_demo && (chosen || paths.logs_db.exists()) {
            return Ok(Self { tray: true, ..Self::on(cfg, paths, config_path) });
        }
        let ws = Workspace::create(None)?;
        let mut demo_paths = ws.paths();
        if let Some(state) = &args.state_db {
            demo_paths.state_db = state.clone();
        }
        let desk = Desk {
            cfg: Config { poll_seconds: 2, ..cfg },
            paths: demo_paths,
            config_path,
            demo: Some(format!(
                "Demo workspace: no OpenAlgo was found, so Warden is watching a simulated one with made-up \
                 attackers (in {}). Set the path of your logs.db in Settings to watch your own server.",
                ws.dir.display()
            )),
        };
        Ok(Self { desk, demo: Some(ws), tray: true })
    }

    /// On an explicit configuration, without a tray icon (the tests use this).
    pub fn on(cfg: Config, paths: Paths, config_path: Option<PathBuf>) -> Self {
        Self { desk: Desk { cfg, paths, config_path, demo: None }, demo: None, tray: false }
    }
}

/// The app's managed state.
pub struct Shell {
    desk: Mutex<Desk>,
    monitor: Mutex<Option<MonitorHandle>>,
    alerts: Arc<Mutex<Alerts>>,
    demo: Option<Workspace>,
    simulator: Mutex<Option<Simulator>>,
    tray: AtomicBool,
    /// The running monitor's per-minute counters, which the overview's chart reads.
    pulse: Mutex<Option<SharedPulse>>,
    /// Held while the monitor is (re)started.
    restarting: Mutex<()>,
    /// The chart's seed still to read: the desk it reads with, and the pulse it fills.
    seed: Mutex<Option<(Desk, SharedPulse)>>,
    /// The latest server checklist, which the running monitor runs again when `.env`, a file's
    /// mode or nginx's configuration changes.
    checklist: Mutex<Option<SharedChecklist>>,
}

/// Locks `m`, taking over a poisoned lock.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take the whole app down with a poisoned lock.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn failed(e: impl std::fmt::Display) -> DeskError {
    DeskError { kind: "failed", message: e.to_string(), fields: None }
}

impl Shell {
    /// The state for `launch`; nothing runs until [`Shell::start`].
    pub fn new(launch: Launch) -> Self {
        let alerts = Alerts::new(launch.desk.cfg.notify);
        Self {
            desk: Mutex::new(launch.desk),
            monitor: Mutex::new(None),
            alerts: Arc::new(Mutex::new(alerts)),
            demo: launch.demo,
            simulator: Mutex::new(None),
            tray: AtomicBool::new(false),
            pulse: Mutex::new(None),
            restarting: Mutex::new(()),
            seed: Mutex::new(None),
            checklist: Mutex::new(None),
        }
    }

    /// Reads the chart's last hour before the monitor's own counts once, on a thread of its own,
    /// then asks the UI to refresh. Called after an overview was answered, so that this read (the
    /// one whose cost grows with traffic) never competes with the first dashboard.
    pub fn seed_after_first_overview<R: Runtime>(&self, app: &AppHandle<R>) {
        let Some((desk, pulse)) = lock(&self.seed).take() else { return };
        let app = app.clone();
        std::thread::spawn(move || {
            desk.seed_pulse(&pulse, warden::time::now());
            events::changed(&app);
        });
    }

    /// The running monitor's per-minute counters, if it runs.
    pub fn pulse(&self) -> Option<SharedPulse> {
        lock(&self.pulse).clone()
    }

    /// The latest server checklist the monitor ran, if it runs.
    pub fn cached_checklist(&self) -> Option<warden::check::Report> {
        let shared = lock(&self.checklist).clone()?;
        let report = lock(&shared).clone();
        report
    }

    /// Remembers a checklist run on the trader's request, so the overview counts the same.
    pub fn remember_checklist(&self, report: &warden::check::Report) {
        if let Some(shared) = lock(&self.checklist).clone() {
            *lock(&shared) = Some(report.clone());
        }
    }

    /// Records whether the tray icon exists (closing the window then hides it).
    pub fn set_tray(&self, on: bool) {
        self.tray.store(on, Ordering::Relaxed);
    }

    /// Whether the tray icon exists.
    pub fn has_tray(&self) -> bool {
        self.tray.load(Ordering::Relaxed)
    }

    /// Whether this is the first time the window was hidden to the tray on this machine: a marker
    /// file beside the state database remembers it across starts (an unwritable folder only means
    /// the hint is shown again).
    pub fn first_hide(&self) -> bool {
        let state_db = self.desk().paths.state_db;
        let marker = state_db.with_file_name(".warden-closed-to-tray");
        if marker.exists() {
            return false;
        }
        let _ = warden::store::private::write_private(&marker, b"the window was closed to the tray once\n");
        true
    }

    /// Whether the monitor is running.
    pub fn monitor_running(&self) -> bool {
        lock(&self.monitor).is_some()
    }

    /// A copy of the configuration in force.
    pub fn desk(&self) -> Desk {
        lock(&self.desk).clone()
    }

    /// Runs `f` on the blocking pool with a copy of the desk and the current time.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Desk, Timestamp) -> DeskResult<T> + Send + 'static,
    ) -> DeskResult<T> {
        let desk = self.desk();
        tauri::async_runtime::spawn_blocking(move || f(&desk, warden::time::now())).await.map_err(failed)?
    }

    /// Starts the monitor (and the demo's simulator). A monitor that cannot start is reported as
    /// a failing source; the window still opens so the trader can fix the settings.
    pub fn start<R: Runtime>(&self, app: &AppHandle<R>) {
        self.restart_monitor(app);
        if let Some(ws) = &self.demo {
            let sink = events::error_sink(app.clone());
            match Simulator::start(ws, 1.0, sink) {
                Ok(sim) => *lock(&self.simulator) = Some(sim),
                Err(e) => events::report_failure(app, "demo simulator", &e.to_string()),
            }
        }
    }

    fn restart_monitor<R: Runtime>(&self, app: &AppHandle<R>) {
        // One restart at a time (the start runs on a thread of its own): two monitors must never
        // write one state file.
        let _one = lock(&self.restarting);
        let desk = self.desk();
        // Stop the old monitor first: two monitors must never write one state file.
        drop(lock(&self.monitor).take());
        *lock(&self.pulse) = None;
        *lock(&self.checklist) = None;
        let started = Monitor::open(&desk.cfg, &desk.paths).and_then(|mut m| {
            let pulse = m.share_pulse();
            let checklist =
                m.watch_checklist(warden::check::recheck::Rechecker::new(desk.check_where(), warden::time::now()));
            m.spawn_with_rounds(
                events::notice_sink(app.clone(), self.alerts.clone()),
                events::round_sink(app.clone(), self.alerts.clone()),
            )
            .map(|handle| (handle, pulse, checklist))
        });
        match started {
            Ok((handle, pulse, checklist)) => {
                *lock(&self.monitor) = Some(handle);
                *lock(&self.pulse) = Some(pulse.clone());
                *lock(&self.checklist) = Some(checklist);
                // The chart's last hour before the monitor's own counts is read once, after the
                // first overview was answered (see `seed_after_first_overview`).
                *lock(&self.seed) = Some((desk, pulse));
            }
            Err(e) => events::report_failure(app, "monitor", &e.to_string()),
        }
    }

    /// Checks and saves the settings, then restarts the monitor on them.
    pub async fn save_settings<R: Runtime>(&self, app: &AppHandle<R>, form: SettingsForm) -> DeskResult<SettingsForm> {
        let next = self.call(move |d, _| d.save_settings(&form)).await?;
        lock(&self.alerts).set_notify(next.cfg.notify);
        let form = next.settings();
        *lock(&self.desk) = next;
        let app = app.clone();
        // Restarting joins the monitor's thread: do it off the async runtime.
        tauri::async_runtime::spawn_blocking(move || {
            use tauri::Manager;
            app.state::<Shell>().restart_monitor(&app);
        })
        .await
        .map_err(failed)?;
        Ok(form)
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        // Stop writing before the monitor stops reading.
        drop(lock(&self.simulator).take());
        drop(lock(&self.monitor).take());
    }
}
