//! Thresholds and ban lengths: the numbers the rules run on.

use chrono::Duration;
use serde::Serialize;

use crate::event::Rule;
use crate::time::Timestamp;

/// How long a ban lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BanLength {
    /// This many hours from the moment of the ban.
    Hours(u32),
    /// This many seconds from the moment of the ban (`[login] deny_seconds`).
    Seconds(u64),
    /// Until someone unbans it.
    Permanent,
    /// Until a given time (the rest of a ban extended to another spelling of the same client).
    Until(#[serde(with = "crate::time::serde_rfc3339")] Timestamp),
}

impl BanLength {
    /// OpenAlgo's convention: 0 hours means permanent.
    pub fn from_hours(hours: u32) -> Self {
        if hours == 0 {
            BanLength::Permanent
        } else {
            BanLength::Hours(hours)
        }
    }

    /// A length in seconds; 0 means permanent, as 0 hours does.
    pub fn from_seconds(seconds: u64) -> Self {
        if seconds == 0 {
            BanLength::Permanent
        } else {
            BanLength::Seconds(seconds)
        }
    }

    /// When a ban of this length that starts at `at` ends; `None` for permanent.
    pub fn expires_at(self, at: Timestamp) -> Option<Timestamp> {
        match self {
            BanLength::Hours(h) => Some(super::later(at, Duration::hours(i64::from(h)))),
            BanLength::Seconds(s) => Some(super::later(at, Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX)))),
            BanLength::Permanent => None,
            BanLength::Until(t) => Some(t),
        }
    }

    /// Whether the ban never ends.
    pub fn is_permanent(self) -> bool {
        matches!(self, BanLength::Permanent)
    }
}

/// The threshold and ban length of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleLimits {
    /// Events within the window that trigger a ban.
    pub threshold: u32,
    /// How long the first offences are banned.
    pub ban: BanLength,
}

/// What reaching a limit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Ban the address.
    Ban,
    /// Only tell the trader.
    Notice,
}

/// A per-minute limit on requests to paths starting with `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathLimit {
    /// Path prefix, e.g. `/auth/login`.
    pub prefix: String,
    /// Requests per minute per address before it is a burst.
    pub per_minute: u32,
}

/// Rate and burst detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateLimits {
    /// Requests per minute per address, over all paths, before it is a burst (0 = off).
    pub per_minute: u32,
    /// Tighter limits on some paths.
    pub paths: Vec<PathLimit>,
    /// What a burst does.
    pub action: Action,
    /// How long a burst ban lasts (when `action` is `Ban`).
    pub ban: BanLength,
}

/// Every number the engine decides with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    /// The 404 rule.
    pub not_found: RuleLimits,
    /// The invalid-API-key rule.
    pub api: RuleLimits,
    /// The failed-login rule.
    pub login: RuleLimits,
    /// What reaching the failed-login threshold does (a notice by default: a trader who mistypes
    /// a password must not lock themselves out).
    pub login_action: Action,
    /// Rate and burst limits.
    pub rate: RateLimits,
    /// The offence number that becomes permanent (3: the third ban is permanent).
    pub repeat_offender_limit: u32,
    /// `Some(enabled)` when these numbers follow OpenAlgo's settings: whether OpenAlgo's own
    /// auto-ban is on. When it is, OpenAlgo bans from its trackers itself and Warden only warns.
    pub openalgo_auto_ban: Option<bool>,
}

impl Thresholds {
    /// The limits of one rule.
    pub fn limits(&self, rule: Rule) -> RuleLimits {
        match rule {
            Rule::NotFound => self.not_found,
            Rule::InvalidApiKey => self.api,
            Rule::FailedLogin => self.login,
            Rule::Rate => RuleLimits { threshold: self.rate.per_minute, ban: self.rate.ban },
        }
    }

    /// What reaching the limit of `rule` does.
    pub fn action(&self, rule: Rule) -> Action {
        match rule {
            Rule::NotFound | Rule::InvalidApiKey => Action::Ban,
            Rule::FailedLogin => self.login_action,
            Rule::Rate => self.rate.action,
        }
    }

    /// The ban length for the `offence`-th ban (1-based) under `rule`: permanent from the repeat
    /// limit on.
    pub fn ban_for(&self, rule: Rule, offence: u32) -> BanLength {
        if offence >= self.repeat_offender_limit {
            BanLength::Permanent
        } else {
            self.limits(rule).ban
        }
    }

    /// Whether OpenAlgo itself bans from its own trackers, so Warden must not ban twice.
    pub fn openalgo_bans_itself(&self) -> bool {
        self.openalgo_auto_ban == Some(true)
    }
}
