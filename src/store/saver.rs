//! Saving access-log positions and the counters they produced on a thread of their own, so that
//! the thread that reads the logs never waits for the disk.
//!
//! The monitor saves after every round: each log's position, with every counter that changed,
//! in one transaction. On a busy disk one such commit took up to 0.80 s (measured in the rotation
//! storm with a bulk writer and a CPU-bound loop beside Warden), and while the reading thread
//! stood in it, a storm of rotations went on deleting files it had not read (20 rotations there
//! can come in 0.5 s). Here the reading
//! thread only hands its batch over ([`Saver::submit`]) and goes back to reading.
//!
//! Batches wait in one slot, merged: a later position of a log replaces an earlier one, and a
//! later copy of a counter replaces an earlier one. A commit therefore always holds a position
//! with every counter change made up to it, which is what a restart needs to neither lose nor
//! double-count a line. A commit that fails (or is held back while the log is brought back to
//! its start, see [`WalCheckpointer`]) puts its batch back under anything newer and is tried
//! again; the failure is reported through [`Saver::take_failure`].

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::state::StateDb;
use super::wal::WalCheckpointer;
use crate::engine::WindowRecord;
use crate::error::{Error, Result};
use crate::event::Rule;

/// How long a failed save waits before it is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(250);

/// How long a save held back by the checkpointer waits before it is tried again.
const RETRY_AFTER_GATE: Duration = Duration::from_millis(5);

/// What waits to be saved, merged.
#[derive(Debug, Default)]
struct Slot {
    /// Position per source key.
    cursors: BTreeMap<String, String>,
    /// The latest copy of each changed counter (`None`: the counter is gone).
    windows: HashMap<(IpAddr, Rule), Option<WindowRecord>>,
    /// A save is under way (its batch is out of the slot).
    saving: bool,
    /// The last failure, until taken.
    failure: Option<Error>,
    /// Failed saves so far (a waiting [`Saver::flush`] returns on a new one).
    failures: u64,
    stop: bool,
}

impl Slot {
    fn is_empty(&self) -> bool {
        self.cursors.is_empty() && self.windows.is_empty()
    }

    /// Puts a batch that could not be saved back, under anything submitted since.
    fn put_back(&mut self, cursors: BTreeMap<String, String>, windows: HashMap<(IpAddr, Rule), Option<WindowRecord>>) {
        for (k, v) in cursors {
            self.cursors.entry(k).or_insert(v);
        }
        for (k, v) in windows {
            self.windows.entry(k).or_insert(v);
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    slot: Mutex<Slot>,
    /// Signalled when a batch comes, a save ends, or the saver is asked to stop.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Saves positions and counters on its own thread until dropped; dropping it saves what is left.
#[derive(Debug)]
pub struct Saver {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Saver {
    /// Opens its own connection to Warden's state at `path` and starts saving there, with the
    /// WAL checkpointed every `checkpoint_every` (see [`WalCheckpointer`]).
    pub fn start(path: &Path, checkpoint_every: Duration) -> Result<Self> {
        let mut state = StateDb::open(path)?;
        let wal = state.checkpoint_wal_in_background(checkpoint_every)?;
        let shared = Arc::new(Shared::default());
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("warden-save".into())
            .spawn(move || run(&theirs, &mut state, &wal))
            .map_err(|e| Error::io("starting the saving thread", e))?;
        Ok(Self { shared, thread: Some(thread) })
    }

    /// Hands over the position `cursor` of the source `key` with the counters that changed up
    /// to it. Returns at once; the save follows on the saving thread.
    pub fn submit(&self, key: &str, cursor: String, windows: Vec<(IpAddr, Rule, Option<WindowRecord>)>) {
        let mut slot = self.shared.lock();
        slot.cursors.insert(key.to_string(), cursor);
        for (ip, rule, w) in windows {
            slot.windows.insert((ip, rule), w);
        }
        drop(slot);
        self.shared.changed.notify_all();
    }

    /// The last save failure since the previous call, if any (the batch is kept and tried again).
    pub fn take_failure(&self) -> Option<Error> {
        self.shared.lock().failure.take()
    }

    /// Waits until everything submitted so far is saved, or a save fails (its error is returned,
    /// and also left for [`Saver::take_failure`]).
    pub fn flush(&self) -> Result<()> {
        let mut slot = self.shared.lock();
        let failures = slot.failures;
        loop {
            if slot.failures != failures {
                let e = slot.failure.as_ref().map_or_else(|| "a save failed".to_string(), ToString::to_string);
                return Err(Error::io("saving Warden's state", std::io::Error::other(e)));
            }
            if slot.is_empty() && !slot.saving {
                return Ok(());
            }
            slot = self.shared.changed.wait(slot).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The saving thread: takes the merged batch, commits it, and on failure puts it back and waits
/// a moment (new batches are merged in meanwhile, not each tried at once against a failing disk).
fn run(shared: &Shared, state: &mut StateDb, wal: &WalCheckpointer) {
    let mut not_before: Option<Instant> = None;
    let mut slot = shared.lock();
    loop {
        while !slot.stop {
            match not_before.and_then(|t| t.checked_duration_since(Instant::now())).filter(|d| !d.is_zero()) {
                Some(left) => slot = shared.changed.wait_timeout(slot, left).unwrap_or_else(PoisonError::into_inner).0,
                None if slot.is_empty() => slot = shared.changed.wait(slot).unwrap_or_else(PoisonError::into_inner),
                None => break,
            }
        }
        if slot.is_empty() {
            return;
        }
        let stopping = slot.stop;
        let cursors = std::mem::take(&mut slot.cursors);
        let windows = std::mem::take(&mut slot.windows);
        slot.saving = true;
        drop(slot);
        let save = |state: &mut StateDb| {
            let cursors: Vec<(&str, &str)> = cursors.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            state.checkpoint(&cursors, windows.iter().map(|(&(ip, rule), w)| (ip, rule, w.as_ref())))
        };
        // The last save, at a stop, waits for the checkpointer rather than being skipped.
        let result = if stopping { Some(wal.save(|| save(state))) } else { wal.try_save(|| save(state)) };
        slot = shared.lock();
        slot.saving = false;
        not_before = match result {
            Some(Ok(())) => None,
            Some(Err(e)) => {
                slot.put_back(cursors, windows);
                slot.failure = Some(e);
                slot.failures += 1;
                Some(Instant::now() + RETRY_AFTER_FAILURE)
            }
            None => {
                slot.put_back(cursors, windows);
                Some(Instant::now() + RETRY_AFTER_GATE)
            }
        };
        shared.changed.notify_all();
        if stopping && not_before.is_some() {
            // Stopping with a disk that refuses the save: what was not saved is read again
            // after the restart, from the last saved position.
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::OptionalExtension;

    use super::*;

    fn window(count: u32) -> Option<WindowRecord> {
        let at = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("time");
        Some(WindowRecord { count, first_at: at, last_at: at, items: vec![] })
    }

    /// What a reader sees in the file (read-only, so it needs no lock).
    fn saved(path: &Path) -> (Vec<(IpAddr, Rule, u32)>, Option<String>) {
        let conn =
            rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
        let mut stmt = conn.prepare("SELECT ip, rule, window FROM windows ORDER BY ip, rule").expect("prepare");
        let windows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
            .expect("query")
            .map(|r| {
                let (ip, rule, w) = r.expect("row");
                let w: WindowRecord = serde_json::from_str(&w).expect("window");
                let rule =
                    [Rule::NotFound, Rule::InvalidApiKey].into_iter().find(|r| r.as_str() == rule).expect("rule");
                (ip.parse().expect("ip"), rule, w.count)
            })
            .collect();
        let cursor = conn
            .query_row("SELECT value FROM cursors WHERE source = 'access:a'", [], |r| r.get(0))
            .optional()
            .expect("cursor");
        (windows, cursor)
    }

    #[test]
    fn batches_wait_merged_while_the_disk_is_held_and_the_newest_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let saver = Saver::start(&path, Duration::from_secs(1)).expect("start");
        let (a, b): (IpAddr, IpAddr) = ("203.0.113.1".parse().expect("ip"), "203.0.113.2".parse().expect("ip"));
        saver.submit("access:a", "1".into(), vec![(b, Rule::NotFound, window(5))]);
        saver.flush().expect("first save");
        // Another writer holds the database: nothing can be saved until it lets go, and the
        // submissions must not wait for it (a save on the caller's thread would wait out the
        // busy timeout and fail).
        let blocker = rusqlite::Connection::open(&path).expect("open");
        blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
        saver.submit("access:a", "2".into(), vec![(a, Rule::NotFound, window(1))]);
        saver.submit("access:a", "3".into(), vec![(a, Rule::NotFound, window(2)), (b, Rule::NotFound, None)]);
        saver.submit("access:a", "4".into(), vec![(a, Rule::NotFound, window(3))]);
        assert_eq!(saved(&path), (vec![(b, Rule::NotFound, 5)], Some("1".into())), "saved while held");
        blocker.execute_batch("COMMIT").expect("unlock");
        saver.flush().expect("saved once let go");
        assert!(saver.take_failure().is_none());
        assert_eq!(saved(&path), (vec![(a, Rule::NotFound, 3)], Some("4".into())));
    }

    #[test]
    fn a_failed_save_is_reported_kept_and_tried_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let saver = Saver::start(&path, Duration::from_secs(1)).expect("start");
        let a: IpAddr = "2001:db8::7".parse().expect("ip");
        let other = rusqlite::Connection::open(&path).expect("open");
        other.execute_batch("ALTER TABLE windows RENAME TO windows_away").expect("hide the table");
        saver.submit("access:a", "1".into(), vec![(a, Rule::InvalidApiKey, window(4))]);
        let err = saver.flush().expect_err("the table is gone");
        assert!(err.to_string().contains("windows"), "{err}");
        assert!(saver.take_failure().is_some(), "the failure is reported");
        other.execute_batch("ALTER TABLE windows_away RENAME TO windows").expect("bring it back");
        // No new submission: the kept batch is tried again by itself. (A retry that began
        // before the table came back may still fail once.)
        let retried = (0..3).any(|_| saver.flush().is_ok());
        assert!(retried, "never saved on a retry");
        assert_eq!(saved(&path), (vec![(a, Rule::InvalidApiKey, 4)], Some("1".into())));
    }

    #[test]
    fn while_saves_fail_new_batches_wait_for_the_retry_instead_of_each_being_tried() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let saver = Saver::start(&path, Duration::from_secs(1)).expect("start");
        let other = rusqlite::Connection::open(&path).expect("open");
        other.execute_batch("ALTER TABLE windows RENAME TO windows_away").expect("hide the table");
        let a: IpAddr = "203.0.113.50".parse().expect("ip");
        for i in 0..50u32 {
            saver.submit("access:a", i.to_string(), vec![(a, Rule::NotFound, window(i))]);
            std::thread::sleep(Duration::from_millis(1));
        }
        let failures = saver.shared.lock().failures;
        // One failure, perhaps a retry or two on a slow machine; not one per batch.
        assert!((1..=3).contains(&failures), "{failures} failed saves for 50 batches");
        other.execute_batch("ALTER TABLE windows_away RENAME TO windows").expect("bring it back");
        assert!((0..3).any(|_| saver.flush().is_ok()), "never saved on a retry");
        assert_eq!(saved(&path), (vec![(a, Rule::NotFound, 49)], Some("49".into())), "the newest of the batches");
    }

    #[test]
    fn what_is_left_is_saved_when_the_saver_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.db");
        let saver = Saver::start(&path, Duration::from_secs(3600)).expect("start");
        let blocker = rusqlite::Connection::open(&path).expect("open");
        blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
        let a: IpAddr = "198.51.100.9".parse().expect("ip");
        saver.submit("access:a", "9".into(), vec![(a, Rule::NotFound, window(9))]);
        let unlock = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            blocker.execute_batch("COMMIT").expect("unlock");
        });
        drop(saver);
        unlock.join().expect("join");
        assert_eq!(saved(&path), (vec![(a, Rule::NotFound, 9)], Some("9".into())));
    }
}
