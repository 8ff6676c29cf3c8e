//! The audit log: every manual ban, unban and clear, from the CLI or the desktop app, with who
//! ran it and why. Kept apart from the rest of the state, which Warden derives from what it reads.

use chrono::Utc;
use rusqlite::params;
use serde::Serialize;

use super::{parse_ts, ts, StateDb};
use crate::error::Result;
use crate::time::Timestamp;

/// Who performed a manual action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    /// The command line.
    Cli,
    /// The desktop app.
    Gui,
}

impl Actor {
    /// `cli` or `gui`.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Cli => "cli",
            Actor::Gui => "gui",
        }
    }
}

/// One audit-log entry: a manual action, when, from where, by whom and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When it happened.
    #[serde(with = "crate::time::serde_rfc3339")]
    pub at: Timestamp,
    /// `cli` or `gui`.
    pub actor: String,
    /// The OS user, if known.
    pub user: Option<String>,
    /// `ban`, `unban`, `clear-404`, `clear-api`.
    pub action: String,
    /// The address acted on.
    pub ip: Option<String>,
    /// What was done exactly (duration, rows affected).
    pub detail: Option<String>,
    /// The reason the user gave.
    pub reason: Option<String>,
}

impl StateDb {
    /// Appends an audit entry.
    pub fn audit(
        &self,
        actor: Actor,
        action: &str,
        ip: Option<&str>,
        detail: Option<&str>,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<()> {
        let user = os_user();
        self.conn
            .execute(
                "INSERT INTO audit (at, actor, user, action, ip, detail, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![ts(at), actor.as_str(), user, action, ip, detail, reason],
            )
            .map_err(|e| self.err("writing the audit log", e))?;
        Ok(())
    }

    /// The audit log, newest first, at most `limit` entries.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT at, actor, user, action, ip, detail, reason FROM audit ORDER BY id DESC LIMIT ?1")
            .map_err(|e| self.err("reading the audit log", e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    AuditEntry {
                        at: Utc::now(),
                        actor: r.get(1)?,
                        user: r.get(2)?,
                        action: r.get(3)?,
                        ip: r.get(4)?,
                        detail: r.get(5)?,
                        reason: r.get(6)?,
                    },
                ))
            })
            .map_err(|e| self.err("reading the audit log", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (at, mut entry) = row.map_err(|e| self.err("reading the audit log", e))?;
            let Some(at) = parse_ts(&at) else { continue };
            entry.at = at;
            out.push(entry);
        }
        Ok(out)
    }
}

/// Who is running Warden: `$USER` or `$LOGNAME`, else the name of this process's real uid in
/// `/etc/passwd` (a desktop app started by a launcher may have neither variable), else `uid N`.
fn os_user() -> Option<String> {
    if let Some(u) = ["USER", "LOGNAME"].iter().find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty())) {
        return Some(u);
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid).then(|| name.to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid {uid}")))
}
