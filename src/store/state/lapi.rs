//! What Warden pushed to CrowdSec's Local API: one row per address or range, with the LAPI's
//! decision ids, so that a lifted ban deletes only Warden's own decisions, and nothing is pushed
//! twice across restarts.

use rusqlite::params;

use super::{parse_ts, ts, StateDb};
use crate::error::Result;
use crate::time::Timestamp;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS lapi_pushed (
    value TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    scenario TEXT NOT NULL,
    until TEXT,
    decisions TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
";

/// One pushed ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The address or range, canonical.
    pub value: String,
    /// `Ip` or `Range`.
    pub scope: String,
    /// The scenario it was pushed with.
    pub scenario: String,
    /// When it ends; `None` for never.
    pub until: Option<Timestamp>,
    /// The LAPI's decision ids.
    pub decisions: Vec<i64>,
}

impl StateDb {
    /// Everything pushed and not forgotten.
    pub fn lapi_pushed(&self) -> Result<Vec<Pushed>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value, scope, scenario, until, decisions FROM lapi_pushed ORDER BY value")
            .map_err(|e| self.err("reading what was pushed to CrowdSec", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(|e| self.err("reading what was pushed to CrowdSec", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (value, scope, scenario, until, decisions) =
                row.map_err(|e| self.err("reading what was pushed to CrowdSec", e))?;
            out.push(Pushed {
                value,
                scope,
                scenario,
                until: until.as_deref().and_then(parse_ts),
                decisions: decisions.split(',').filter_map(|d| d.trim().parse().ok()).collect(),
            });
        }
        Ok(out)
    }

    /// Records a push the LAPI took.
    pub fn save_lapi_pushed(
        &self,
        scope: &str,
        value: &str,
        scenario: &str,
        until: Option<Timestamp>,
        decisions: &[i64],
        now: Timestamp,
    ) -> Result<()> {
        let ids: Vec<String> = decisions.iter().map(i64::to_string).collect();
        self.conn
            .execute(
                "INSERT INTO lapi_pushed (value, scope, scenario, until, decisions, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT(value) DO UPDATE SET scope = excluded.scope, scenario = excluded.scenario, \
                 until = excluded.until, decisions = excluded.decisions, at = excluded.at",
                params![value, scope, scenario, until.map(ts), ids.join(","), ts(now)],
            )
            .map_err(|e| self.err("recording a push to CrowdSec", e))?;
        Ok(())
    }

    /// Forgets a pushed ban (lifted, or over).
    pub fn forget_lapi_pushed(&self, value: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM lapi_pushed WHERE value = ?1", [value])
            .map_err(|e| self.err("forgetting a push to CrowdSec", e))?;
        Ok(())
    }
}
