//! Access policies and the allow-list-only mode, kept in Warden's state database. Every change
//! bumps the `policies` change counter (through triggers), so a running monitor sees a change made
//! by the CLI or the app at its next round.

use rusqlite::{params, OptionalExtension};

use super::{parse_ts, ts, StateDb};
use crate::error::Result;
use crate::policy::{parse_value, text, Access, Policy};
use crate::time::Timestamp;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS policies (
    value TEXT PRIMARY KEY,
    policy TEXT NOT NULL CHECK (policy IN ('allow', 'deny')),
    ttl_seconds INTEGER,
    expires_at TEXT,
    created_at TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS modes (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    at TEXT NOT NULL,
    by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sinks (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    entries INTEGER NOT NULL,
    applied_at TEXT,
    error TEXT,
    at TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS policies_insert AFTER INSERT ON policies BEGIN
    INSERT INTO changes (what, n) VALUES ('policies', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS policies_update AFTER UPDATE ON policies BEGIN
    INSERT INTO changes (what, n) VALUES ('policies', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS policies_delete AFTER DELETE ON policies BEGIN
    INSERT INTO changes (what, n) VALUES ('policies', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS modes_insert AFTER INSERT ON modes BEGIN
    INSERT INTO changes (what, n) VALUES ('policies', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS modes_update AFTER UPDATE ON modes BEGIN
    INSERT INTO changes (what, n) VALUES ('policies', 1) ON CONFLICT(what) DO UPDATE SET n = n + 1;
END;
";

/// The file whose change wakes a running monitor after a policy or the mode changed (the state
/// database itself is not watched: the monitor writes it all the time).
pub fn wake_file(state_db: &std::path::Path) -> std::path::PathBuf {
    state_db.with_file_name("policies.changed")
}

/// The allow-list-only mode's row in `modes`.
const ALLOW_ONLY: &str = "allow_only";

impl StateDb {
    /// Wakes a running monitor: a policy or the mode changed.
    fn wake(&self) {
        // A monitor that is not woken still sees the change at its next poll.
        let _ = crate::store::private::write_private(
            &wake_file(&self.path),
            crate::time::rfc3339(crate::time::now()).as_bytes(),
        );
    }

    /// Records how an enforcement sink is doing, for `warden enforce status` in another process.
    pub fn save_sink_status(&self, s: &crate::enforce::SinkStatus, at: Timestamp) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO sinks (name, state, entries, applied_at, error, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT(name) DO UPDATE SET state = excluded.state, entries = excluded.entries, \
                 applied_at = excluded.applied_at, error = excluded.error, at = excluded.at",
                params![
                    s.name,
                    s.state.as_str(),
                    i64::try_from(s.entries).unwrap_or(i64::MAX),
                    s.applied_at.map(ts),
                    s.error,
                    ts(at)
                ],
            )
            .map_err(|e| self.err("recording an enforcement status", e))?;
        Ok(())
    }

    /// The enforcement statuses the monitor last recorded, with when each was recorded.
    pub fn sink_statuses(&self) -> Result<Vec<(crate::enforce::SinkStatus, Timestamp)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, state, entries, applied_at, error, at FROM sinks ORDER BY name")
            .map_err(|e| self.err("reading the enforcement statuses", e))?;
        type Row = (String, String, i64, Option<String>, Option<String>, String);
        let rows = stmt
            .query_map([], |r| -> rusqlite::Result<Row> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .map_err(|e| self.err("reading the enforcement statuses", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, state, entries, applied, error, at) =
                row.map_err(|e| self.err("reading the enforcement statuses", e))?;
            let (Some(state), Some(at)) = (crate::enforce::SinkState::parse(&state), parse_ts(&at)) else { continue };
            let status = crate::enforce::SinkStatus {
                name,
                state,
                entries: usize::try_from(entries).unwrap_or(0),
                applied_at: applied.as_deref().and_then(parse_ts),
                error,
            };
            out.push((status, at));
        }
        Ok(out)
    }

    /// Adds a policy, or replaces the one for the same value.
    pub fn put_policy(&self, p: &Policy) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO policies (value, policy, ttl_seconds, expires_at, created_at, reason, created_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT(value) DO UPDATE SET policy = excluded.policy, ttl_seconds = excluded.ttl_seconds, \
                 expires_at = excluded.expires_at, created_at = excluded.created_at, reason = excluded.reason, \
                 created_by = excluded.created_by",
                params![
                    text(&p.value),
                    p.policy.as_str(),
                    p.ttl_seconds.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
                    p.expires_at.map(ts),
                    ts(p.created_at),
                    p.reason,
                    p.created_by
                ],
            )
            .map_err(|e| self.err("saving an access policy", e))?;
        self.wake();
        Ok(())
    }

    /// Removes the policy for `value` (canonical text). Returns whether there was one.
    pub fn remove_policy(&self, value: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM policies WHERE value = ?1", params![value])
            .map_err(|e| self.err("removing an access policy", e))?;
        self.wake();
        Ok(n > 0)
    }

    /// Deletes the policies that expired by `now`; returns how many.
    pub fn purge_policies(&self, now: Timestamp) -> Result<usize> {
        self.conn
            .execute("DELETE FROM policies WHERE expires_at IS NOT NULL AND expires_at <= ?1", params![ts(now)])
            .map_err(|e| self.err("removing expired access policies", e))
    }

    /// The policies in force at `now`, by value. A row that cannot be read (edited by hand) is
    /// skipped rather than failing the whole list.
    pub fn policies(&self, now: Timestamp) -> Result<Vec<Policy>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT value, policy, ttl_seconds, expires_at, created_at, reason, created_by FROM policies \
                 ORDER BY value",
            )
            .map_err(|e| self.err("reading the access policies", e))?;
        type Row = (String, String, Option<i64>, Option<String>, String, String, String);
        let rows = stmt
            .query_map([], |r| -> rusqlite::Result<Row> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
            })
            .map_err(|e| self.err("reading the access policies", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (value, policy, ttl, expires, created, reason, created_by) =
                row.map_err(|e| self.err("reading the access policies", e))?;
            let (Ok(value), Ok(policy), Some(created_at)) =
                (parse_value(&value), policy.parse::<Access>(), parse_ts(&created))
            else {
                continue;
            };
            let expires_at = match expires {
                Some(t) => match parse_ts(&t) {
                    Some(t) => Some(t),
                    None => continue,
                },
                None => None,
            };
            let p = Policy {
                value,
                policy,
                ttl_seconds: ttl.and_then(|s| u64::try_from(s).ok()),
                expires_at,
                created_at,
                reason,
                created_by,
            };
            if p.live(now) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Whether the allow-list-only mode is on.
    pub fn allow_only(&self) -> Result<bool> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM modes WHERE name = ?1", params![ALLOW_ONLY], |r| r.get(0))
            .optional()
            .map_err(|e| self.err("reading the allow-list-only mode", e))?;
        Ok(v.as_deref() == Some("on"))
    }

    /// Turns the allow-list-only mode on or off.
    pub fn set_allow_only(&self, on: bool, by: &str, at: Timestamp) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO modes (name, value, at, by) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value, at = excluded.at, by = excluded.by",
                params![ALLOW_ONLY, if on { "on" } else { "off" }, ts(at), by],
            )
            .map_err(|e| self.err("setting the allow-list-only mode", e))?;
        self.wake();
        Ok(())
    }

    /// A number that changes whenever a policy or the mode changes, whoever changes it.
    pub fn policies_version(&self) -> Result<i64> {
        self.conn
            .prepare_cached("SELECT n FROM changes WHERE what = 'policies'")
            .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
            .map(|n| n.unwrap_or(0))
            .map_err(|e| self.err("checking for changed access policies", e))
    }
}
