//! OpenAlgo's security settings: the first row of `settings` in `openalgo.db` (spec §4.1).
//!
//! Warden only reads this file. The NULL and 0 handling mirrors `get_security_settings()`, so
//! "follow OpenAlgo" means the same numbers OpenAlgo itself would use.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use super::value;
use crate::engine::{BanLength, RuleLimits, Thresholds};
use crate::error::{Error, Result};

/// The six security columns of OpenAlgo's settings row, as stored (NULL is possible).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SettingsRow {
    /// `security_auto_ban_enabled`.
    pub auto_ban_enabled: Option<bool>,
    /// `security_404_threshold`.
    pub threshold_404: Option<i64>,
    /// `security_404_ban_duration`, hours, 0 = permanent.
    pub ban_duration_404: Option<i64>,
    /// `security_api_threshold`.
    pub threshold_api: Option<i64>,
    /// `security_api_ban_duration`, hours, 0 = permanent.
    pub ban_duration_api: Option<i64>,
    /// `security_repeat_offender_limit`.
    pub repeat_offender_limit: Option<i64>,
}

fn threshold(v: Option<i64>) -> u32 {
    // NULL or 0 → 100, as OpenAlgo does. A negative value (impossible through OpenAlgo's form)
    // would make OpenAlgo ban on every request; Warden takes the default instead.
    match v {
        Some(n) if n >= 1 => u32::try_from(n).unwrap_or(u32::MAX),
        _ => 100,
    }
}

fn duration(v: Option<i64>, fallback_hours: u32) -> BanLength {
    // NULL → 0 → permanent, as OpenAlgo does. A negative value would write an already-expired
    // ban in OpenAlgo; Warden takes its own default length instead of a ban that does nothing.
    match v {
        None | Some(0) => BanLength::Permanent,
        // Above ten years is as good as permanent; the cap keeps expiry arithmetic in range.
        Some(n) if n > 87_600 => BanLength::Permanent,
        Some(n) if n > 0 => BanLength::Hours(n as u32),
        Some(_) => BanLength::Hours(fallback_hours),
    }
}

impl SettingsRow {
    /// The thresholds OpenAlgo would use with this row. OpenAlgo has no login or rate rules, so
    /// those come from `base` (Warden's own configuration).
    pub fn thresholds(&self, base: &Thresholds) -> Thresholds {
        Thresholds {
            not_found: RuleLimits {
                threshold: threshold(self.threshold_404),
                ban: duration(self.ban_duration_404, 24),
            },
            api: RuleLimits { threshold: threshold(self.threshold_api), ban: duration(self.ban_duration_api, 48) },
            repeat_offender_limit: match self.repeat_offender_limit {
                Some(n) if n >= 1 => u32::try_from(n).unwrap_or(u32::MAX),
                _ => 2,
            },
            openalgo_auto_ban: Some(self.auto_ban_enabled.unwrap_or(false)),
            ..base.clone()
        }
    }
}

/// A read-only view of `openalgo.db`.
#[derive(Debug)]
pub struct OpenAlgoDb {
    conn: Connection,
    path: PathBuf,
}

const COLUMNS: [&str; 6] = [
    "security_auto_ban_enabled",
    "security_404_threshold",
    "security_404_ban_duration",
    "security_api_threshold",
    "security_api_ban_duration",
    "security_repeat_offender_limit",
];

impl OpenAlgoDb {
    /// Opens `openalgo.db` for reading.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::OpenAlgoSettings(format!(
                "{} not found: pass --openalgo-db PATH (it sits beside logs.db), or set thresholds = \"warden\"",
                path.display()
            )));
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| Error::sqlite(path, format!("opening {}", path.display()), e))?;
        conn.busy_timeout(super::logs_db::BUSY_TIMEOUT).map_err(|e| Error::sqlite(path, "setting busy_timeout", e))?;
        Ok(Self { conn, path: path.to_path_buf() })
    }

    /// SQLite's `data_version`, to notice OpenAlgo saving new settings.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| Error::sqlite(&self.path, "checking openalgo.db for changes", e))
    }

    /// The first settings row (`Settings.query.first()`), or the defaults when there is none.
    pub fn read(&self) -> Result<SettingsRow> {
        let present: Vec<String> = self
            .conn
            .prepare("SELECT name FROM pragma_table_info('settings')")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| Error::sqlite(&self.path, "reading openalgo.db's settings table", e))?;
        if present.is_empty() {
            return Err(Error::OpenAlgoSettings(format!(
                "{} has no settings table: is it OpenAlgo's openalgo.db?",
                self.path.display()
            )));
        }
        if let Some(missing) = COLUMNS.iter().find(|c| !present.iter().any(|p| p == *c)) {
            return Err(Error::OpenAlgoSettings(format!(
                "{} lacks the column {missing}: this OpenAlgo predates its security settings; update it, or set thresholds = \"warden\"",
                self.path.display()
            )));
        }
        let sql = format!("SELECT {} FROM settings LIMIT 1", COLUMNS.join(", "));
        let row = self
            .conn
            .query_row(&sql, [], |r| {
                Ok(SettingsRow {
                    auto_ban_enabled: value::boolean(r.get_ref(0)?),
                    threshold_404: value::int(r.get_ref(1)?),
                    ban_duration_404: value::int(r.get_ref(2)?),
                    threshold_api: value::int(r.get_ref(3)?),
                    ban_duration_api: value::int(r.get_ref(4)?),
                    repeat_offender_limit: value::int(r.get_ref(5)?),
                })
            })
            .optional()
            .map_err(|e| Error::sqlite(&self.path, "reading openalgo.db's settings", e))?;
        Ok(row.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_zero_follow_openalgo() {
        let base = crate::config::Config::default().own_thresholds();
        let t = SettingsRow { threshold_404: Some(0), ..Default::default() }.thresholds(&base);
        assert_eq!(t.not_found.threshold, 100);
        assert_eq!(t.not_found.ban, BanLength::Permanent);
        assert_eq!(t.api.threshold, 100);
        assert_eq!(t.repeat_offender_limit, 2);
        assert_eq!(t.openalgo_auto_ban, Some(false));
        let t = SettingsRow {
            auto_ban_enabled: Some(true),
            threshold_404: Some(20),
            ban_duration_404: Some(24),
            threshold_api: Some(10),
            ban_duration_api: Some(48),
            repeat_offender_limit: Some(3),
        }
        .thresholds(&base);
        assert_eq!(t.not_found, RuleLimits { threshold: 20, ban: BanLength::Hours(24) });
        assert_eq!(t.api, RuleLimits { threshold: 10, ban: BanLength::Hours(48) });
        assert_eq!(t.repeat_offender_limit, 3);
        assert!(t.openalgo_bans_itself());
    }
}
