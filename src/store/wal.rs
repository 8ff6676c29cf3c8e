//! WAL checkpoints on a thread of their own, so that the thread that reads the logs never waits
//! for the disk.
//!
//! In WAL mode SQLite copies the log back into the database (a checkpoint) from inside whichever
//! commit crosses 1 000 pages, and a checkpoint syncs both files. On a busy disk one sync can
//! take over a second (measured: 1.1 s with a bulk write beside Warden), and the monitor's
//! thread would stand still for it while a storm of rotations deletes files it has not read.
//! Here the committing connection turns its automatic checkpoints off, and a [`WalCheckpointer`]
//! runs passive checkpoints beside it: they copy what no reader still needs and never block a
//! writer.
//!
//! A passive checkpoint alone does not keep the log small. SQLite starts the log over only when
//! a write begins with every frame copied back, and a monitor that saves every few milliseconds
//! always has a save under way when a checkpoint ends (measured: 2.3 GB of log in 80 s of the
//! rotation storm). So once the log passes [`RESTART_AT`], the checkpointer waits for the save
//! under way, if any, and has the writer skip its saves ([`WalCheckpointer::try_save`]) while it
//! copies the last frames; the next save then starts the log over. The writer (the saving
//! thread of [`super::saver`]) never waits for that: it tries again a few milliseconds later,
//! with whatever came in meanwhile merged in. A writer that saves back to back is told to step
//! aside while the checkpointer waits for the gate, so it cannot keep taking the gate first.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// The log size past which the checkpointer has the writer hold its saves for a moment, so that
/// the log starts over.
pub const RESTART_AT: u64 = 64 << 20;

/// A thread that checkpoints one database's WAL every so often, until dropped.
#[derive(Debug)]
pub struct WalCheckpointer {
    stop: Arc<AtomicBool>,
    /// Held by a save, or by the checkpointer while it brings the log back to its start.
    gate: Arc<Mutex<()>>,
    /// Set while the checkpointer waits for the gate, so a writer that saves back to back
    /// steps aside instead of taking the gate again at once.
    wanted: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    /// Starts checkpointing the WAL of the database at `path` every `every`, and bringing the log
    /// back to its start once it is larger than `restart_at` bytes. The caller turns off the
    /// automatic checkpoints of its own connection (`PRAGMA wal_autocheckpoint=0`) and makes its
    /// saves through [`WalCheckpointer::try_save`]. With `restart_at` at `u64::MAX` it only ever
    /// runs passive checkpoints, which never block a writer: for a database other programs write
    /// too (OpenAlgo's `logs.db`).
    pub fn start(path: &Path, every: Duration, restart_at: u64) -> Result<Self> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| Error::sqlite(path, format!("opening {} to checkpoint it", path.display()), e))?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(|e| Error::sqlite(path, "setting busy_timeout", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let gate = Arc::new(Mutex::new(()));
        let wanted = Arc::new(AtomicBool::new(false));
        let (flag, held, want) = (Arc::clone(&stop), Arc::clone(&gate), Arc::clone(&wanted));
        let wal = wal_path(path);
        let thread = std::thread::Builder::new()
            .name("warden-wal".into())
            .spawn(move || {
                // A failed checkpoint (the disk is full, a reader holds the log) is tried again
                // next time; the log only grows meanwhile, and commits go on.
                let passive = || conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(every);
                    // The bulk of the copying, beside the writer.
                    let _ = passive();
                    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > restart_at) {
                        // The few frames written meanwhile, after the save under way and with
                        // the next ones skipped.
                        want.store(true, Ordering::Release);
                        let gate = held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        want.store(false, Ordering::Release);
                        let _ = passive();
                        drop(gate);
                    }
                }
            })
            .map_err(|e| Error::io("starting the checkpoint thread", e))?;
        Ok(Self { stop, gate, wanted, thread: Some(thread) })
    }

    /// Runs the save `f`, unless the checkpointer is bringing the log back to its start: then
    /// `None`, at once, and what `f` would have saved goes with the next save.
    pub fn try_save<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        if self.wanted.load(Ordering::Acquire) {
            return None;
        }
        let _gate = match self.gate.try_lock() {
            Ok(gate) => gate,
            Err(TryLockError::Poisoned(gate)) => gate.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(f())
    }

    /// Runs the save `f`, waiting for the checkpointer if it is bringing the log back to its
    /// start: for the last save before a stop, which has no next one to go with.
    pub fn save<T>(&self, f: impl FnOnce() -> T) -> T {
        let _gate = self.gate.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f()
    }
}

/// The WAL file of the database at `path`.
fn wal_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    std::path::PathBuf::from(name)
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use crate::engine::WindowRecord;
    use crate::event::Rule;
    use crate::store::StateDb;

    use super::*;

    #[test]
    fn commits_leave_copying_the_log_back_to_the_checkpointer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let mut state = StateDb::open(&path).expect("open");
        // An hour between checkpoints: none runs during the commits, only the last one at drop.
        let wal = state.checkpoint_wal_in_background(Duration::from_secs(3600)).expect("start");
        let db_len = || std::fs::metadata(&path).expect("stat").len();
        let before = db_len();
        let at = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("time");
        // Far past the 1 000 pages at which a commit would copy the log back itself.
        for i in 0..3000u32 {
            let ip = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            let w = WindowRecord { count: i, first_at: at, last_at: at, items: vec!["/.env".repeat(100)] };
            state
                .checkpoint(&[("access:/var/log/nginx/access.log", "{}")], [(ip, Rule::NotFound, Some(&w))])
                .expect("save");
        }
        assert_eq!(db_len(), before, "a commit copied the log back into the database itself");
        drop(wal);
        assert!(db_len() > before, "the checkpointer did not copy the log back");
        let reopened = StateDb::open(&path).expect("reopen");
        assert_eq!(reopened.windows().expect("windows").len(), 3000);
    }

    #[test]
    fn a_save_is_skipped_at_once_while_the_checkpointer_holds_the_gate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let _state = StateDb::open(&path).expect("open");
        let wal = WalCheckpointer::start(&path, Duration::from_secs(3600), RESTART_AT).expect("start");
        let gate = wal.gate.lock().expect("gate");
        assert_eq!(wal.try_save(|| 1), None, "a save while the log is brought back to its start");
        drop(gate);
        assert_eq!(wal.try_save(|| 1), Some(1));
    }

    /// How many times the log has started over: the checkpoint sequence number in its header.
    fn restarts(path: &Path) -> u32 {
        let head = std::fs::read(wal_path(path)).expect("read the log");
        u32::from_be_bytes([head[12], head[13], head[14], head[15]])
    }

    #[test]
    fn a_writer_that_never_pauses_still_gets_its_log_started_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let mut state = StateDb::open(&path).expect("open");
        let _idle = state.checkpoint_wal_in_background(Duration::from_secs(3600)).expect("start");
        let wal = WalCheckpointer::start(&path, Duration::from_millis(5), 256 << 10).expect("start");
        let at = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("time");
        // Saves back to back, as the monitor makes them in a storm. A passive checkpoint then
        // always ends with a save under way, and SQLite starts the log over only when a write
        // begins with every frame copied back: without the gate, the log only grows.
        let (mut saved, mut i, since) = (0, 0u32, std::time::Instant::now());
        while saved < 3000 && since.elapsed() < Duration::from_secs(60) {
            i += 1;
            let rows: Vec<_> = (0..8u32)
                .map(|k| {
                    let n = i.wrapping_mul(7919).wrapping_add(k * 104_729) % 50_000;
                    let ip = IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
                    let w = WindowRecord { count: i, first_at: at, last_at: at, items: vec!["/.env".repeat(40)] };
                    (ip, Rule::NotFound, Some(w))
                })
                .collect();
            let save = || {
                state
                    .checkpoint(
                        &[("access:/var/log/nginx/access.log", "{}")],
                        rows.iter().map(|(ip, r, w)| (*ip, *r, w.as_ref())),
                    )
                    .expect("save")
            };
            match wal.try_save(save) {
                Some(()) => saved += 1,
                None => std::thread::sleep(Duration::from_micros(100)),
            }
        }
        assert_eq!(saved, 3000, "saves went through");
        assert!(restarts(&path) >= 3, "the log started over {} times", restarts(&path));
    }
}
