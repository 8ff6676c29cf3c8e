//! `traffic_logs`: every request OpenAlgo served, read incrementally past an id cursor.

use rusqlite::params;

use super::LogsDb;
use crate::error::Result;
use crate::store::value;
use crate::time::Timestamp;

/// One request row, decoded leniently.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficRow {
    /// Row id (the cursor).
    pub id: i64,
    /// Write time, if it parses.
    pub at: Option<Timestamp>,
    /// Client address exactly as stored (attacker-influenced with trusted proxy headers).
    pub ip: String,
    /// HTTP method.
    pub method: String,
    /// Request path (attacker-controlled).
    pub path: String,
    /// Status code; 0 if unreadable.
    pub status: u16,
    /// Milliseconds until the response started.
    pub duration_ms: f64,
    /// The Host header (attacker-controlled).
    pub host: Option<String>,
    /// Exception text, when the app raised.
    pub error: Option<String>,
}

/// What [`LogsDb::recent_traffic`] keeps. Every field is optional; `None` keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficQuery {
    /// Exactly this stored address.
    pub ip: Option<String>,
    /// Status codes in this inclusive range.
    pub status: Option<(u16, u16)>,
    /// A substring of the path or the Host header, compared without case.
    pub text: Option<String>,
    /// Only rows older than this row id (the next page of a paged view).
    pub before_id: Option<i64>,
}

fn decode(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrafficRow> {
    Ok(TrafficRow {
        id: r.get(0)?,
        at: value::time(r.get_ref(1)?),
        ip: value::text(r.get_ref(2)?).unwrap_or_default(),
        method: value::text(r.get_ref(3)?).unwrap_or_default(),
        path: value::text(r.get_ref(4)?).unwrap_or_default(),
        status: value::int(r.get_ref(5)?).and_then(|s| u16::try_from(s).ok()).unwrap_or(0),
        duration_ms: value::real(r.get_ref(6)?).unwrap_or(0.0),
        host: value::text(r.get_ref(7)?),
        error: value::text(r.get_ref(8)?),
    })
}

impl LogsDb {
    /// Up to `limit` rows with an id above `after`, oldest first.
    pub fn traffic_after(&self, after: i64, limit: usize) -> Result<Vec<TrafficRow>> {
        let ctx = "reading traffic_logs";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, timestamp, client_ip, method, path, status_code, duration_ms, host, error \
                 FROM traffic_logs WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(|e| self.err(ctx, e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![after, limit], decode).map_err(|e| self.err(ctx, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(ctx, e))
    }

    /// The newest rows first, at most `limit`, that match `filter` (all of it parameterized).
    /// Walks the table by id from the end, so the newest rows of a 1 M-row table come at once.
    pub fn recent_traffic(&self, filter: &TrafficQuery, limit: usize) -> Result<Vec<TrafficRow>> {
        let ctx = "reading traffic_logs";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, timestamp, client_ip, method, path, status_code, duration_ms, host, error \
                 FROM traffic_logs \
                 WHERE (?1 IS NULL OR client_ip = ?1) \
                   AND (?2 IS NULL OR status_code BETWEEN ?2 AND ?3) \
                   AND (?4 IS NULL OR instr(lower(path), ?4) > 0 OR instr(lower(COALESCE(host, '')), ?4) > 0) \
                   AND (?6 IS NULL OR id < ?6) \
                 ORDER BY id DESC LIMIT ?5",
            )
            .map_err(|e| self.err(ctx, e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (lo, hi) = filter.status.map_or((None, None), |(lo, hi)| (Some(lo), Some(hi)));
        let text = filter.text.as_ref().map(|t| t.to_lowercase());
        let rows = stmt
            .query_map(params![filter.ip, lo, hi, text, limit, filter.before_id], decode)
            .map_err(|e| self.err(ctx, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(ctx, e))
    }

    /// `(time, status, client address)` of the rows written since `since`, newest first, reading
    /// back from the newest row until `max_rows` or 1 000 older rows in a row (ids grow with time;
    /// the slack covers a clock that stepped back). Only three columns are read: the Overview's
    /// chart needs no more, and a 1 M-row table stays fast.
    pub fn traffic_since(&self, since: Timestamp, max_rows: usize) -> Result<Vec<(Timestamp, u16, String)>> {
        let ctx = "reading traffic_logs";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT timestamp, status_code, client_ip FROM traffic_logs ORDER BY id DESC LIMIT ?1")
            .map_err(|e| self.err(ctx, e))?;
        let limit = i64::try_from(max_rows).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![limit]).map_err(|e| self.err(ctx, e))?;
        let mut out = Vec::new();
        let mut older = 0;
        while let Some(r) = rows.next().map_err(|e| self.err(ctx, e))? {
            let Some(at) = value::time(r.get_ref(0).map_err(|e| self.err(ctx, e))?) else { continue };
            if at < since {
                older += 1;
                if older >= 1_000 {
                    break;
                }
                continue;
            }
            older = 0;
            let status = value::int(r.get_ref(1).map_err(|e| self.err(ctx, e))?)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0);
            let ip = value::text(r.get_ref(2).map_err(|e| self.err(ctx, e))?).unwrap_or_default();
            out.push((at, status, ip));
        }
        Ok(out)
    }

    /// The distinct client addresses of `traffic_logs` since `since` and of both trackers.
    pub fn recent_clients(&self, since: Timestamp) -> Result<Vec<String>> {
        let ctx = "reading recent clients";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT client_ip FROM traffic_logs WHERE timestamp >= ?1 \
                 UNION SELECT ip_address FROM error_404_tracker UNION SELECT ip_address FROM invalid_api_key_tracker",
            )
            .map_err(|e| self.err(ctx, e))?;
        let rows = stmt
            .query_map(params![crate::time::format_db_time(since)], |r| Ok(value::text(r.get_ref(0)?)))
            .map_err(|e| self.err(ctx, e))?;
        let mut out = Vec::new();
        for r in rows {
            out.extend(r.map_err(|e| self.err(ctx, e))?);
        }
        Ok(out)
    }

    /// The distinct client addresses whose requests carried the Host header `host` (lower case,
    /// without a port), with or without a port.
    pub fn ips_for_host(&self, host: &str) -> Result<Vec<String>> {
        let ctx = "reading traffic_logs";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT client_ip FROM traffic_logs \
                 WHERE lower(host) = ?1 OR lower(host) = ?1 || '.' OR substr(lower(host), 1, length(?1) + 1) = ?1 || ':'",
            )
            .map_err(|e| self.err(ctx, e))?;
        let rows = stmt.query_map(params![host], |r| Ok(value::text(r.get_ref(0)?))).map_err(|e| self.err(ctx, e))?;
        let mut out = Vec::new();
        for r in rows {
            out.extend(r.map_err(|e| self.err(ctx, e))?);
        }
        Ok(out)
    }

    /// The highest traffic id, 0 for an empty table. A cursor above it means the table was
    /// emptied (OpenAlgo purges old rows at start-up) and ids are being reused.
    pub fn max_traffic_id(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM traffic_logs", [], |r| r.get(0))
            .map_err(|e| self.err("reading traffic_logs", e))
    }
}
