//! What the monitor reports: one [`Notice`] per thing worth telling the trader.
//!
//! The CLI prints notices as lines (or JSON lines with `--json`); the desktop shell maps them to UI
//! events and desktop alerts. Attacker-controlled strings inside them are data: `Display` escapes
//! control characters so a hostile "IP" cannot forge a line of output.

use std::fmt;

use serde::Serialize;

use crate::engine::{Thresholds, Verdict};
use crate::event::{Rule, Source};
use crate::ip::display_raw;
use crate::source::openalgo::Health;
use crate::time::{rfc3339, Timestamp};

/// Something the monitor did or saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// Warden wrote a ban into `logs.db`.
    Banned {
        /// Canonical address.
        ip: String,
        /// The `ip_address` values written (the canonical and the raw spelling).
        rows: Vec<String>,
        /// The rule that fired.
        rule: Rule,
        /// The reason written.
        reason: String,
        /// The count that reached the threshold.
        count: u32,
        /// The threshold.
        threshold: u32,
        /// This address's offence number.
        offence: u32,
        /// The `ban_count` written.
        ban_count: i64,
        /// Whether the ban is permanent.
        permanent: bool,
        /// When it ends.
        #[serde(with = "crate::time::serde_rfc3339::option")]
        expires_at: Option<Timestamp>,
        /// Where the requests were seen.
        source: Source,
        /// When.
        #[serde(with = "crate::time::serde_rfc3339")]
        at: Timestamp,
    },
    /// An address reached the near-threshold fraction (once per window).
    NearThreshold {
        /// Canonical address.
        ip: String,
        /// The rule.
        rule: Rule,
        /// The count.
        count: u32,
        /// The threshold.
        threshold: u32,
        /// Where the requests were seen.
        source: Source,
        /// When the window started.
        #[serde(with = "crate::time::serde_rfc3339")]
        window_start: Timestamp,
    },
    /// A protected address reached a threshold and was not banned.
    Protected {
        /// Canonical address.
        ip: String,
        /// The rule.
        rule: Rule,
        /// The count.
        count: u32,
        /// Why it is protected, in words.
        why: String,
    },
    /// A rule whose action is a notice reached its threshold.
    Reached {
        /// Canonical address.
        ip: String,
        /// The rule.
        rule: Rule,
        /// The count.
        count: u32,
        /// The threshold.
        threshold: u32,
    },
    /// An address went over a per-minute limit (the configured action is a notice).
    Burst {
        /// Canonical address.
        ip: String,
        /// The path prefix of the limit, or `null` for all requests.
        scope: Option<String>,
        /// Requests in the minute.
        count: u32,
        /// The limit.
        limit: u32,
    },
    /// OpenAlgo's own auto-ban will ban this address; Warden did not ban twice.
    LeftToOpenAlgo {
        /// Canonical address.
        ip: String,
        /// The rule.
        rule: Rule,
        /// The count.
        count: u32,
    },
    /// A source reported a client address that is not an IP.
    NotAnIp {
        /// The string, escaped and shortened.
        raw: String,
        /// The rule it was counted under.
        rule: Rule,
        /// Where.
        source: Source,
    },
    /// A row Warden read but cannot act on (reported once per change of that row).
    Unreadable {
        /// Which table and row.
        what: String,
        /// The address stored in it, escaped and shortened.
        ip: String,
        /// Why, in words.
        why: String,
    },
    /// A ban could not be written yet; Warden keeps it and retries.
    BanPending {
        /// Canonical address.
        ip: String,
        /// Why the write failed.
        error: String,
    },
    /// A source changed health.
    Source {
        /// `logs.db` or `openalgo.db`.
        name: String,
        /// Its path.
        path: String,
        /// Its state.
        health: Health,
    },
    /// The thresholds in force changed (or were loaded).
    Thresholds {
        /// `warden` or `openalgo`.
        from: String,
        /// The numbers.
        thresholds: Thresholds,
    },
    /// Requests OpenAlgo logged in the last minute.
    Traffic {
        /// All requests.
        requests: u64,
        /// Answered 404.
        not_found: u64,
        /// Answered 401 or 403.
        denied: u64,
        /// Answered 5xx.
        errors: u64,
    },
    /// An address reached the invalid-key threshold, but it also made successful API calls in the
    /// last 24 h: a client of the trader's keeps using an old key. Not banned.
    StaleKey {
        /// Canonical address.
        ip: String,
        /// Invalid keys counted.
        count: u32,
        /// The threshold.
        threshold: u32,
        /// Its last successful API call.
        #[serde(with = "crate::time::serde_rfc3339")]
        last_ok: Timestamp,
    },
    /// Several addresses of one IPv6 `/64` were banned, so the whole `/64` is now refused (a deny
    /// entry; see `rules.ipv6_prefix_after`).
    RangeDenied {
        /// The `/64`.
        range: String,
        /// How many of its addresses were banned.
        banned: usize,
        /// When the entry ends; `None` for never.
        #[serde(with = "crate::time::serde_rfc3339::option")]
        expires_at: Option<Timestamp>,
    },
    /// An enforcement point (nginx, nftables) started or stopped holding the desired state.
    Sink {
        /// `nginx` or `nftables`.
        name: String,
        /// `working` or `failing`.
        state: crate::enforce::SinkState,
        /// Ranges and addresses refused there.
        entries: usize,
        /// Why it is failing.
        error: Option<String>,
    },
    /// The server checklist ([`crate::check`]) came out differently when it ran again by itself
    /// (OpenAlgo's `.env`, a file's mode or nginx's configuration changed).
    Checklist(crate::check::recheck::Recheck),
    /// A successful sign-in to OpenAlgo (one per sign-in: the broker step's second row is folded
    /// into the first).
    SignIn(crate::source::signins::SignIn),
    /// What the CrowdSec thread has to say: a decision not enforced (protected, or a scope or
    /// duration Warden cannot use), or a warning about the set-up.
    Crowdsec {
        /// In words.
        message: String,
    },
    /// An alert channel started or stopped delivering.
    Delivery {
        /// The channel's name.
        channel: String,
        /// Whether its last alert went out.
        working: bool,
        /// Why it is failing, in words (secrets scrubbed).
        error: Option<String>,
    },
}

impl Notice {
    /// The notice for a verdict that needs no action first; `None` for a ban, which becomes a
    /// notice only once it is written.
    pub fn from_verdict(v: Verdict) -> Option<Notice> {
        Some(match v {
            Verdict::Ban(_) => return None,
            Verdict::Near(n) => Notice::NearThreshold {
                ip: n.ip.to_string(),
                rule: n.rule,
                count: n.count,
                threshold: n.threshold,
                source: n.source,
                window_start: n.window_start,
            },
            Verdict::Protected { ip, rule, count, why } => {
                Notice::Protected { ip: ip.to_string(), rule, count, why: why.to_string() }
            }
            Verdict::LeftToOpenAlgo { ip, rule, count } => Notice::LeftToOpenAlgo { ip: ip.to_string(), rule, count },
            Verdict::NotAnIp { raw, rule, source } => Notice::NotAnIp { raw, rule, source },
            Verdict::Reached { ip, rule, count, threshold } => {
                Notice::Reached { ip: ip.to_string(), rule, count, threshold }
            }
            Verdict::Burst { ip, scope, count, limit } => Notice::Burst { ip: ip.to_string(), scope, count, limit },
            Verdict::StaleKey { ip, count, threshold, last_ok } => {
                Notice::StaleKey { ip: ip.to_string(), count, threshold, last_ok }
            }
        })
    }
}

fn rule_line(rule: Rule, count: u32, threshold: u32) -> String {
    format!("{count} of {threshold} {} in 24 h", rule.noun())
}

fn length(permanent: bool, expires_at: Option<Timestamp>) -> String {
    match (permanent, expires_at) {
        (true, _) | (_, None) => "permanently".into(),
        (false, Some(t)) => format!("until {}", rfc3339(t)),
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Banned { ip, rule, count, threshold, offence, permanent, expires_at, reason, .. } => write!(
                f,
                "BANNED     {ip} {} ({}, offence {offence}): {}",
                length(*permanent, *expires_at),
                rule_line(*rule, *count, *threshold),
                display_raw(reason)
            ),
            Notice::NearThreshold { ip, rule, count, threshold, .. } => {
                write!(f, "NEAR       {ip}: {}", rule_line(*rule, *count, *threshold))
            }
            Notice::Protected { ip, rule, count, why } => {
                write!(f, "PROTECTED  {ip} reached {count} {} but is never banned: it is {why}", rule.noun())
            }
            Notice::Reached { ip, rule, count, threshold } => {
                write!(f, "REACHED    {ip}: {} (notice only, not banned)", rule_line(*rule, *count, *threshold))
            }
            Notice::Burst { ip, scope, count, limit } => write!(
                f,
                "BURST      {ip}: {count} requests in one minute{} (limit {limit})",
                scope.as_deref().map(|s| format!(" to {s}")).unwrap_or_default()
            ),
            Notice::LeftToOpenAlgo { ip, rule, count } => write!(
                f,
                "OPENALGO   {ip} reached {count} {}; OpenAlgo's own auto-ban is on and bans it",
                rule.noun()
            ),
            Notice::NotAnIp { raw, rule, .. } => {
                write!(f, "NOT AN IP  \"{raw}\" was counted for {}; it cannot be banned", rule.noun())
            }
            Notice::Unreadable { what, ip, why } => write!(f, "UNREADABLE {what} ({ip}): {why}"),
            Notice::BanPending { ip, error } => write!(f, "PENDING    ban of {ip} not written yet, will retry: {error}"),
            Notice::Source { name, health, .. } => match health {
                Health::Ok => write!(f, "SOURCE     {name}: reading"),
                Health::Missing(m) | Health::NoSchema(m) | Health::Locked(m) | Health::Failing(m) => {
                    write!(f, "SOURCE     {name}: {m}")
                }
            },
            Notice::Thresholds { from, thresholds: t } => write!(
                f,
                "THRESHOLDS from {from}: 404 {} in 24 h, API keys {} in 24 h, offence {} is permanent",
                t.not_found.threshold, t.api.threshold, t.repeat_offender_limit
            ),
            Notice::StaleKey { ip, count, threshold, last_ok } => write!(
                f,
                "OLD KEY    {ip}: {}, but it also made successful API calls (last at {}): a client of yours \
                 keeps using an old API key; not banned",
                rule_line(Rule::InvalidApiKey, *count, *threshold),
                rfc3339(*last_ok)
            ),
            Notice::RangeDenied { range, banned, expires_at } => write!(
                f,
                "RANGE      {range} denied {}: {banned} of its addresses are banned (one IPv6 host)",
                match expires_at {
                    Some(t) => format!("until {}", rfc3339(*t)),
                    None => "until removed".into(),
                }
            ),
            Notice::Sink { name, state, entries, error } => match error {
                Some(e) => write!(f, "ENFORCE    {name}: {}: {e}", state.as_str()),
                None => write!(f, "ENFORCE    {name}: {} ({entries} refused)", state.as_str()),
            },
            Notice::Checklist(c) => {
                let s = c.summary;
                write!(f, "CHECKLIST  {} failing, {} to look at, {} fine", s.fail, s.warn, s.pass)?;
                for x in &c.newly_failing {
                    write!(f, "; now failing: {} (fix: {})", x.title, crate::check::one_line(&x.fix, 200))?;
                }
                for x in &c.fixed {
                    write!(f, "; fixed: {}", x.title)?;
                }
                Ok(())
            }
            Notice::SignIn(s) => write!(
                f,
                "SIGN-IN    {} from {}{} at {} ({}){}",
                display_raw(&s.username),
                display_raw(&s.ip),
                if s.new_address { ", a NEW address for this user" } else { "" },
                rfc3339(s.at),
                display_raw(&s.login_type),
                s.user_agent.as_deref().map(|u| format!(" with {}", crate::check::one_line(u, 120))).unwrap_or_default()
            ),
            Notice::Crowdsec { message } => write!(f, "CROWDSEC   {message}"),
            Notice::Delivery { channel, working, error } => match (working, error) {
                (true, _) => write!(f, "ALERTS     {}: delivering", display_raw(channel)),
                (false, e) => write!(f, "ALERTS     {}: failing: {}", display_raw(channel), e.as_deref().unwrap_or("")),
            },
            Notice::Traffic { requests, not_found, denied, errors } => write!(
                f,
                "TRAFFIC    {requests} requests in the last minute ({not_found} not found, {denied} denied, {errors} errors)"
            ),
        }
    }
}
