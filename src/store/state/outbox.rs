//! Alerts accepted for delivery and not delivered yet (so they survive a restart), how each
//! alert channel is doing (for `warden alert status`, the app and the metrics), and the addresses
//! each OpenAlgo user signed in from (for "a sign-in from a new address").

use rusqlite::params;

use super::{parse_ts, ts, StateDb};
use crate::alert::channel::Message;
use crate::alert::Event;
use crate::error::Result;
use crate::time::Timestamp;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    event TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TEXT NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_channel ON outbox (channel, id);
CREATE TABLE IF NOT EXISTS signin_addresses (
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    first_at TEXT NOT NULL,
    PRIMARY KEY (username, address)
);
CREATE TABLE IF NOT EXISTS alert_channels (
    name TEXT PRIMARY KEY,
    delivered INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    last_ok_at TEXT,
    last_error TEXT,
    last_error_at TEXT
);
";

/// One alert waiting in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Its row.
    pub id: i64,
    /// The channel's name.
    pub channel: String,
    /// The alert.
    pub message: Message,
    /// Attempts so far.
    pub attempts: u32,
    /// When it may be tried next.
    pub next_at: Timestamp,
}

/// How one channel is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChannelTally {
    /// The channel's name.
    pub name: String,
    /// Alerts delivered.
    pub delivered: u64,
    /// Alerts given up on (refused, or older than a day).
    pub failed: u64,
    /// The last delivery.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub last_ok_at: Option<Timestamp>,
    /// The last error, in words (secrets scrubbed).
    pub last_error: Option<String>,
    /// When it happened.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub last_error_at: Option<Timestamp>,
    /// Alerts waiting.
    pub waiting: u64,
}

fn event_of(s: &str) -> Event {
    serde_json::from_value(serde_json::Value::String(s.into())).unwrap_or(Event::Test)
}

impl StateDb {
    /// Remembers that `username` signed in from `address` (a [`crate::source::signins::key_of`]);
    /// `true` when that was new.
    pub fn learn_signin_address(&self, username: &str, address: &str, at: Timestamp) -> Result<bool> {
        let n = self
            .relaxed(|c| {
                c.execute(
                    "INSERT OR IGNORE INTO signin_addresses (username, address, first_at) VALUES (?1, ?2, ?3)",
                    params![username, address, ts(at)],
                )
            })
            .map_err(|e| self.err("remembering a sign-in address", e))?;
        Ok(n == 1)
    }

    /// Queues `msg` for `channel`, to be tried at once.
    pub fn queue_alert(&self, channel: &str, msg: &Message) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO outbox (channel, event, title, body, created_at, next_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![channel, msg.event.as_str(), msg.title, msg.body, ts(msg.at)],
            )
            .map_err(|e| self.err("queueing an alert", e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// `channel`'s queued alerts, oldest first.
    pub fn queued_alerts(&self, channel: &str) -> Result<Vec<Queued>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, channel, event, title, body, created_at, attempts, next_at FROM outbox \
                 WHERE channel = ?1 ORDER BY id",
            )
            .map_err(|e| self.err("reading the alert queue", e))?;
        type Row = (i64, String, String, String, String, String, i64, String);
        let rows = stmt
            .query_map([channel], |r| -> rusqlite::Result<Row> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })
            .map_err(|e| self.err("reading the alert queue", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, channel, event, title, body, created, attempts, next) =
                row.map_err(|e| self.err("reading the alert queue", e))?;
            let (Some(at), Some(next_at)) = (parse_ts(&created), parse_ts(&next)) else { continue };
            out.push(Queued {
                id,
                channel,
                message: Message { event: event_of(&event), title, body, at },
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                next_at,
            });
        }
        Ok(out)
    }

    /// Removes a delivered alert and counts it.
    pub fn alert_delivered(&self, q: &Queued, now: Timestamp) -> Result<()> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .and_then(|()| self.conn.execute("DELETE FROM outbox WHERE id = ?1", [q.id]))
            .and_then(|_| {
                self.conn.execute(
                    "INSERT INTO alert_channels (name, delivered, last_ok_at) VALUES (?1, 1, ?2) \
                     ON CONFLICT(name) DO UPDATE SET delivered = delivered + 1, last_ok_at = excluded.last_ok_at",
                    params![q.channel, ts(now)],
                )
            })
            .and_then(|_| self.conn.execute_batch("COMMIT"))
            .map_err(|e| {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.err("recording a delivered alert", e)
            })
    }

    /// Puts off an alert until `next_at`, remembering why.
    pub fn alert_retry(&self, q: &Queued, next_at: Timestamp, why: &str, now: Timestamp) -> Result<()> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3 WHERE id = ?1",
                params![q.id, ts(next_at), why],
            )
            .and_then(|_| self.note_channel_error(&q.channel, why, now, false))
            .map_err(|e| self.err("putting off an alert", e))?;
        Ok(())
    }

    /// Gives up on an alert (refused for good, or too old), counting it as failed.
    pub fn alert_given_up(&self, q: &Queued, why: &str, now: Timestamp) -> Result<()> {
        self.conn
            .execute("DELETE FROM outbox WHERE id = ?1", [q.id])
            .and_then(|_| self.note_channel_error(&q.channel, why, now, true))
            .map_err(|e| self.err("giving up on an alert", e))?;
        Ok(())
    }

    fn note_channel_error(&self, channel: &str, why: &str, now: Timestamp, failed: bool) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO alert_channels (name, failed, last_error, last_error_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT(name) DO UPDATE SET failed = failed + excluded.failed, last_error = excluded.last_error, \
             last_error_at = excluded.last_error_at",
            params![channel, i64::from(failed), why, ts(now)],
        )?;
        Ok(())
    }

    /// Drops queued alerts of channels not in `keep`, and those older than `oldest`; returns how
    /// many went.
    pub fn prune_alerts(&self, keep: &[&str], oldest: Timestamp) -> Result<usize> {
        let queued: Vec<(i64, String, String)> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id, channel, created_at FROM outbox")
                .map_err(|e| self.err("reading the alert queue", e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(|e| self.err("reading the alert queue", e))?;
            rows.collect::<rusqlite::Result<_>>().map_err(|e| self.err("reading the alert queue", e))?
        };
        let mut gone = 0;
        for (id, channel, created) in queued {
            let old = parse_ts(&created).is_none_or(|t| t < oldest);
            if old || !keep.contains(&channel.as_str()) {
                gone += self
                    .conn
                    .execute("DELETE FROM outbox WHERE id = ?1", [id])
                    .map_err(|e| self.err("pruning the alert queue", e))?;
            }
        }
        Ok(gone)
    }

    /// How every channel that ever sent or queued something is doing.
    pub fn channel_tallies(&self) -> Result<Vec<ChannelTally>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT n.name, COALESCE(c.delivered, 0), COALESCE(c.failed, 0), c.last_ok_at, c.last_error, \
                 c.last_error_at, (SELECT COUNT(*) FROM outbox o WHERE o.channel = n.name) \
                 FROM (SELECT name FROM alert_channels UNION SELECT channel FROM outbox) n \
                 LEFT JOIN alert_channels c ON c.name = n.name ORDER BY n.name",
            )
            .map_err(|e| self.err("reading the alert channels", e))?;
        type Row = (String, i64, i64, Option<String>, Option<String>, Option<String>, i64);
        let rows = stmt
            .query_map([], |r| -> rusqlite::Result<Row> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
            })
            .map_err(|e| self.err("reading the alert channels", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, delivered, failed, ok_at, error, error_at, waiting) =
                row.map_err(|e| self.err("reading the alert channels", e))?;
            out.push(ChannelTally {
                name,
                delivered: u64::try_from(delivered).unwrap_or(0),
                failed: u64::try_from(failed).unwrap_or(0),
                last_ok_at: ok_at.as_deref().and_then(parse_ts),
                last_error: error,
                last_error_at: error_at.as_deref().and_then(parse_ts),
                waiting: u64::try_from(waiting).unwrap_or(0),
            });
        }
        Ok(out)
    }
}
