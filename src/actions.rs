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
use crate::policy::{self, Access, Policy};
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

/// Adds an access policy (or replaces the one for the same value): `raw` is an address or a CIDR
/// range, `ttl` seconds or `30m`, `24h`, `7d` (`None`: until removed). A deny entry that holds or
/// touches a protected address (loopback, private ranges, the trader's own addresses, the
/// allow-list and the allow entries) is refused with the reason, as [`ban`] refuses one.
#[allow(clippy::too_many_arguments)]
pub fn add_policy(
    state: &StateDb,
    protection: &Protection,
    access: Access,
    raw: &str,
    ttl: Option<&str>,
    reason: Option<&str>,
    actor: Actor,
    now: Timestamp,
) -> Result<Policy> {
    let value = policy::parse_value(raw)?;
    let ttl_seconds = ttl.map(policy::parse_ttl).transpose()?;
    let live = state.policies(now)?;
    if access == Access::Deny {
        let protection = protection.clone().with_policy_allow(policy::allow_nets(&live, now));
        if let Some(why) = policy::deny_refusal(&value, &protection) {
            return Err(Error::Protected { ip: policy::text(&value), why: why.to_string() });
        }
    }
    let expires_at = ttl_seconds.map(|s| now + chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX)));
    let p = Policy {
        value,
        policy: access,
        ttl_seconds,
        expires_at,
        created_at: now,
        reason: reason.map(str::trim).unwrap_or_default().to_string(),
        created_by: actor.as_str().to_string(),
    };
    let replaced = live.iter().find(|q| q.value == value).map(|q| q.policy);
    state.put_policy(&p)?;
    let detail = match (expires_at, replaced) {
        (Some(t), None) => format!("{access} until {}", rfc3339(t)),
        (None, None) => format!("{access} until removed"),
        (Some(t), Some(was)) => format!("{access} until {} (was {was})", rfc3339(t)),
        (None, Some(was)) => format!("{access} until removed (was {was})"),
    };
    let reason = Some(p.reason.as_str()).filter(|r| !r.is_empty());
    state.audit(actor, "policy-add", Some(&policy::text(&value)), Some(&detail), reason, now)?;
    Ok(p)
}

/// Removes the access policy for `raw` (any spelling of the same address or range).
pub fn remove_policy(state: &StateDb, raw: &str, actor: Actor, now: Timestamp) -> Result<Policy> {
    let value = policy::parse_value(raw)?;
    let text = policy::text(&value);
    let Some(p) = state.policies(now)?.into_iter().find(|p| p.value == value) else {
        return Err(Error::InvalidPolicy(format!("there is no policy for {text}: `warden policy list` lists them")));
    };
    state.remove_policy(&text)?;
    state.audit(actor, "policy-rm", Some(&text), Some(&format!("{} removed", p.policy)), None, now)?;
    Ok(p)
}

/// Bans a whole range by hand for `length`: a deny policy with that time to live, refused as
/// [`add_policy`] refuses one. `raw` must hold a `/`.
pub fn ban_range(
    state: &StateDb,
    protection: &Protection,
    raw: &str,
    length: BanLength,
    reason: Option<&str>,
    actor: Actor,
    now: Timestamp,
) -> Result<Policy> {
    let ttl = match length {
        BanLength::Permanent => None,
        other => other.expires_at(now).map(|t| ((t - now).num_seconds().max(1)).to_string()),
    };
    let reason = reason.map(str::trim).filter(|r| !r.is_empty()).unwrap_or("Manual ban");
    add_policy(state, protection, Access::Deny, raw, ttl.as_deref(), Some(reason), actor, now)
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
