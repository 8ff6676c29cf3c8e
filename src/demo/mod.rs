//! The demo workspace: a throw-away `logs.db` that a simulated OpenAlgo writes into, live.
//!
//! `warden demo` lets a newcomer without OpenAlgo watch Warden detect, warn and ban within a
//! minute. The simulator writes what an OpenAlgo with auto-ban off would write (traffic rows and
//! tracker updates from ordinary users, scanners and key-sprayers), through
//! [`openalgo::OpenAlgoEmulator`], into a real SQLite file in OpenAlgo's exact schema; the
//! monitor reads it exactly as it reads a real one.

pub mod openalgo;
mod scenario;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{params, Connection};

pub use scenario::{actions_at, Action, TICK};

use crate::config::{Config, Paths};
use crate::error::{Error, Result};
use crate::store::logs_db::create_openalgo_schema;
use crate::store::private::create_private_dir;

/// The files of a demo workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The directory holding everything.
    pub dir: PathBuf,
    /// Its `logs.db`.
    pub logs_db: PathBuf,
    /// Its `openalgo.db` with a settings row (auto-ban off, 20/24 h, 10/48 h, 3).
    pub openalgo_db: PathBuf,
    /// Warden's state for the demo (kept apart from the real one).
    pub state_db: PathBuf,
    /// The nginx access log (combined format) the simulator writes.
    pub access_log: PathBuf,
}

impl Workspace {
    /// Creates a fresh workspace in `dir` (0700), or in a new directory under the system's
    /// temporary directory.
    pub fn create(dir: Option<&Path>) -> Result<Self> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => std::env::temp_dir().join(format!(
                "warden-demo-{}-{}",
                std::process::id(),
                chrono::Utc::now().timestamp()
            )),
        };
        create_private_dir(&dir)?;
        let ws = Self {
            logs_db: dir.join("logs.db"),
            openalgo_db: dir.join("openalgo.db"),
            state_db: dir.join("warden-state.db"),
            access_log: dir.join("access.log"),
            dir,
        };
        if !ws.logs_db.exists() {
            create_openalgo_schema(&ws.logs_db)?;
        }
        if !ws.openalgo_db.exists() {
            create_settings(&ws.openalgo_db)?;
        }
        Ok(ws)
    }

    /// The paths to run a monitor on this workspace.
    pub fn paths(&self) -> Paths {
        Paths {
            logs_db: self.logs_db.clone(),
            openalgo_db: Some(self.openalgo_db.clone()),
            state_db: self.state_db.clone(),
            access_logs: vec![(self.access_log.clone(), "combined".into())],
        }
    }

    /// The demo's configuration: Warden's defaults, polling every 2 s as a fallback.
    pub fn config(&self) -> Config {
        Config { poll_seconds: 2, ..Config::default() }
    }
}

/// The `settings` table of openalgo.db with one row as an older OpenAlgo install has it.
fn create_settings(path: &Path) -> Result<()> {
    let err = |e| Error::sqlite(path, "creating the demo openalgo.db", e);
    let conn = Connection::open(path).map_err(err)?;
    conn.execute_batch(
        "CREATE TABLE settings (
            id INTEGER NOT NULL, analyze_mode BOOLEAN, smtp_server VARCHAR(255), smtp_port INTEGER,
            smtp_username VARCHAR(255), smtp_password_encrypted TEXT, smtp_use_tls BOOLEAN,
            smtp_from_email VARCHAR(255), smtp_helo_hostname VARCHAR(255),
            security_auto_ban_enabled BOOLEAN, security_404_threshold INTEGER,
            security_404_ban_duration INTEGER, security_api_threshold INTEGER,
            security_api_ban_duration INTEGER, security_repeat_offender_limit INTEGER,
            PRIMARY KEY (id))",
    )
    .map_err(err)?;
    conn.execute(
        "INSERT INTO settings (id, analyze_mode, smtp_use_tls, security_auto_ban_enabled, security_404_threshold, \
         security_404_ban_duration, security_api_threshold, security_api_ban_duration, security_repeat_offender_limit) \
         VALUES (1, 0, 1, ?1, 20, 24, 10, 48, 3)",
        params![false],
    )
    .map_err(err)?;
    Ok(())
}

/// The running simulator; dropping it stops it.
#[derive(Debug)]
pub struct Simulator {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Starts writing the scenario into `logs_db`, `speed` times faster than real time.
    /// Errors (a locked file, say) are passed to `on_error` and the simulator carries on.
    pub fn start(ws: &Workspace, speed: f64, mut on_error: impl FnMut(Error) + Send + 'static) -> Result<Self> {
        let mut emu = openalgo::OpenAlgoEmulator::open(&ws.logs_db)?;
        let mut access = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ws.access_log)
            .map_err(|e| Error::io(format!("creating {}", ws.access_log.display()), e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let pause = Duration::from_secs_f64(TICK.as_secs_f64() / speed.clamp(0.1, 1000.0));
        let thread = std::thread::Builder::new()
            .name("warden-demo-sim".into())
            .spawn(move || {
                let mut tick = 0u64;
                while !flag.load(Ordering::Relaxed) {
                    let now = crate::time::now();
                    for action in actions_at(tick) {
                        if let Err(e) = action.apply(&mut emu, &mut access, now) {
                            on_error(e);
                        }
                    }
                    tick += 1;
                    std::thread::sleep(pause);
                }
            })
            .map_err(|e| Error::io("starting the demo simulator", e))?;
        Ok(Self { stop, thread: Some(thread) })
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
