//! Warden's own state: offence history, the audit log, source cursors and alert de-duplication.
//!
//! It lives in a separate SQLite file that only Warden writes, created with mode 0600 in a 0700
//! directory. OpenAlgo deletes expired ban rows and with them their history; this file is what
//! lets Warden make the third offence permanent anyway.

use std::collections::HashMap;
use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::engine::WindowRecord;
use crate::error::{Error, Result};
use crate::event::Rule;
use crate::store::private::create_private_dir;
use crate::time::Timestamp;

use super::wal::WalCheckpointer;

mod audit;
mod lapi;
mod outbox;
mod policies;

pub use lapi::Pushed;
pub use outbox::{ChannelTally, Queued};

pub use policies::wake_file;

pub use audit::{Actor, AuditEntry};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS offences (
    id INTEGER PRIMARY KEY,
    ip TEXT NOT NULL,
    rule TEXT NOT NULL,
    at TEXT NOT NULL,
    until TEXT,
    source TEXT NOT NULL,
    reason TEXT,
    UNIQUE (ip, at, rule)
);
CREATE INDEX IF NOT EXISTS offences_ip ON offences (ip);
CREATE TABLE IF NOT EXISTS ban_counts (
    ip TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    user TEXT,
    action TEXT NOT NULL,
    ip TEXT,
    detail TEXT,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS windows (
    ip TEXT NOT NULL,
    rule TEXT NOT NULL,
    window TEXT NOT NULL,
    PRIMARY KEY (ip, rule)
);
CREATE TABLE IF NOT EXISTS pending_bans (
    ip TEXT PRIMARY KEY,
    ban TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY,
    at TEXT NOT NULL,
    until TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    what TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS offences_insert AFTER INSERT ON offences BEGIN
    INSERT INTO changes (what, n) VALUES ('offences', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS offences_update AFTER UPDATE ON offences BEGIN
    INSERT INTO changes (what, n) VALUES ('offences', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS offences_delete AFTER DELETE ON offences BEGIN
    INSERT INTO changes (what, n) VALUES ('offences', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS ban_counts_insert AFTER INSERT ON ban_counts BEGIN
    INSERT INTO changes (what, n) VALUES ('offences', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS ban_counts_update AFTER UPDATE ON ban_counts BEGIN
    INSERT INTO changes (what, n) VALUES ('offences', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS ban_counts_delete AFTER DELETE ON ban_counts BEGIN
    INSERT INTO changes (what, n) VALUES ('offences', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
PRAGMA user_version = 1;
";

/// Timestamps in this file: RFC 3339 UTC with microseconds, so text order is time order.
fn ts(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_ts(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// One remembered offence (a ban, by Warden or by OpenAlgo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offence {
    /// Canonical address.
    pub ip: String,
    /// `404`, `api`, `manual`, or `openalgo:<created_by>` for bans OpenAlgo made itself.
    pub rule: String,
    /// When the ban was made.
    #[serde(with = "crate::time::serde_rfc3339")]
    pub at: Timestamp,
    /// When it ended or ends; `None` for permanent.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub until: Option<Timestamp>,
    /// `warden` or `openalgo`.
    pub source: String,
    /// The reason given.
    pub reason: Option<String>,
}

/// Warden's state database.
#[derive(Debug)]
pub struct StateDb {
    conn: Connection,
    path: PathBuf,
}

impl StateDb {
    /// Opens the state database, creating it (0600, in a 0700 directory) if needed.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        // NOTE: create the file ourselves with 0600 before SQLite touches it; SQLite then gives
        // its -wal and -shm files the same mode.
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(format!("creating Warden's state database {}", path.display()), e))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io(format!("restricting {}", path.display()), e))?;
        let conn = Connection::open(path).map_err(|e| Error::sqlite(path, format!("opening {}", path.display()), e))?;
        conn.busy_timeout(Duration::from_secs(15)).map_err(|e| Error::sqlite(path, "setting busy_timeout", e))?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
            .map_err(|e| Error::sqlite(path, "setting WAL mode on the state database", e))?;
        // Every commit reaches the disk before it returns, unless it says otherwise (see
        // `relaxed`): offences and pending bans cannot be read again from anywhere.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| Error::sqlite(path, "setting synchronous on the state database", e))?;
        conn.execute_batch(SCHEMA).map_err(|e| Error::sqlite(path, "creating the state tables", e))?;
        conn.execute_batch(policies::SCHEMA).map_err(|e| Error::sqlite(path, "creating the policy tables", e))?;
        conn.execute_batch(outbox::SCHEMA).map_err(|e| Error::sqlite(path, "creating the alert queue", e))?;
        conn.execute_batch(lapi::SCHEMA).map_err(|e| Error::sqlite(path, "creating the CrowdSec table", e))?;
        Ok(Self { conn, path: path.to_path_buf() })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves this connection's WAL checkpoints to a thread of their own (see [`WalCheckpointer`]),
    /// for the monitor, whose thread must not wait for the disk. Checkpoints run while the
    /// returned value lives, every `every`, and once more when it is dropped.
    pub fn checkpoint_wal_in_background(&self, every: Duration) -> Result<WalCheckpointer> {
        self.leave_checkpoints_to_background()?;
        WalCheckpointer::start(&self.path, every, super::wal::RESTART_AT)
    }

    /// Stops this connection's commits from copying the WAL back themselves, for a connection
    /// beside one whose [`StateDb::checkpoint_wal_in_background`] does it.
    pub fn leave_checkpoints_to_background(&self) -> Result<()> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(|e| self.err("turning off automatic checkpoints", e))?;
        // When the log starts over, its file is cut back to this size instead of keeping the
        // largest it ever reached.
        self.conn
            .pragma_update(None, "journal_size_limit", super::wal::RESTART_AT as i64)
            .map_err(|e| self.err("limiting the log's size", e))
    }

    /// Runs `f` with commits that return before they reach the disk (`synchronous=NORMAL`),
    /// for what Warden saves many times a second and can derive again: positions with their
    /// counters, the traffic cursor, notice keys. In WAL mode a power cut can then drop the last
    /// of these commits but never tears one, and never one that came before a full commit. A
    /// position and the counters it produced go back together, and the lines after it are read
    /// again: nothing is lost or counted twice.
    fn relaxed<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let out = f(&self.conn);
        let back = self.conn.pragma_update(None, "synchronous", "FULL");
        let out = out?;
        back?;
        Ok(out)
    }

    fn err(&self, context: &str, e: rusqlite::Error) -> Error {
        Error::sqlite(&self.path, format!("{context} in Warden's state {}", self.path.display()), e)
    }

    /// A number that changes whenever offences or ban counts change, whoever changes them (the
    /// CLI next to a running monitor): triggers in the file keep it. SQLite's `data_version`
    /// would not do, because it also changes with every save of the monitor's own saving
    /// thread, which has a connection of its own.
    pub fn offences_version(&self) -> Result<i64> {
        self.conn
            .prepare_cached("SELECT n FROM changes WHERE what = 'offences'")
            .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
            .map(|n| n.unwrap_or(0))
            .map_err(|e| self.err("checking for changed offences", e))
    }

    /// Remembers an offence. Returns false when it was already known (same address, time, rule).
    ///
    /// The commit does not wait for the disk (`synchronous=NORMAL`): it survives any crash of
    /// the process, and only a power cut before the next WAL checkpoint (one a second in the
    /// monitor) can drop it, as it can drop the ban written to `logs.db` a moment before. A synced
    /// commit here made every ban wait for an fsync on the monitor's thread: under a bulk writer
    /// on the same disk, 1 485 of them took 8.9 s in one run, and the bans were announced with a
    /// p99 of 1.3 s.
    pub fn record_offence(&self, o: &Offence) -> Result<bool> {
        let n = self
            .relaxed(|conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO offences (ip, rule, at, until, source, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![o.ip, o.rule, ts(o.at), o.until.map(ts), o.source, o.reason],
                )
            })
            .map_err(|e| self.err("recording an offence", e))?;
        Ok(n == 1)
    }

    /// Remembers that `ip_bans` showed `count` bans for this address (its `ban_count`), so the
    /// evidence outlives the row. Only ever raises the number. Not synced, like
    /// [`StateDb::record_offence`].
    pub fn raise_ban_count(&self, ip: &str, count: u32) -> Result<bool> {
        let n = self
            .relaxed(|conn| {
                conn.execute(
                    "INSERT INTO ban_counts (ip, count) VALUES (?1, ?2) \
                     ON CONFLICT(ip) DO UPDATE SET count = excluded.count WHERE excluded.count > ban_counts.count",
                    params![ip, count],
                )
            })
            .map_err(|e| self.err("recording a ban count", e))?;
        Ok(n == 1)
    }

    /// How many offences each address has: the offences remembered, or the highest `ban_count`
    /// OpenAlgo showed for it, whichever is larger.
    pub fn offence_counts(&self) -> Result<HashMap<IpAddr, u32>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ip, MAX(n) FROM (SELECT ip, COUNT(*) AS n FROM offences GROUP BY ip \
                 UNION ALL SELECT ip, count AS n FROM ban_counts) GROUP BY ip",
            )
            .map_err(|e| self.err("reading offences", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.err("reading offences", e))?;
        let mut out = HashMap::new();
        for row in rows {
            let (ip, n) = row.map_err(|e| self.err("reading offences", e))?;
            if let Ok(ip) = ip.parse() {
                out.insert(ip, u32::try_from(n).unwrap_or(u32::MAX));
            }
        }
        Ok(out)
    }

    /// The offences of one address, oldest first.
    pub fn offences_of(&self, ip: IpAddr) -> Result<Vec<Offence>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT ip, rule, at, until, source, reason FROM offences WHERE ip = ?1 ORDER BY at, id")
            .map_err(|e| self.err("reading offences", e))?;
        let rows = stmt
            .query_map(params![ip.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .map_err(|e| self.err("reading offences", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (ip, rule, at, until, source, reason) = row.map_err(|e| self.err("reading offences", e))?;
            let Some(at) = parse_ts(&at) else { continue };
            out.push(Offence { ip, rule, at, until: until.as_deref().and_then(parse_ts), source, reason });
        }
        Ok(out)
    }

    /// A source's saved position.
    pub fn cursor(&self, source: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM cursors WHERE source = ?1", params![source], |r| r.get(0))
            .optional()
            .map_err(|e| self.err("reading a cursor", e))
    }

    /// Saves a source's position.
    pub fn set_cursor(&self, source: &str, value: &str) -> Result<()> {
        self.relaxed(|conn| {
            conn.execute(
                "INSERT INTO cursors (source, value) VALUES (?1, ?2) ON CONFLICT(source) DO UPDATE SET value = excluded.value",
                params![source, value],
            )
        })
        .map_err(|e| self.err("saving a cursor", e))?;
        Ok(())
    }

    /// Saves sources' positions (`(source, cursor)`) together with the counters they changed,
    /// in one transaction, so that a restart neither loses nor double-counts what was read.
    /// The counters are borrowed, `None` for one that is gone: the saving thread hands over
    /// what it holds without copying it again.
    pub fn checkpoint<'w>(
        &mut self,
        cursors: &[(&str, &str)],
        windows: impl IntoIterator<Item = (IpAddr, Rule, Option<&'w WindowRecord>)>,
    ) -> Result<()> {
        self.relaxed(|conn| {
            let tx = conn.unchecked_transaction()?;
            {
                let mut put = tx.prepare_cached(
                    "INSERT INTO windows (ip, rule, window) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(ip, rule) DO UPDATE SET window = excluded.window",
                )?;
                let mut gone = tx.prepare_cached("DELETE FROM windows WHERE ip = ?1 AND rule = ?2")?;
                for (ip, rule, window) in windows {
                    match window {
                        Some(w) => {
                            let json = serde_json::to_string(w).unwrap_or_default();
                            put.execute(params![ip.to_string(), rule.as_str(), json])?;
                        }
                        None => {
                            gone.execute(params![ip.to_string(), rule.as_str()])?;
                        }
                    }
                }
                let mut at = tx.prepare_cached(
                    "INSERT INTO cursors (source, value) VALUES (?1, ?2) ON CONFLICT(source) DO UPDATE SET value = excluded.value",
                )?;
                for (source, cursor) in cursors {
                    at.execute(params![source, cursor])?;
                }
            }
            tx.commit()
        })
        .map_err(|e| self.err("saving a checkpoint", e))
    }

    /// The counters saved by [`StateDb::checkpoint`].
    pub fn windows(&self) -> Result<Vec<(IpAddr, Rule, WindowRecord)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT ip, rule, window FROM windows")
            .map_err(|e| self.err("reading counters", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
            .map_err(|e| self.err("reading counters", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (ip, rule, json) = row.map_err(|e| self.err("reading counters", e))?;
            let rule = match rule.as_str() {
                "404" => Rule::NotFound,
                "api" => Rule::InvalidApiKey,
                "login" => Rule::FailedLogin,
                _ => continue,
            };
            if let (Ok(ip), Ok(w)) = (ip.parse(), serde_json::from_str::<WindowRecord>(&json)) {
                out.push((ip, rule, w));
            }
        }
        Ok(out)
    }

    /// Keeps a ban that could not be written to logs.db yet, so a restart still writes it.
    pub fn save_pending(&self, order: &crate::engine::BanOrder) -> Result<()> {
        let json = serde_json::to_string(order).unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO pending_bans (ip, ban) VALUES (?1, ?2) ON CONFLICT(ip) DO UPDATE SET ban = excluded.ban",
                params![order.ip.to_string(), json],
            )
            .map_err(|e| self.err("keeping a pending ban", e))?;
        Ok(())
    }

    /// Forgets a pending ban (written, or no longer needed).
    pub fn drop_pending(&self, ip: IpAddr) -> Result<()> {
        self.conn
            .execute("DELETE FROM pending_bans WHERE ip = ?1", params![ip.to_string()])
            .map_err(|e| self.err("forgetting a pending ban", e))?;
        Ok(())
    }

    /// The bans waiting to be written.
    pub fn pending(&self) -> Result<Vec<crate::engine::BanOrder>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT ban FROM pending_bans")
            .map_err(|e| self.err("reading pending bans", e))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| self.err("reading pending bans", e))?;
        let mut out = Vec::new();
        for row in rows {
            let json = row.map_err(|e| self.err("reading pending bans", e))?;
            if let Ok(order) = serde_json::from_str(&json) {
                out.push(order);
            }
        }
        Ok(out)
    }

    /// Records that a notice was given. Returns false when it had been given already, so a
    /// notice fires once even across restarts. `until` is when the key can be forgotten.
    pub fn alert_once(&self, key: &str, at: Timestamp, until: Timestamp) -> Result<bool> {
        let n = self
            .relaxed(|conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO alerts (key, at, until) VALUES (?1, ?2, ?3)",
                    params![key, ts(at), ts(until)],
                )
            })
            .map_err(|e| self.err("recording a notice", e))?;
        Ok(n == 1)
    }

    /// Notice keys still live at `now`, with when each can be forgotten; older ones are deleted.
    pub fn live_alerts(&self, now: Timestamp) -> Result<Vec<(String, Timestamp)>> {
        self.conn
            .execute("DELETE FROM alerts WHERE until <= ?1", params![ts(now)])
            .map_err(|e| self.err("forgetting old notices", e))?;
        let mut stmt =
            self.conn.prepare_cached("SELECT key, until FROM alerts").map_err(|e| self.err("reading notices", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err("reading notices", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (key, until) = row.map_err(|e| self.err("reading notices", e))?;
            if let Some(until) = parse_ts(&until) {
                out.push((key, until));
            }
        }
        Ok(out)
    }
}
