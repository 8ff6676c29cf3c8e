//! The Traffic view (recent requests from logs.db and the access logs) and the IP detail timeline.
//!
//! Access logs are read from their last few MiB on demand: the monitor keeps counters, not
//! requests, and the file already is the history. Every string here is attacker-controlled and
//! travels as data; the UI renders it as text.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Desk, DeskError, DeskResult};
use crate::ip::canonicalize;
use crate::report::{BanView, TrackerView};
use crate::source::access::pipeline::LineParser;
use crate::store::{LogsDb, TrafficQuery};
use crate::time::{rfc3339, Timestamp};

/// How much of the end of each access log the views read.
pub const TAIL_BYTES: u64 = 8 << 20;

/// The most rows the Traffic view returns.
pub const MAX_ROWS: usize = 100_000;

/// The Traffic view's filter, as the UI sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TrafficFilter {
    /// Exactly this address (any spelling).
    pub ip: Option<String>,
    /// `2xx`, `3xx`, `4xx`, `404`, `5xx`, or a status code.
    pub status: Option<String>,
    /// A substring of the path, host or user agent.
    pub text: Option<String>,
    /// At most this many rows (capped at [`MAX_ROWS`]).
    pub limit: usize,
}

/// One request, from either source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrafficLine {
    /// When.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub at: Option<Timestamp>,
    /// Client address as recorded.
    pub ip: String,
    /// HTTP method.
    pub method: String,
    /// Path (and query, from access logs).
    pub path: String,
    /// Status code.
    pub status: u16,
    /// Host header, when recorded.
    pub host: Option<String>,
    /// User agent, when recorded.
    pub user_agent: Option<String>,
    /// `logs.db` or the access log's file name.
    pub source: String,
}

/// One entry of the IP detail timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineItem {
    /// When.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub at: Option<Timestamp>,
    /// `request`, `ban`, `tracker`, `offence` or `audit`.
    pub kind: &'static str,
    /// What happened, in words.
    pub text: String,
}

/// Everything known about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpDetail {
    /// The canonical address.
    pub ip: String,
    /// Why it can never be banned, or `None`.
    pub protected: Option<String>,
    /// Bans in force.
    pub bans: Vec<BanView>,
    /// Live trackers.
    pub trackers: Vec<TrackerView>,
    /// Bans remembered in Warden's state (this address's offence count).
    pub offences: usize,
    /// Newest first.
    pub timeline: Vec<TimelineItem>,
}

fn status_range(s: &str) -> DeskResult<Option<(u16, u16)>> {
    Ok(match s.trim() {
        "" => None,
        "2xx" => Some((200, 299)),
        "3xx" => Some((300, 399)),
        "4xx" => Some((400, 499)),
        "5xx" => Some((500, 599)),
        n => match n.parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => Some((code, code)),
            _ => {
                return Err(DeskError::invalid(format!(
                    "the status filter must be 2xx, 3xx, 4xx, 5xx or a code such as 404, not '{}'",
                    crate::ip::display_raw(n)
                )))
            }
        },
    })
}

/// The requests in the last `max` bytes of an access log, oldest first; lines that do not
/// parse are skipped (the monitor counts them).
pub fn access_tail(path: &Path, format: &str, max: u64) -> Vec<TrafficLine> {
    let Ok(mut parser) = LineParser::new(format) else { return Vec::new() };
    let Ok(mut file) = std::fs::File::open(path) else { return Vec::new() };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max);
    let mut buf = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.take(max).read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    // A cut in the middle of a line: skip to the first whole one.
    let body = match (start > 0, memchr::memchr(b'\n', &buf)) {
        (true, Some(i)) => &buf[i + 1..],
        (true, None) => &[][..],
        (false, _) => &buf[..],
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let text = |b: &[u8]| (!b.is_empty() && b != b"-").then(|| String::from_utf8_lossy(b).into_owned());
    body.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|line| {
            parser
                .parse_with(line, |r| TrafficLine {
                    at: Some(r.at),
                    ip: String::from_utf8_lossy(r.ip).into_owned(),
                    method: String::from_utf8_lossy(r.method).into_owned(),
                    path: String::from_utf8_lossy(r.target).into_owned(),
                    status: r.status,
                    host: text(r.host),
                    user_agent: text(r.user_agent),
                    source: name.clone(),
                })
                .ok()
        })
        .collect()
}

impl Desk {
    /// Recent requests matching `filter`, newest first, from logs.db and every access log.
    pub fn traffic(&self, filter: &TrafficFilter) -> DeskResult<Vec<TrafficLine>> {
        let limit = filter.limit.clamp(1, MAX_ROWS);
        let status = status_range(filter.status.as_deref().unwrap_or(""))?;
        let text = filter.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_lowercase);
        let ip = match filter.ip.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(raw) => Some(canonicalize(raw)?),
            None => None,
        };
        let mut out = Vec::new();
        if let Ok(logs) = LogsDb::open(&self.paths.logs_db) {
            // logs.db stores addresses as OpenAlgo saw them: ask for the canonical spelling, which
            // is what OpenAlgo records for a real client.
            let q = TrafficQuery { ip: ip.map(|i| i.to_string()), status, text: text.clone() };
            for r in logs.recent_traffic(&q, limit)? {
                out.push(TrafficLine {
                    at: r.at,
                    ip: r.ip,
                    method: r.method,
                    path: r.path,
                    status: r.status,
                    host: r.host,
                    user_agent: None,
                    source: "logs.db".into(),
                });
            }
        }
        for (path, format) in &self.paths.access_logs {
            let lines = access_tail(path, format, TAIL_BYTES).into_iter().rev().filter(|l| {
                ip.is_none_or(|ip| canonicalize(&l.ip).is_ok_and(|a| a == ip))
                    && status.is_none_or(|(lo, hi)| (lo..=hi).contains(&l.status))
                    && text.as_ref().is_none_or(|t| {
                        [Some(&l.path), l.host.as_ref(), l.user_agent.as_ref()]
                            .iter()
                            .flatten()
                            .any(|s| s.to_lowercase().contains(t.as_str()))
                    })
            });
            out.extend(lines.take(limit));
        }
        out.sort_by_key(|l| std::cmp::Reverse(l.at));
        out.truncate(limit);
        Ok(out)
    }

    /// Everything known about `raw` across sources, as a timeline, newest first.
    pub fn ip_detail(&self, raw: &str, now: Timestamp) -> DeskResult<IpDetail> {
        let ip = canonicalize(raw)?;
        let key = ip.to_string();
        let same = |s: &str| canonicalize(s).is_ok_and(|a| a == ip);
        let protected = self.protection()?.check(ip).map(|k| k.to_string());
        let bans: Vec<BanView> = self.bans(now).unwrap_or_default().into_iter().filter(|b| same(&b.ip)).collect();
        let trackers: Vec<TrackerView> =
            self.trackers(now).unwrap_or_default().into_iter().filter(|t| same(&t.ip)).collect();
        let mut timeline = Vec::new();
        for b in &bans {
            let until = match b.expires_at {
                Some(t) => format!("until {}", rfc3339(t)),
                None => "permanently".into(),
            };
            timeline.push(TimelineItem {
                at: b.banned_at,
                kind: "ban",
                text: format!("Banned {until}: {}", b.reason.as_deref().unwrap_or("no reason given")),
            });
        }
        for t in &trackers {
            timeline.push(TimelineItem {
                at: t.last_at,
                kind: "tracker",
                text: format!("{} of {} {} in the current 24 h window", t.count, t.threshold, rule_words(t.kind)),
            });
        }
        let offences = match self.paths.state_db.exists() {
            true => self.state()?.offences_of(ip)?,
            false => Vec::new(),
        };
        for o in &offences {
            timeline.push(TimelineItem {
                at: Some(o.at),
                kind: "offence",
                text: format!(
                    "Offence ({}, by {}): {}",
                    o.rule,
                    o.source,
                    o.reason.as_deref().unwrap_or("no reason recorded")
                ),
            });
        }
        for a in self.audit(10_000)?.into_iter().filter(|a| a.ip.as_deref().is_some_and(same)) {
            timeline.push(TimelineItem {
                at: Some(a.at),
                kind: "audit",
                text: format!(
                    "{} from the {} by {}{}",
                    a.action,
                    if a.actor == "gui" { "app" } else { "command line" },
                    a.user.as_deref().unwrap_or("an unknown user"),
                    a.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
                ),
            });
        }
        let filter = TrafficFilter { ip: Some(key.clone()), limit: 500, ..Default::default() };
        for r in self.traffic(&filter)? {
            timeline.push(TimelineItem {
                at: r.at,
                kind: "request",
                text: format!("{} {} → {} ({})", r.method, r.path, r.status, r.source),
            });
        }
        timeline.sort_by_key(|i| std::cmp::Reverse(i.at));
        Ok(IpDetail { ip: key, protected, bans, trackers, offences: offences.len(), timeline })
    }
}

fn rule_words(rule: crate::event::Rule) -> &'static str {
    match rule {
        crate::event::Rule::NotFound => "404s",
        crate::event::Rule::InvalidApiKey => "invalid API keys",
        crate::event::Rule::FailedLogin => "failed logins",
        crate::event::Rule::Rate => "requests",
    }
}
