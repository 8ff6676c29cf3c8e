//! `error_404_tracker` and `invalid_api_key_tracker`: OpenAlgo's counters, one row per address.

use std::collections::HashMap;

use super::LogsDb;
use crate::error::Result;
use crate::event::Tracker;
use crate::store::value;
use crate::time::Timestamp;

/// One tracker row, decoded leniently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerRow {
    /// Row id.
    pub id: i64,
    /// Which tracker it came from.
    pub tracker: Tracker,
    /// The address exactly as stored.
    pub ip: String,
    /// The count (`error_count` / `attempt_count`); NULL reads as 1, OpenAlgo's model default.
    pub count: u32,
    /// Window start, if it parses.
    pub first_at: Option<Timestamp>,
    /// Latest event, if it parses.
    pub last_at: Option<Timestamp>,
    /// Paths (404) or key hashes (API); empty when the JSON is missing or malformed.
    pub items: Vec<String>,
    /// Whether the items column held something that is not a JSON array of strings.
    pub items_malformed: bool,
}

/// What the engine judges of a tracker row: [`TrackerRow`] without the last time and the items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerHead {
    /// Row id.
    pub id: i64,
    /// Which tracker it came from.
    pub tracker: Tracker,
    /// The address exactly as stored.
    pub ip: String,
    /// The count; NULL reads as 1, OpenAlgo's model default.
    pub count: u32,
    /// Window start, if it parses.
    pub first_at: Option<Timestamp>,
}

/// One scan of a tracker by [`LogsDb::tracker_changes`].
#[derive(Debug, Default)]
pub struct TrackerScan {
    /// Every row's id and signature, in id order: the `seen` of the next scan.
    pub sigs: Vec<(i64, u64)>,
    /// The rows that are new or changed.
    pub changed: Vec<TrackerHead>,
}

/// A tracker count as OpenAlgo means it: NULL (or junk) is its model default, 1.
fn count(v: rusqlite::types::ValueRef<'_>) -> u32 {
    value::int(v).unwrap_or(1).clamp(0, i64::from(u32::MAX)) as u32
}

/// Table and column names of one tracker. Constants, never user input.
struct Columns {
    table: &'static str,
    count: &'static str,
    first: &'static str,
    last: &'static str,
    items: &'static str,
}

fn columns(tracker: Tracker) -> Columns {
    match tracker {
        Tracker::NotFound => Columns {
            table: Tracker::NotFound.table(),
            count: "error_count",
            first: "first_error_at",
            last: "last_error_at",
            items: "paths_attempted",
        },
        Tracker::InvalidApiKey => Columns {
            table: Tracker::InvalidApiKey.table(),
            count: "attempt_count",
            first: "first_attempt_at",
            last: "last_attempt_at",
            items: "api_keys_tried",
        },
    }
}

impl LogsDb {
    /// Every row of one tracker.
    pub fn trackers(&self, tracker: Tracker) -> Result<Vec<TrackerRow>> {
        let c = columns(tracker);
        let ctx = format!("reading {}", c.table);
        let sql = format!(
            "SELECT id, ip_address, {}, {}, {}, {} FROM {} ORDER BY id",
            c.count, c.first, c.last, c.items, c.table
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(&ctx, e))?;
        let rows = stmt
            .query_map([], |r| {
                let items_raw = r.get_ref(5)?;
                let items = value::string_list(items_raw);
                Ok(TrackerRow {
                    id: r.get(0)?,
                    tracker,
                    ip: value::text(r.get_ref(1)?).unwrap_or_default(),
                    count: count(r.get_ref(2)?),
                    first_at: value::time(r.get_ref(3)?),
                    last_at: value::time(r.get_ref(4)?),
                    items_malformed: items.is_none() && !matches!(items_raw, rusqlite::types::ValueRef::Null),
                    items: items.unwrap_or_default(),
                })
            })
            .map_err(|e| self.err(&ctx, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(&ctx, e))
    }

    /// What changed in one tracker since `seen` (row id → signature, from the last scan's
    /// [`TrackerScan::sigs`]): every row's signature, and the rows whose address, count or
    /// window start differ, decoded. Only those three columns are read, and unchanged rows are
    /// not decoded, so a poll after one tracker write decodes one row.
    pub fn tracker_changes(&self, tracker: Tracker, seen: &HashMap<i64, u64>) -> Result<TrackerScan> {
        let c = columns(tracker);
        let sql = format!("SELECT id, ip_address, {}, {} FROM {} ORDER BY id", c.count, c.first, c.table);
        self.scan_tracker(tracker, &sql, None, seen)
    }

    /// Like [`LogsDb::tracker_changes`], for the rows whose count is at least `min_count` only:
    /// a walk of OpenAlgo's index on the count, so it costs what those rows cost, however many
    /// low-count rows scanners left behind. `sigs` then holds only those rows.
    pub fn tracker_changes_from(
        &self,
        tracker: Tracker,
        min_count: u32,
        seen: &HashMap<i64, u64>,
    ) -> Result<TrackerScan> {
        let c = columns(tracker);
        let sql = format!("SELECT id, ip_address, {0}, {1} FROM {2} WHERE {0} >= ?1", c.count, c.first, c.table);
        self.scan_tracker(tracker, &sql, Some(min_count), seen)
    }

    fn scan_tracker(
        &self,
        tracker: Tracker,
        sql: &str,
        min_count: Option<u32>,
        seen: &HashMap<i64, u64>,
    ) -> Result<TrackerScan> {
        let ctx = format!("reading {}", columns(tracker).table);
        let err = |e: rusqlite::Error| self.err(&ctx, e);
        let mut stmt = self.conn.prepare_cached(sql).map_err(&err)?;
        let mut rows = match min_count {
            Some(min) => stmt.query([min]),
            None => stmt.query([]),
        }
        .map_err(&err)?;
        let mut scan = TrackerScan::default();
        while let Some(r) = rows.next().map_err(&err)? {
            let id: i64 = r.get(0).map_err(&err)?;
            let (ip, n, first) =
                (r.get_ref(1).map_err(&err)?, r.get_ref(2).map_err(&err)?, r.get_ref(3).map_err(&err)?);
            let mut h = value::Fingerprint::default();
            for v in [ip, n, first] {
                value::hash_into(&mut h, v);
            }
            let sig = std::hash::Hasher::finish(&h);
            scan.sigs.push((id, sig));
            if seen.get(&id) != Some(&sig) {
                scan.changed.push(TrackerHead {
                    id,
                    tracker,
                    ip: value::text(ip).unwrap_or_default(),
                    count: count(n),
                    first_at: value::time(first),
                });
            }
        }
        Ok(scan)
    }

    /// Deletes the tracker rows of this address, in any spelling (OpenAlgo's `clear-404`, and
    /// what OpenAlgo does after a ban). Returns how many went.
    pub fn clear_tracker(&mut self, tracker: Tracker, ip: &str) -> Result<usize> {
        self.delete_matching(tracker.table(), ip)
    }
}
