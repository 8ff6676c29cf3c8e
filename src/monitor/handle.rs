//! A handle that owns the monitor's thread: dropping it stops the thread and waits for it.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Monitor, Notice};
use crate::source::openalgo::Health;
use crate::watch::{DirWatcher, Wake};

/// How long after the last wake-up of a burst the monitor looks once more. A commit to `logs.db`
/// writes its last frame to the `-wal` (the notification) a moment before it makes the commit
/// visible in the `-shm` index, which is written through memory and sends no notification; a
/// round that runs in between sees nothing new, and no later event would say so if the writer
/// stays quiet and keeps its connection open.
const FOLLOW_UP: Duration = Duration::from_millis(50);

/// What the watched files resolve to (symlinks followed), and which of their directories exist.
fn resolve(files: &[std::path::PathBuf]) -> Vec<(Option<std::path::PathBuf>, bool)> {
    files
        .iter()
        .map(|f| (std::fs::canonicalize(f).ok(), f.parent().is_some_and(|d| d.as_os_str().is_empty() || d.exists())))
        .collect()
}

/// Owns a running monitor. Drop it (or call [`MonitorHandle::stop`]) to stop.
#[derive(Debug)]
pub struct MonitorHandle {
    tx: Sender<Wake>,
    thread: Option<JoinHandle<()>>,
}

impl MonitorHandle {
    pub(super) fn spawn(
        mut monitor: Monitor,
        mut on_notice: impl FnMut(Notice) + Send + 'static,
        mut on_round: impl FnMut(bool) + Send + 'static,
    ) -> crate::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let watcher_tx = tx.clone();
        let thread = std::thread::Builder::new()
            .name("warden-monitor".into())
            .spawn(move || {
                let files = monitor.watched_files();
                // NOTE: the watcher lives on this thread so that it stops with the loop. It is
                // rebuilt when what the files resolve to changes: a symlinked log retargeted, or a
                // directory that did not exist at start created since.
                let mut layout = resolve(&files);
                let mut watcher = match DirWatcher::new(&files, watcher_tx.clone()) {
                    Ok(w) => Some(w),
                    Err(e) => {
                        on_notice(Notice::Source {
                            name: "notifications".into(),
                            path: String::new(),
                            health: Health::Failing(format!("{e}; polling every {} s instead", monitor.poll_seconds())),
                        });
                        None
                    }
                };
                let poll = Duration::from_secs(monitor.poll_seconds());
                // A second look shortly after the last wake-up of a burst (see FOLLOW_UP).
                let mut follow_up = false;
                loop {
                    // A few stat calls per wake-up; a retarget itself wakes the loop, because the
                    // link's directory is watched.
                    let now_layout = resolve(&files);
                    if now_layout != layout {
                        layout = now_layout;
                        watcher = DirWatcher::new(&files, watcher_tx.clone()).ok().or(watcher);
                    }
                    for notice in monitor.tick(crate::time::now()) {
                        on_notice(notice);
                    }
                    // The UI refreshes after a round that found something new, whatever woke it.
                    on_round(monitor.changed());
                    // Wake on the first change, at a held-back scan's time, or at the poll,
                    // whichever comes first; then drain the burst of events a single SQLite
                    // commit produces.
                    let due = monitor
                        .due()
                        .map(|at| (at - crate::time::now()).to_std().unwrap_or(Duration::ZERO))
                        .filter(|d| *d < poll);
                    let wait = match (due, follow_up) {
                        (Some(d), true) => d.min(FOLLOW_UP),
                        (None, true) => FOLLOW_UP,
                        (d, false) => d.unwrap_or(poll),
                    };
                    match rx.recv_timeout(wait) {
                        Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                        Ok(Wake::Changed) => follow_up = true,
                        Err(RecvTimeoutError::Timeout) => follow_up = false,
                    }
                    while let Ok(w) = rx.try_recv() {
                        if w == Wake::Stop {
                            return;
                        }
                    }
                }
            })
            .map_err(|e| crate::Error::io("starting the monitor thread", e))?;
        Ok(Self { tx, thread: Some(thread) })
    }

    /// Stops the monitor and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Lets the monitor run for `limit` (or for ever), then stops it. Returns an error if the
    /// monitor's thread ends by itself before that, so a service manager sees a failure instead
    /// of a process that silently does nothing.
    pub fn run_for(mut self, limit: Option<Duration>) -> crate::Result<()> {
        let start = std::time::Instant::now();
        loop {
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                let why = match self.thread.take().map(JoinHandle::join) {
                    Some(Err(panic)) => panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "a panic".into()),
                    _ => "its thread ended".into(),
                };
                return Err(crate::Error::MonitorStopped(why));
            }
            if limit.is_some_and(|l| start.elapsed() >= l) {
                self.shutdown();
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn shutdown(&mut self) {
        let _ = self.tx.send(Wake::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
