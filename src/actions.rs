//! Manual actions: ban, unban and clear, shared by the CLI and the desktop app.
//!
//! Each one validates its input the same way (a real IP, never a protected one), acts on
//! `logs.db` in OpenAlgo's schema, and appends an entry to Warden's audit log saying what was
//! done, when, from where and why.

use std::str::FromStr;

use serde::Serialize;

use crate::engine::BanLength;
use crate::error::{Error, Result};
use crate::event::Tracker;
use crate::ip::{canonicalize, display_raw, Protection};
use crate::store::logs_db::{BanWrite, LogsDb, NewBan};
use crate::store::state::{Actor, Offence, StateDb};
use crate::time::{rfc3339, Timestamp};

/// The `created_by` of a ban made by hand through Warden.
pub const MANUAL_CREATED_BY: &str = "warden:manual";

/// A ban duration as typed: `24h`, `48h`, `1w`, `permanent`, `<N>h`, `<N>d` or `<N>w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub BanLength);

impl FromStr for Duration {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        if matches!(t.as_str(), "permanent" | "perm" | "forever") {
            return Ok(Duration(BanLength::Permanent));
        }
        let bad = || Error::InvalidDuration(display_raw(s));
        let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
        let n: u32 = num.parse().map_err(|_| bad())?;
        let hours = match unit {
            "h" | "" => Some(n),
            "d" => n.checked_mul(24),
            "w" => n.checked_mul(168),
            _ => None,
        }
        .ok_or_else(bad)?;
        if hours == 0 || hours > 87_600 {
            return Err(bad());
        }
        Ok(Duration(BanLength::Hours(hours)))
    }
}

/// What a manual ban did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BanOutcome {
    /// Canonical address.
    pub ip: String,
    /// The `ip_address` values written.
    pub rows: Vec<String>,
    /// Whether the ban is permanent.
    pub permanent: bool,
    /// When it ends.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub expires_at: Option<Timestamp>,
    /// The `ban_count` written.
    pub ban_count: i64,
}

/// Bans `raw_ip` by hand for `length`. Refuses non-IPs and protected addresses, and refuses to
/// shorten a longer ban already in force (unban first to change it).
#[allow(clippy::too_many_arguments)]
pub fn ban(
    logs: &mut LogsDb,
    state: &StateDb,
    protection: &Protection,
    raw_ip: &str,
    length: BanLength,
    reason: Option<&str>,
    actor: Actor,
    now: Timestamp,
) -> Result<BanOutcome> {
    let ip = canonicalize(raw_ip)?;
    if let Some(why) = protection.check(ip) {
        return Err(Error::Protected { ip: ip.to_string(), why: why.to_string() });
    }
    let canonical = ip.to_string();
    let mut rows = vec![canonical.clone()];
    let typed = raw_ip.trim();
    if typed != canonical {
        rows.push(typed.to_string());
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty()).unwrap_or("Manual ban").to_string();
    let offence = state.offence_counts()?.get(&ip).copied().unwrap_or(0).saturating_add(1);
    let new = NewBan {
        ips: rows.clone(),
        reason: reason.clone(),
        length,
        at: now,
        created_by: MANUAL_CREATED_BY.into(),
        offence,
    };
    let ban_count = match logs.write_ban(&new)? {
        BanWrite::Written { ban_count } => ban_count,
        BanWrite::AlreadyStronger => return Err(Error::AlreadyBanned { ip: canonical }),
    };
    let expires_at = length.expires_at(now);
    state.record_offence(&Offence {
        ip: canonical.clone(),
        rule: "manual".into(),
        at: now,
        until: expires_at,
        source: "warden".into(),
        reason: Some(reason.clone()),
    })?;
    let detail = match expires_at {
        Some(t) => format!("until {}", rfc3339(t)),
        None => "permanent".into(),
    };
    state.audit(actor, "ban", Some(&canonical), Some(&detail), Some(&reason), now)?;
    Ok(BanOutcome { ip: canonical, rows, permanent: length.is_permanent(), expires_at, ban_count })
}

/// Lifts every ban of `raw_ip`, in any spelling. Offence history is kept, so a later ban still
/// counts as a repeat.
pub fn unban(logs: &mut LogsDb, state: &StateDb, raw_ip: &str, actor: Actor, now: Timestamp) -> Result<usize> {
    let ip = canonicalize(raw_ip)?.to_string();
    let n = logs.unban(&ip)?;
    if n == 0 {
        return Err(Error::NotBanned { ip });
    }
    state.audit(actor, "unban", Some(&ip), Some(&format!("{n} row(s) deleted")), None, now)?;
    Ok(n)
}

/// Clears OpenAlgo's tracker of `rule` for `raw_ip` (a fresh start for that address).
///
/// OpenAlgo's own clear route takes any string; Warden also accepts a stored non-IP string so
/// that garbage rows can be removed.
pub fn clear(
    logs: &mut LogsDb,
    state: &StateDb,
    tracker: Tracker,
    raw_ip: &str,
    actor: Actor,
    now: Timestamp,
) -> Result<usize> {
    let key = canonicalize(raw_ip).map(|ip| ip.to_string()).unwrap_or_else(|_| raw_ip.to_string());
    if key.trim().is_empty() && raw_ip.is_empty() {
        return Err(Error::InvalidIp { raw: String::new() });
    }
    let n = logs.clear_tracker(tracker, &key)?;
    let kind = match tracker {
        Tracker::NotFound => "404",
        Tracker::InvalidApiKey => "invalid API key",
    };
    if n == 0 {
        return Err(Error::NoTracker { ip: display_raw(&key), kind: kind.into() });
    }
    let action = match tracker {
        Tracker::NotFound => "clear-404",
        Tracker::InvalidApiKey => "clear-api",
    };
    state.audit(actor, action, Some(&key), Some(&format!("{n} row(s) deleted")), None, now)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s: &str| s.parse::<Duration>().map(|d| d.0);
        assert_eq!(d("24h").ok(), Some(BanLength::Hours(24)));
        assert_eq!(d("48h").ok(), Some(BanLength::Hours(48)));
        assert_eq!(d("1w").ok(), Some(BanLength::Hours(168)));
        assert_eq!(d("72").ok(), Some(BanLength::Hours(72)));
        assert_eq!(d("2d").ok(), Some(BanLength::Hours(48)));
        assert_eq!(d("Permanent").ok(), Some(BanLength::Permanent));
        for bad in ["0h", "-1h", "1y", "", "h", "99999999999h", "100000h"] {
            assert!(d(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
