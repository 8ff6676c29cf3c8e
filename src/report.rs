//! Read-only views of `logs.db`: what `status`, `bans` and `trackers` show.
//!
//! The JSON shapes are a contract: the desktop app and the tests rely on them. Times are RFC 3339
//! UTC. Only bans that OpenAlgo actually enforces at `now` are listed (expired rows awaiting
//! OpenAlgo's lazy delete, and rows OpenAlgo ignores, are left out).

use std::collections::HashSet;

use serde::Serialize;

use std::net::IpAddr;

use crate::engine::{later, near_at, Thresholds, WindowRecord, WINDOW};
use crate::error::Result;
use crate::event::{Rule, Source, Tracker};
use crate::ip::canonicalize;
use crate::store::logs_db::{BanEffect, LogsDb};
use crate::time::Timestamp;

/// The headline numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Status {
    /// Banned clients (distinct addresses, whatever the spelling of their rows).
    pub total_bans: usize,
    /// Of which permanent.
    pub permanent_bans: usize,
    /// Of which temporary.
    pub temporary_bans: usize,
    /// Unbanned addresses with a live tracker at a quarter of a threshold or more (OpenAlgo's
    /// dashboard uses 5 of 20).
    pub suspicious_ips: usize,
    /// Unbanned addresses at or above the near-threshold fraction but not yet banned.
    pub near_threshold: usize,
}

/// One ban in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BanView {
    /// The address exactly as stored (what OpenAlgo matches).
    pub ip: String,
    /// The reason.
    pub reason: Option<String>,
    /// When it was made.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub banned_at: Option<Timestamp>,
    /// When it ends; `null` for permanent.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub expires_at: Option<Timestamp>,
    /// Whether it never ends.
    pub permanent: bool,
    /// Repeat count.
    pub ban_count: Option<i64>,
    /// Who made it.
    pub created_by: Option<String>,
    /// Where it came from, in words: this server, another Warden (by machine name), or CrowdSec's
    /// scenario.
    pub origin: String,
}

/// Where a ban came from, in words, from its `created_by` and reason.
pub fn origin_words(created_by: Option<&str>, reason: Option<&str>) -> String {
    match created_by.unwrap_or("") {
        "warden:crowdsec" => {
            let r = reason.unwrap_or("").trim_start_matches("CrowdSec: ");
            let (scenario, from) = r.rsplit_once(", from ").unwrap_or((r, ""));
            match from.strip_prefix("warden@") {
                Some(machine) => format!("another Warden ({machine})"),
                None if from.is_empty() => format!("CrowdSec ({scenario})"),
                None => format!("CrowdSec ({scenario}, {from})"),
            }
        }
        "warden:policy" => "this server (an access policy)".into(),
        c if c.starts_with("warden:") => "this server (Warden)".into(),
        "manual" | "host_ban" => "this server (by hand in OpenAlgo)".into(),
        "404_detector" | "api_key_detector" => "this server (OpenAlgo)".into(),
        _ => "this server".into(),
    }
}

/// One live tracker entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackerView {
    /// The address exactly as stored.
    pub ip: String,
    /// `404` or `api`.
    pub kind: Rule,
    /// The count in the current window.
    pub count: u32,
    /// The threshold it is measured against.
    pub threshold: u32,
    /// Window start.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub first_at: Option<Timestamp>,
    /// Latest event.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub last_at: Option<Timestamp>,
    /// Paths tried (404 entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Hashes of the keys tried (API entries only); never the keys themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_hashes: Option<Vec<String>>,
    /// Where the count comes from.
    pub source: Source,
}

/// Bans in force at `now`, newest first.
pub fn bans(logs: &LogsDb, now: Timestamp) -> Result<Vec<BanView>> {
    let mut out: Vec<BanView> = logs
        .bans()?
        .into_iter()
        .filter_map(|r| {
            let (permanent, expires_at) = match r.effect(now) {
                BanEffect::Permanent => (true, None),
                BanEffect::Until(t) => (false, Some(t)),
                BanEffect::Expired | BanEffect::Ineffective => return None,
            };
            Some(BanView {
                origin: origin_words(r.created_by.as_deref(), r.reason.as_deref()),
                ip: r.ip,
                reason: r.reason,
                banned_at: r.banned_at,
                expires_at,
                permanent,
                ban_count: r.ban_count,
                created_by: r.created_by,
            })
        })
        .collect();
    out.sort_by_key(|b| std::cmp::Reverse(b.banned_at));
    Ok(out)
}

/// Live tracker entries (windows not yet over), highest share of the threshold first: OpenAlgo's
/// own trackers from `logs.db`, and Warden's counters from the access logs (`proxy`, as saved in
/// Warden's state).
pub fn trackers(
    logs: &LogsDb,
    proxy: &[(IpAddr, Rule, WindowRecord)],
    thresholds: &Thresholds,
    now: Timestamp,
) -> Result<Vec<TrackerView>> {
    let mut out = Vec::new();
    for (ip, rule, w) in proxy {
        if now >= later(w.first_at, WINDOW) || !matches!(rule, Rule::NotFound | Rule::InvalidApiKey) {
            continue;
        }
        let (paths, key_hashes) = match rule {
            Rule::NotFound => (Some(w.items.clone()), None),
            _ => (None, Some(w.items.clone())),
        };
        out.push(TrackerView {
            ip: ip.to_string(),
            kind: *rule,
            count: w.count,
            threshold: thresholds.limits(*rule).threshold,
            first_at: Some(w.first_at),
            last_at: Some(w.last_at),
            paths,
            key_hashes,
            source: Source::Proxy,
        });
    }
    for tracker in Tracker::ALL {
        let rule = tracker.rule();
        let threshold = thresholds.limits(rule).threshold;
        for row in logs.trackers(tracker)? {
            if row.first_at.is_some_and(|f| now >= later(f, WINDOW)) {
                continue;
            }
            let (paths, key_hashes) = match tracker {
                Tracker::NotFound => (Some(row.items), None),
                Tracker::InvalidApiKey => (None, Some(row.items)),
            };
            out.push(TrackerView {
                ip: row.ip,
                kind: rule,
                count: row.count,
                threshold,
                first_at: row.first_at,
                last_at: row.last_at,
                paths,
                key_hashes,
                source: Source::Openalgo,
            });
        }
    }
    out.sort_by(|a, b| {
        let share = |t: &TrackerView| u64::from(t.count) * 1_000_000 / u64::from(t.threshold.max(1));
        share(b).cmp(&share(a)).then_with(|| a.ip.cmp(&b.ip))
    });
    Ok(out)
}

/// The headline numbers at `now`.
pub fn status(
    logs: &LogsDb,
    proxy: &[(IpAddr, Rule, WindowRecord)],
    thresholds: &Thresholds,
    near_fraction: f64,
    now: Timestamp,
) -> Result<Status> {
    Ok(status_of(&bans(logs, now)?, &trackers(logs, proxy, thresholds, now)?, near_fraction))
}

/// The headline numbers of bans and trackers already read (the desktop's Overview reads them once
/// for the stat cards and the top offenders).
pub fn status_of(bans: &[BanView], trackers: &[TrackerView], near_fraction: f64) -> Status {
    // One client may have rows in several spellings (`2001:DB8::1` and `2001:db8::1`); count
    // clients, not rows.
    let banned: HashSet<String> = bans.iter().map(|b| key(&b.ip)).collect();
    let permanent: HashSet<String> = bans.iter().filter(|b| b.permanent).map(|b| key(&b.ip)).collect();
    let mut suspicious = HashSet::new();
    let mut near = HashSet::new();
    for t in trackers {
        let k = key(&t.ip);
        if banned.contains(&k) {
            continue;
        }
        if t.count >= t.threshold.div_ceil(4).max(1) {
            suspicious.insert(k.clone());
        }
        if t.count >= near_at(near_fraction, t.threshold) && t.count < t.threshold {
            near.insert(k);
        }
    }
    Status {
        total_bans: banned.len(),
        permanent_bans: permanent.len(),
        temporary_bans: banned.len() - permanent.len(),
        suspicious_ips: suspicious.len(),
        near_threshold: near.len(),
    }
}

/// One key per client: the canonical address, or the raw string when it is not an IP.
pub(crate) fn key(raw: &str) -> String {
    canonicalize(raw).map(|ip| ip.to_string()).unwrap_or_else(|_| raw.to_string())
}
