//! The incremental reader of OpenAlgo's `logs.db`.
//!
//! Each poll first asks SQLite's `data_version` whether anybody committed since the last look; if
//! not, it reads nothing. Otherwise it reads `traffic_logs` past an id cursor, and scans the
//! tables OpenAlgo changes in place: it fingerprints `ip_bans` and reads it whole only when the
//! fingerprint changed (OpenAlgo updates ban rows in place, so no id or count would tell), and
//! walks the two trackers but decodes only the rows whose signature changed. OpenAlgo commits at
//! every request, and most commits touch only a tracker row or `traffic_logs`: decoding every ban
//! and tracker row at each of them cost Warden most of its CPU under load.
//!
//! That scan still walks every row, and the tables grow: every scanner leaves a tracker row, and
//! permanent bans stay. So once they hold more than [`SCAN_FREE_ROWS`] rows, scans are spaced
//! [`SCAN_SPACING_PER_ROW`] per row apart (10 000 rows: 0.1 s), which bounds their share of a
//! core to a few percent at any commit rate. A commit inside the spacing marks the tables stale,
//! and [`OpenAlgoSource::due`] says when the monitor must poll again even if nothing else wakes
//! it. Between full scans, every commit still reads the tracker rows whose count could ban or
//! warn ([`OpenAlgoSource::read_hot_from`]) through OpenAlgo's index on the count, so the
//! spacing delays only what cannot ban: low counts, and OpenAlgo's own changes to `ip_bans`.
//! Traffic is read at every commit, and the access logs' verdicts never wait for any of this.
//!
//! The file may be missing, locked or schema-less at any moment: the reader then reports a
//! [`Health`] and tries again on the next poll, never failing the monitor. A failed poll reopens
//! the file and forgets every fingerprint, so nothing read before the failure is taken as already
//! handed over.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::TrackerReading;
use crate::error::{Error, Result};
use crate::event::Tracker;
use crate::store::logs_db::{BanRow, LogsDb, TrackerHead, TrafficRow};
use crate::store::wal::WalCheckpointer;
use crate::time::Timestamp;

/// Most traffic rows read per poll, so one poll stays short even after a long pause.
pub const TRAFFIC_BATCH: usize = 5_000;

/// How often the reader's own checkpointer copies `logs.db`'s log back, for the commits Warden
/// makes there (its bans); OpenAlgo's connections checkpoint theirs at every commit past 1 000
/// pages, as always.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Up to this many rows in `ip_bans` and the trackers together, they are scanned at every
/// commit: such a scan costs well under a millisecond.
pub const SCAN_FREE_ROWS: usize = 500;

/// Past [`SCAN_FREE_ROWS`], the least time between two scans, per row scanned. A scan costs
/// about half a microsecond a row on this project's 2-core test machine, so this keeps scanning
/// near 5 % of a core however fast OpenAlgo commits.
pub const SCAN_SPACING_PER_ROW: chrono::Duration = chrono::Duration::microseconds(10);

/// The state of a source, for the UI and the `watch` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "snake_case")]
pub enum Health {
    /// Read successfully.
    Ok,
    /// The file does not exist (yet).
    Missing(String),
    /// The file lacks OpenAlgo's tables.
    NoSchema(String),
    /// Another program holds a lock.
    Locked(String),
    /// Anything else, in words.
    Failing(String),
}

impl Health {
    /// The health an error means (missing, no schema, locked, or failing).
    pub fn from_error(e: &Error) -> Self {
        let msg = e.to_string();
        match e {
            Error::LogsDbMissing { .. } => Health::Missing(msg),
            Error::LogsDbNoSchema { .. } => Health::NoSchema(msg),
            Error::Locked { .. } => Health::Locked(msg),
            _ => Health::Failing(msg),
        }
    }
}

/// What changed in `logs.db` since the last poll.
#[derive(Debug, Default)]
pub struct Changes {
    /// All of `ip_bans`, when it changed since the last poll.
    pub bans: Option<Vec<BanRow>>,
    /// Tracker rows that are new or whose count or window changed.
    pub readings: Vec<TrackerReading>,
    /// Tracker rows OpenAlgo wrote with an unreadable window start (reported, not acted on).
    pub unreadable: Vec<TrackerHead>,
    /// New traffic rows, oldest first.
    pub traffic: Vec<TrafficRow>,
    /// Whether more traffic rows are waiting (poll again at once).
    pub more_traffic: bool,
}

/// Reads `logs.db` incrementally.
#[derive(Debug)]
pub struct OpenAlgoSource {
    path: PathBuf,
    db: Option<LogsDb>,
    /// Checkpoints `logs.db` off the monitor's thread while `db` is open (see
    /// [`LogsDb::leave_checkpoints_to_background`]).
    checkpointer: Option<WalCheckpointer>,
    version: Option<i64>,
    traffic_cursor: Option<i64>,
    /// The fingerprint of `ip_bans` when it was last read.
    bans_seen: Option<u64>,
    /// Per tracker, each row's signature when it was last read.
    seen: [HashMap<i64, u64>; 2],
    /// Whether a commit came after the last scan of `ip_bans` and the trackers.
    stale: bool,
    /// When they were last scanned, and how many rows they held.
    scanned: Option<(Timestamp, usize)>,
    /// Per tracker, the least count read at every commit even between full scans.
    hot: [Option<u32>; 2],
    health: Option<Health>,
}

impl OpenAlgoSource {
    /// A reader for `path`, resuming traffic after `traffic_cursor` (or at the end when `None`).
    pub fn new(path: &Path, traffic_cursor: Option<i64>) -> Self {
        Self {
            path: path.to_path_buf(),
            db: None,
            checkpointer: None,
            version: None,
            traffic_cursor,
            bans_seen: None,
            seen: Default::default(),
            stale: true,
            scanned: None,
            hot: [None; 2],
            health: None,
        }
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The traffic cursor to save.
    pub fn traffic_cursor(&self) -> Option<i64> {
        self.traffic_cursor
    }

    /// The open database, for writing bans on the same connection. What is written through it is
    /// Warden's own commit, which does not change this connection's `data_version`: `ip_bans` is
    /// read again at the next scan, so that its fingerprint holds the write. Otherwise a ban
    /// lifted by someone else (OpenAlgo's dashboard, `warden unban`) could bring the table back to
    /// the fingerprint it had before the write, and the lift would go unseen.
    pub fn db_mut(&mut self) -> Option<&mut LogsDb> {
        if self.db.is_some() {
            self.bans_seen = None;
            self.stale = true;
        }
        self.db.as_mut()
    }

    /// Reads what changed by `now`. Returns the health when it differs from the last poll, and
    /// the changes, if any.
    pub fn poll(&mut self, now: Timestamp) -> (Option<Health>, Option<Changes>) {
        let result = self.try_poll(now);
        let health = match &result {
            Ok(_) => Health::Ok,
            Err(e) => {
                // Reopen next time: the file may have been replaced, or the lock released.
                self.db = None;
                self.version = None;
                Health::from_error(e)
            }
        };
        let changed = (self.health.as_ref() != Some(&health)).then(|| health.clone());
        self.health = Some(health);
        (changed, result.ok().flatten())
    }

    /// Reads the rows of each tracker (in [`Tracker::ALL`] order) whose count is at least this
    /// one at every commit, even while a full scan is held back: the counts at which the engine
    /// warns or bans.
    pub fn read_hot_from(&mut self, counts: [u32; 2]) {
        self.hot = counts.map(Some);
    }

    /// When the next poll must come even if nothing wakes the monitor: a commit came while a
    /// scan was held back by [`SCAN_SPACING_PER_ROW`]. `None` when nothing waits.
    pub fn due(&self) -> Option<Timestamp> {
        let (at, rows) = self.scanned.filter(|_| self.stale && self.db.is_some())?;
        Some(at + spacing(rows))
    }

    fn try_poll(&mut self, now: Timestamp) -> Result<Option<Changes>> {
        if self.db.is_none() {
            let db = LogsDb::open(&self.path)?;
            // NOTE: the old thread stops before a new one starts. Without a thread, commits keep
            // checkpointing themselves: slower on a busy disk, not wrong.
            self.checkpointer = None;
            self.checkpointer = db.checkpoint_wal_in_background(CHECKPOINT_EVERY).ok();
            self.db = Some(db);
            self.version = None;
            self.forget();
        }
        let Some(db) = self.db.as_ref() else { return Ok(None) };
        let version = db.data_version()?;
        let committed = self.version != Some(version);
        self.stale |= committed;
        // NOTE: a clock stepped back (now before the last scan) scans at once rather than wait.
        let scan = self.stale && self.scanned.is_none_or(|(at, rows)| now < at || now - at >= spacing(rows));
        if !committed && !scan {
            return Ok(None);
        }
        let mut changes = Changes::default();
        if scan {
            let rows = scan_tables(db, &mut self.bans_seen, &mut self.seen, &mut changes)?;
            self.scanned = Some((now, rows));
            self.stale = false;
        } else {
            for ((tracker, seen), hot) in Tracker::ALL.into_iter().zip(self.seen.iter_mut()).zip(self.hot) {
                let Some(min) = hot else { continue };
                let scan = db.tracker_changes_from(tracker, min, seen)?;
                take_rows(tracker, scan.changed, &mut changes);
                seen.extend(scan.sigs);
            }
        }
        if committed {
            let max_id = db.max_traffic_id()?;
            let cursor = match self.traffic_cursor {
                // First start: history is in the trackers already; count traffic from now on.
                None => max_id,
                // The table was emptied and ids start again.
                Some(c) if c > max_id => 0,
                Some(c) => c,
            };
            changes.traffic = db.traffic_after(cursor, TRAFFIC_BATCH)?;
            changes.more_traffic = changes.traffic.len() == TRAFFIC_BATCH;
            self.traffic_cursor = Some(changes.traffic.last().map_or(cursor, |r| r.id));
            // NOTE: with more rows waiting, keep the version unknown so the next poll reads on.
            self.version = if changes.more_traffic { None } else { Some(version) };
        }
        Ok(Some(changes))
    }

    /// Forgets what was seen, so the next poll reports all of `ip_bans` and every tracker row
    /// again, at once.
    pub fn rescan(&mut self) {
        self.version = None;
        self.forget();
    }

    fn forget(&mut self) {
        self.bans_seen = None;
        self.seen.iter_mut().for_each(HashMap::clear);
        self.stale = true;
        self.scanned = None;
    }
}

/// The least time between two scans of tables holding `rows` rows.
fn spacing(rows: usize) -> chrono::Duration {
    if rows <= SCAN_FREE_ROWS {
        return chrono::Duration::zero();
    }
    SCAN_SPACING_PER_ROW * i32::try_from(rows).unwrap_or(i32::MAX)
}

/// Scans `ip_bans` and both trackers into `changes`, against what was seen before. Returns how
/// many rows they hold.
fn scan_tables(
    db: &LogsDb,
    bans_seen: &mut Option<u64>,
    seen: &mut [HashMap<i64, u64>; 2],
    changes: &mut Changes,
) -> Result<usize> {
    let (fingerprint, mut rows) = db.bans_fingerprint()?;
    if *bans_seen != Some(fingerprint) {
        // NOTE: a commit between the two reads changes the next fingerprint, so the next scan
        // reads again; the rows kept are never older than the fingerprint kept.
        changes.bans = Some(db.bans()?);
        *bans_seen = Some(fingerprint);
    }
    for (tracker, seen) in Tracker::ALL.into_iter().zip(seen.iter_mut()) {
        let scan = db.tracker_changes(tracker, seen)?;
        rows += scan.sigs.len();
        take_rows(tracker, scan.changed, changes);
        seen.clear();
        seen.extend(scan.sigs);
    }
    Ok(rows)
}

/// Hands changed tracker rows over: as readings, or as unreadable when the window start is.
fn take_rows(tracker: Tracker, rows: Vec<TrackerHead>, changes: &mut Changes) {
    for row in rows {
        match row.first_at {
            Some(first_at) => changes.readings.push(TrackerReading {
                raw_ip: row.ip.clone(),
                rule: tracker.rule(),
                count: row.count,
                first_at,
            }),
            None => changes.unreadable.push(row),
        }
    }
}
