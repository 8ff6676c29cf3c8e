//! OpenAlgo's `logs.db`, in its exact schema (spec §2), read and written as OpenAlgo expects.
//!
//! Rules for a third writer next to OpenAlgo's gunicorn worker and WebSocket proxy (spec §9):
//! `busy_timeout` of 15 s, short write transactions, the journal mode never changed, and tables
//! created only by [`create_openalgo_schema`] for a brand-new file (the demo and the tests).
//!
//! Commits use `synchronous=NORMAL`, as every OpenAlgo connection does (spec §2): in WAL mode a
//! commit then returns without waiting for the disk, and survives any crash of a process; only
//! a power cut can drop the last ones, exactly as it can drop OpenAlgo's own bans. SQLite's
//! default, `FULL`, made each ban wait for an fsync: under a bulk writer on the same disk that
//! took Warden's ban notices from a p50 of a few ms to hundreds.

mod bans;
mod trackers;
mod traffic;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use bans::{BanEffect, BanRow, BanWrite, NewBan};
pub use trackers::{TrackerHead, TrackerRow, TrackerScan};
pub use traffic::{TrafficQuery, TrafficRow};

use crate::error::{Error, Result};

/// OpenAlgo's own busy timeout; Warden waits at least as long before reporting a lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_millis(15_000);

/// The four tables Warden reads.
pub const TABLES: [&str; 4] = ["ip_bans", "error_404_tracker", "invalid_api_key_tracker", "traffic_logs"];

/// An open connection to OpenAlgo's `logs.db`.
#[derive(Debug)]
pub struct LogsDb {
    conn: Connection,
    path: PathBuf,
}

impl LogsDb {
    /// Opens an existing `logs.db` and checks that OpenAlgo's tables are there.
    ///
    /// A missing file is an error (Warden never creates a stray database at a mistyped path), and
    /// so is a file without the tables.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::LogsDbMissing { path: path.to_path_buf() });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| Error::sqlite(path, format!("opening {}", path.display()), e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| Error::sqlite(path, "setting busy_timeout", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| Error::sqlite(path, "setting synchronous", e))?;
        let db = Self { conn, path: path.to_path_buf() };
        db.check_schema()?;
        Ok(db)
    }

    /// Stops this connection's commits from copying the WAL back into the database themselves
    /// (`PRAGMA wal_autocheckpoint=0`), for the monitor, which runs a
    /// [`crate::store::wal::WalCheckpointer`] beside it instead.
    ///
    /// By default a commit that finds the log past 1 000 pages checkpoints it, syncing the log
    /// and the database. OpenAlgo commits at every request, so its log is often past that, and
    /// a ban Warden wrote then waited for those syncs on the monitor's thread: under a bulk writer
    /// on the same disk, 41 of them took 2.0 s in one run, up to 0.8 s each (`strace -f -T`).
    /// OpenAlgo's own connections still checkpoint as they always did.
    ///
    /// [`LogsDb::checkpoint_wal_in_background`] pairs this with the thread that does it.
    pub fn leave_checkpoints_to_background(&self) -> Result<()> {
        self.conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(|e| self.err("turning off automatic checkpoints", e))
    }

    /// Moves this connection's checkpoints to a thread of their own, as
    /// [`crate::store::StateDb::checkpoint_wal_in_background`] does for Warden's state, but with
    /// passive checkpoints only: the log is never held for a restart, so OpenAlgo's writers are
    /// never blocked. The thread is started first, so a failure to start it leaves this
    /// connection checkpointing for itself. Checkpoints run while the returned value lives.
    pub fn checkpoint_wal_in_background(&self, every: Duration) -> Result<crate::store::wal::WalCheckpointer> {
        let checkpointer = crate::store::wal::WalCheckpointer::start(&self.path, every, u64::MAX)?;
        self.leave_checkpoints_to_background()?;
        Ok(checkpointer)
    }

    /// Shortens the busy timeout. For tests and tools that must not wait 15 s; the monitor and
    /// the CLI always keep [`BUSY_TIMEOUT`], as OpenAlgo's interop rules ask.
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<()> {
        self.conn.busy_timeout(timeout).map_err(|e| self.err("setting busy_timeout", e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_schema(&self) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .map_err(|e| self.err("reading the schema", e))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err("reading the schema", e))?;
        let missing: Vec<&str> = TABLES.iter().copied().filter(|t| !names.iter().any(|n| n == t)).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::LogsDbNoSchema { path: self.path.clone(), missing: missing.join(", ") })
        }
    }

    /// SQLite's `data_version`: it changes whenever another connection commits, so an unchanged
    /// value means there is nothing new to read.
    pub fn data_version(&self) -> Result<i64> {
        self.conn.query_row("PRAGMA data_version", [], |r| r.get(0)).map_err(|e| self.err("checking for changes", e))
    }

    fn err(&self, context: &str, e: rusqlite::Error) -> Error {
        Error::sqlite(&self.path, format!("{context} in {}", self.path.display()), e)
    }
}

/// OpenAlgo's DDL for logs.db, as SQLAlchemy 2.0.51 emits it, index names included.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS traffic_logs (
	id INTEGER NOT NULL,
	timestamp DATETIME DEFAULT CURRENT_TIMESTAMP,
	client_ip VARCHAR(50) NOT NULL,
	method VARCHAR(10) NOT NULL,
	path VARCHAR(500) NOT NULL,
	status_code INTEGER NOT NULL,
	duration_ms FLOAT NOT NULL,
	host VARCHAR(500),
	error VARCHAR(500),
	user_id INTEGER,
	PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS idx_traffic_timestamp ON traffic_logs (timestamp);
CREATE INDEX IF NOT EXISTS idx_traffic_client_ip ON traffic_logs (client_ip);
CREATE INDEX IF NOT EXISTS idx_traffic_status_code ON traffic_logs (status_code);
CREATE INDEX IF NOT EXISTS idx_traffic_user_id ON traffic_logs (user_id);
CREATE INDEX IF NOT EXISTS idx_traffic_ip_timestamp ON traffic_logs (client_ip, timestamp);
CREATE TABLE IF NOT EXISTS ip_bans (
	id INTEGER NOT NULL,
	ip_address VARCHAR(50) NOT NULL,
	ban_reason VARCHAR(200),
	ban_count INTEGER,
	banned_at DATETIME DEFAULT CURRENT_TIMESTAMP,
	expires_at DATETIME,
	is_permanent BOOLEAN,
	created_by VARCHAR(50),
	PRIMARY KEY (id)
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_ip_bans_ip_address ON ip_bans (ip_address);
CREATE TABLE IF NOT EXISTS error_404_tracker (
	id INTEGER NOT NULL,
	ip_address VARCHAR(50) NOT NULL,
	error_count INTEGER,
	first_error_at DATETIME DEFAULT CURRENT_TIMESTAMP,
	last_error_at DATETIME DEFAULT CURRENT_TIMESTAMP,
	paths_attempted TEXT,
	PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS ix_error_404_tracker_ip_address ON error_404_tracker (ip_address);
CREATE INDEX IF NOT EXISTS idx_404_error_count ON error_404_tracker (error_count);
CREATE INDEX IF NOT EXISTS idx_404_first_error_at ON error_404_tracker (first_error_at);
CREATE TABLE IF NOT EXISTS invalid_api_key_tracker (
	id INTEGER NOT NULL,
	ip_address VARCHAR(50) NOT NULL,
	attempt_count INTEGER,
	first_attempt_at DATETIME DEFAULT CURRENT_TIMESTAMP,
	last_attempt_at DATETIME DEFAULT CURRENT_TIMESTAMP,
	api_keys_tried TEXT,
	PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS ix_invalid_api_key_tracker_ip_address ON invalid_api_key_tracker (ip_address);
CREATE INDEX IF NOT EXISTS idx_api_tracker_attempt_count ON invalid_api_key_tracker (attempt_count);
CREATE INDEX IF NOT EXISTS idx_api_tracker_first_attempt_at ON invalid_api_key_tracker (first_attempt_at);
";

/// Creates a new `logs.db` the way OpenAlgo's first start does: WAL mode (OpenAlgo sets it on
/// every connection) and its tables. Used for the demo workspace and for tests, never on a real
/// OpenAlgo's file.
pub fn create_openalgo_schema(path: &Path) -> Result<()> {
    let conn = Connection::open(path).map_err(|e| Error::sqlite(path, format!("creating {}", path.display()), e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| Error::sqlite(path, "setting busy_timeout", e))?;
    conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
        .map_err(|e| Error::sqlite(path, "setting WAL mode on a new logs.db", e))?;
    conn.execute_batch(SCHEMA).map_err(|e| Error::sqlite(path, "creating OpenAlgo's tables", e))
}
