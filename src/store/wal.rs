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

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// A thread that checkpoints one database's WAL every so often, until dropped.
#[derive(Debug)]
pub struct WalCheckpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    /// Starts checkpointing the WAL of the database at `path` every `every`. The caller turns
    /// off the automatic checkpoints of its own connection (`PRAGMA wal_autocheckpoint=0`).
    pub fn start(path: &Path, every: Duration) -> Result<Self> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| Error::sqlite(path, format!("opening {} to checkpoint it", path.display()), e))?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(|e| Error::sqlite(path, "setting busy_timeout", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("warden-wal".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(every);
                    // A failed checkpoint (the disk is full, a reader holds the log) is tried
                    // again next time; the log only grows meanwhile, and commits go on.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|e| Error::io("starting the checkpoint thread", e))?;
        Ok(Self { stop, thread: Some(thread) })
    }
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
            state.checkpoint("access:/var/log/nginx/access.log", "{}", &[(ip, Rule::NotFound, Some(w))]).expect("save");
        }
        assert_eq!(db_len(), before, "a commit copied the log back into the database itself");
        drop(wal);
        assert!(db_len() > before, "the checkpointer did not copy the log back");
        let reopened = StateDb::open(&path).expect("reopen");
        assert_eq!(reopened.windows().expect("windows").len(), 3000);
    }
}
