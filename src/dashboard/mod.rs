//! What the desktop app shows and does, without Tauri: the use-case layer behind its commands.
//!
//! Each Tauri command is a one-liner into a method of [`Desk`], so every view and every action is
//! tested here, with real files and no display. The JSON shapes are the contract with
//! `ui/src/ipc.ts`.
//!
//! Layout:
//! - [`overview`]: stat cards, source health, OpenAlgo's settings and warnings, the charts;
//! - [`traffic`]: recent requests from logs.db and the access logs, and the IP detail timeline;
//! - [`host`]: banning by host or domain (DNS and the Host header, one ban per distinct address);
//! - [`settings`]: the settings form, checked field by field, saved 0600.

pub mod access;
pub mod channels;
pub use crate::alert::words as alerts;
pub mod host;
pub mod overview;
pub mod settings;
pub mod traffic;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::actions::{self, BanOutcome};
use crate::config::{Config, Paths};
use crate::error::Error;
use crate::event::Tracker;
use crate::report::{self, key, BanView, TrackerView};
use crate::store::state::{Actor, AuditEntry, StateDb};
use crate::store::LogsDb;
use crate::time::Timestamp;

/// The error every command rejects with: a kind the UI can branch on, and words for the trader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeskError {
    /// `invalid_input`, `protected`, `refused` (it would lock the trader out), `not_found`,
    /// `invalid_settings` or `failed`.
    pub kind: &'static str,
    /// What went wrong and what to do, in one sentence.
    pub message: String,
    /// For `invalid_settings`: the message for each field, by the field's name in the form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

impl DeskError {
    /// An error about what the user typed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self { kind: "invalid_input", message: message.into(), fields: None }
    }
}

impl From<Error> for DeskError {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::InvalidIp { .. }
            | Error::InvalidDuration(_)
            | Error::AlreadyBanned { .. }
            | Error::InvalidPolicy(_) => "invalid_input",
            Error::Refused(_) => "refused",
            Error::Protected { .. } => "protected",
            Error::LogsDbMissing { .. } | Error::NotBanned { .. } | Error::NoTracker { .. } => "not_found",
            Error::Config { .. } => "invalid_settings",
            _ => "failed",
        };
        Self { kind, message: e.to_string(), fields: None }
    }
}

/// One tracker entry as the app lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackerRow {
    /// The entry.
    #[serde(flatten)]
    pub view: TrackerView,
    /// Whether a ban of this address is in force.
    pub banned: bool,
    /// Why this address can never be banned, in words; `None` if it can.
    pub protected: Option<String>,
}

/// Why the stored address `raw` can never be banned, in words: protected (loopback, private,
/// allow-list) or not an IP at all; `None` if it can be banned.
pub(crate) fn protected_reason(protection: &crate::ip::Protection, raw: &str) -> Option<String> {
    match crate::ip::canonicalize(raw) {
        Ok(ip) => protection.check(ip).map(|k| k.to_string()),
        Err(_) => Some("not an IP address: counted, but there is nothing to ban".into()),
    }
}

/// The result type of every desk method.
pub type DeskResult<T> = std::result::Result<T, DeskError>;

/// A manual ban's duration, as the form offers it.
pub fn parse_duration(choice: &str) -> DeskResult<crate::engine::BanLength> {
    match choice {
        "24h" | "48h" | "1w" | "permanent" => Ok(choice.parse::<actions::Duration>()?.0),
        other => Err(DeskError::invalid(format!(
            "the duration must be 24h, 48h, 1w or permanent, not '{}'",
            crate::ip::display_raw(other)
        ))),
    }
}

/// Everything the app needs to answer a command: the configuration in force and where things are.
#[derive(Debug, Clone)]
pub struct Desk {
    /// The configuration in force.
    pub cfg: Config,
    /// Resolved paths.
    pub paths: Paths,
    /// Where Settings saves (`None` when there is no home directory and no `--config`).
    pub config_path: Option<PathBuf>,
    /// Set when the app runs on the demo workspace: the banner's text.
    pub demo: Option<String>,
}

impl Desk {
    /// What must never be banned, the trader's own addresses included (read afresh: they
    /// change when the trader signs in from elsewhere).
    fn protection(&self) -> DeskResult<crate::ip::Protection> {
        Ok(self.paths.protection(&self.cfg, crate::time::now())?)
    }

    fn logs(&self) -> DeskResult<LogsDb> {
        Ok(LogsDb::open(&self.paths.logs_db)?)
    }

    fn state(&self) -> DeskResult<StateDb> {
        Ok(StateDb::open(&self.paths.state_db)?)
    }

    /// The server checklist ([`crate::check`]): OpenAlgo's `.env` beside `logs.db`'s `db/`
    /// folder, its files' modes, `nginx -T`, the listening sockets and OpenAlgo's settings row.
    /// Secrets are masked before they leave Rust.
    pub fn checklist(&self) -> crate::check::Report {
        crate::check::judge::judge(&crate::check::gather(&self.check_where()))
    }

    /// Where the checklist looks: OpenAlgo's folder found from `logs.db`'s path.
    pub fn check_where(&self) -> crate::check::facts::Where {
        crate::cli::check_where(&self.paths, None, Vec::new())
    }

    /// The thresholds in force (Warden's own, or OpenAlgo's when following it and readable).
    pub fn thresholds(&self) -> crate::engine::Thresholds {
        crate::cli::thresholds(&self.cfg, &self.paths).unwrap_or_else(|_| self.cfg.own_thresholds())
    }

    fn proxy_windows(&self) -> DeskResult<Vec<(std::net::IpAddr, crate::event::Rule, crate::engine::WindowRecord)>> {
        if !self.paths.state_db.exists() {
            return Ok(Vec::new());
        }
        Ok(self.state()?.windows()?)
    }

    /// Bans in force, newest first.
    pub fn bans(&self, now: Timestamp) -> DeskResult<Vec<BanView>> {
        Ok(report::bans(&self.logs()?, now)?)
    }

    /// Live trackers of both kinds, from logs.db and the access logs.
    pub fn trackers(&self, now: Timestamp) -> DeskResult<Vec<TrackerView>> {
        Ok(report::trackers(&self.logs()?, &self.proxy_windows()?, &self.thresholds(), now)?)
    }

    /// Live trackers as the app lists them: each says whether the address is banned already, and
    /// why it can never be banned (loopback, private, allow-list, not an IP), so the trader is
    /// not offered a ban that would be refused.
    pub fn tracker_rows(&self, now: Timestamp) -> DeskResult<Vec<TrackerRow>> {
        let logs = self.logs()?;
        let banned: std::collections::HashSet<String> = report::bans(&logs, now)?.iter().map(|b| key(&b.ip)).collect();
        let protection = self.protection()?;
        let rows = report::trackers(&logs, &self.proxy_windows()?, &self.thresholds(), now)?;
        Ok(rows
            .into_iter()
            .map(|view| TrackerRow {
                banned: banned.contains(&key(&view.ip)),
                protected: protected_reason(&protection, &view.ip),
                view,
            })
            .collect())
    }

    /// Bans `ip` by hand from the app.
    pub fn ban(&self, ip: &str, reason: &str, duration: &str, now: Timestamp) -> DeskResult<BanOutcome> {
        let length = parse_duration(duration)?;
        let reason = Some(reason).filter(|r| !r.trim().is_empty());
        let mut logs = self.logs()?;
        Ok(actions::ban(&mut logs, &self.state()?, &self.protection()?, ip, length, reason, Actor::Gui, now)?)
    }

    /// Lifts every ban of `ip`.
    pub fn unban(&self, ip: &str, now: Timestamp) -> DeskResult<usize> {
        Ok(actions::unban(&mut self.logs()?, &self.state()?, ip, Actor::Gui, now)?)
    }

    /// Clears `ip` from the `404` or `api` tracker.
    pub fn clear(&self, ip: &str, kind: &str, now: Timestamp) -> DeskResult<usize> {
        let tracker = match kind {
            "404" => Tracker::NotFound,
            "api" => Tracker::InvalidApiKey,
            other => {
                return Err(DeskError::invalid(format!(
                    "the tracker must be 404 or api, not '{}'",
                    crate::ip::display_raw(other)
                )))
            }
        };
        Ok(actions::clear(&mut self.logs()?, &self.state()?, tracker, ip, Actor::Gui, now)?)
    }

    /// The audit log, newest first.
    pub fn audit(&self, limit: usize) -> DeskResult<Vec<AuditEntry>> {
        if !self.paths.state_db.exists() {
            return Ok(Vec::new());
        }
        Ok(self.state()?.audit_log(limit.min(10_000))?)
    }
}

impl Desk {
    /// Only the stat cards (for the tray), cheaper than the whole overview.
    pub fn overview_status(&self, now: Timestamp) -> DeskResult<report::Status> {
        let logs = self.logs()?;
        Ok(report::status(&logs, &self.proxy_windows()?, &self.thresholds(), self.cfg.near_fraction, now)?)
    }
}
