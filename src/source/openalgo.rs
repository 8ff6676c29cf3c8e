//! The incremental reader of OpenAlgo's `logs.db`.
//!
//! Each poll first asks SQLite's `data_version` whether anybody committed since the last look; if
//! not, it reads nothing. Otherwise it fingerprints `ip_bans` and reads it whole only when the
//! fingerprint changed (OpenAlgo updates ban rows in place, so no id or count would tell), walks
//! the two trackers but decodes only the rows whose signature changed, and reads `traffic_logs`
//! past an id cursor. OpenAlgo commits at every request, and most commits touch only a tracker
//! row or `traffic_logs`: decoding every ban and tracker row at each of them cost Warden most of
//! its CPU under load. The file may be missing, locked or schema-less at any moment: the reader
//! then reports a [`Health`] and tries again on the next poll, never failing the monitor. A
//! failed poll reopens the file and forgets every fingerprint, so nothing read before the
//! failure is taken as already handed over.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::TrackerReading;
use crate::error::{Error, Result};
use crate::event::Tracker;
use crate::store::logs_db::{BanRow, LogsDb, TrackerHead, TrafficRow};

/// Most traffic rows read per poll, so one poll stays short even after a long pause.
pub const TRAFFIC_BATCH: usize = 5_000;

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
    version: Option<i64>,
    traffic_cursor: Option<i64>,
    /// The fingerprint of `ip_bans` when it was last read.
    bans_seen: Option<u64>,
    /// Per tracker, each row's signature when it was last read.
    seen: [HashMap<i64, u64>; 2],
    health: Option<Health>,
}

impl OpenAlgoSource {
    /// A reader for `path`, resuming traffic after `traffic_cursor` (or at the end when `None`).
    pub fn new(path: &Path, traffic_cursor: Option<i64>) -> Self {
        Self {
            path: path.to_path_buf(),
            db: None,
            version: None,
            traffic_cursor,
            bans_seen: None,
            seen: Default::default(),
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

    /// The open database, for writing bans on the same connection.
    pub fn db_mut(&mut self) -> Option<&mut LogsDb> {
        self.db.as_mut()
    }

    /// Reads what changed. Returns the health when it differs from the last poll, and the
    /// changes, if any.
    pub fn poll(&mut self) -> (Option<Health>, Option<Changes>) {
        let result = self.try_poll();
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

    fn try_poll(&mut self) -> Result<Option<Changes>> {
        if self.db.is_none() {
            self.db = Some(LogsDb::open(&self.path)?);
            self.version = None;
            self.forget();
        }
        let Some(db) = self.db.as_ref() else { return Ok(None) };
        let version = db.data_version()?;
        if self.version == Some(version) {
            return Ok(None);
        }
        let mut changes = Changes::default();
        let fingerprint = db.bans_fingerprint()?;
        if self.bans_seen != Some(fingerprint) {
            // NOTE: a commit between the two reads changes the next fingerprint, so the next poll
            // reads again; the rows kept are never older than the fingerprint kept.
            changes.bans = Some(db.bans()?);
            self.bans_seen = Some(fingerprint);
        }
        for (tracker, seen) in Tracker::ALL.into_iter().zip(self.seen.iter_mut()) {
            let scan = db.tracker_changes(tracker, seen)?;
            for row in scan.changed {
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
            seen.clear();
            seen.extend(scan.sigs);
        }
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
        Ok(Some(changes))
    }

    /// Forgets what was seen, so the next poll reports all of `ip_bans` and every tracker row
    /// again.
    pub fn rescan(&mut self) {
        self.version = None;
        self.forget();
    }

    fn forget(&mut self) {
        self.bans_seen = None;
        self.seen.iter_mut().for_each(HashMap::clear);
    }
}
