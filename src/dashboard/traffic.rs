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

/// The most access-log windows (of at most [`TAIL_BYTES`] each) one page reads from one log.
const PAGE_WINDOWS: usize = 8;

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
    /// At most this many rows (capped at [`MAX_ROWS`]): the page size.
    pub limit: usize,
    /// Where the page starts: `None` for the newest requests, else the `older` cursor of the
    /// page before.
    #[serde(default)]
    pub before: Option<TrafficCursor>,
}

/// Where a page of traffic ends in each source, so the next page starts exactly there: no
/// request shown twice or skipped, however the sources interleave in time, and only one page in
/// memory at a time however long the history is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficCursor {
    /// Rows of logs.db with a smaller id than this; `None` for the newest.
    pub logs_db: Option<i64>,
    /// For each access log (in the configuration's order), lines starting before this byte
    /// offset; `None` for the end of the file.
    pub access: Vec<Option<u64>>,
}

/// One page of the Traffic view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrafficPage {
    /// The requests, newest first.
    pub rows: Vec<TrafficLine>,
    /// The cursor of the next, older page; `None` when there is nothing older.
    pub older: Option<TrafficCursor>,
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
    access_window(path, format, None, max).0.into_iter().map(|(_, line)| line).collect()
}

/// The requests in the `max` bytes of an access log that end at byte `end` (the end of the file
/// when `None`), oldest first, each with the offset where its line starts; and the offset where
/// the window starts (0 once the start of the file is reached).
pub fn access_window(path: &Path, format: &str, end: Option<u64>, max: u64) -> (Vec<(u64, TrafficLine)>, u64) {
    let Ok(mut parser) = LineParser::new(format) else { return (Vec::new(), 0) };
    let Ok(mut file) = std::fs::File::open(path) else { return (Vec::new(), 0) };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let end = end.map_or(len, |e| e.min(len));
    let start = end.saturating_sub(max);
    let mut buf = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.take(end - start).read_to_end(&mut buf).is_err() {
        return (Vec::new(), end);
    }
    // A cut in the middle of a line: skip to the first whole one (it belongs to the next window).
    let skip = match (start > 0, memchr::memchr(b'\n', &buf)) {
        (true, Some(i)) => i + 1,
        (true, None) => buf.len(),
        (false, _) => 0,
    };
    let window_start = start + skip as u64;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let text = |b: &[u8]| (!b.is_empty() && b != b"-").then(|| String::from_utf8_lossy(b).into_owned());
    let mut at = window_start;
    let lines: Vec<(u64, &[u8])> = buf[skip..]
        .split(|&b| b == b'\n')
        .map(|l| {
            let here = at;
            at += l.len() as u64 + 1;
            (here, l)
        })
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let out = lines
        .into_iter()
        .filter_map(|(offset, line)| {
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
                .map(|l| (offset, l))
        })
        .collect();
    (out, window_start)
}

impl Desk {
    /// One page of requests matching `filter`, newest first, from logs.db and every access log;
    /// `filter.before` picks the page (see [`TrafficCursor`]).
    pub fn traffic(&self, filter: &TrafficFilter) -> DeskResult<TrafficPage> {
        let limit = filter.limit.clamp(1, MAX_ROWS);
        let status = status_range(filter.status.as_deref().unwrap_or(""))?;
        let text = filter.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_lowercase);
        let ip = match filter.ip.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(raw) => Some(canonicalize(raw)?),
            None => None,
        };
        let before = filter.before.clone().unwrap_or_default();
        // Candidates from every source, each tagged with where it sits in its source.
        enum Key {
            Db(i64),
            Access(usize, u64),
        }
        let mut candidates: Vec<(Key, TrafficLine)> = Vec::new();
        let mut more = false;
        let mut db_cursor = before.logs_db;
        if let Ok(logs) = LogsDb::open(&self.paths.logs_db) {
            // logs.db stores addresses as OpenAlgo saw them: ask for the canonical spelling, which
            // is what OpenAlgo records for a real client.
            let q =
                TrafficQuery { ip: ip.map(|i| i.to_string()), status, text: text.clone(), before_id: before.logs_db };
            let rows = logs.recent_traffic(&q, limit)?;
            more |= rows.len() >= limit;
            for r in rows {
                let line = TrafficLine {
                    at: r.at,
                    ip: r.ip,
                    method: r.method,
                    path: r.path,
                    status: r.status,
                    host: r.host,
                    user_agent: None,
                    source: "logs.db".into(),
                };
                candidates.push((Key::Db(r.id), line));
            }
        }
        let mut access_cursor: Vec<Option<u64>> = Vec::new();
        for (i, (path, format)) in self.paths.access_logs.iter().enumerate() {
            let end = before.access.get(i).copied().flatten();
            // Window by window back from `end`, until a page's worth matched, the file's start,
            // or PAGE_WINDOWS windows (a rare filter must not read a huge file in one go).
            // Windows start at 1 MiB and double up to TAIL_BYTES: a page reads about what it shows.
            let (mut matching, mut window_end, mut window_start) = (Vec::new(), end, None);
            let mut size = 1 << 20;
            for _ in 0..PAGE_WINDOWS {
                let (lines, start) = access_window(path, format, window_end, size);
                size = (size * 2).min(TAIL_BYTES);
                window_start = Some(start);
                matching.extend(lines.into_iter().rev().filter(|(_, l)| {
                    ip.is_none_or(|ip| canonicalize(&l.ip).is_ok_and(|a| a == ip))
                        && status.is_none_or(|(lo, hi)| (lo..=hi).contains(&l.status))
                        && text.as_ref().is_none_or(|t| {
                            [Some(&l.path), l.host.as_ref(), l.user_agent.as_ref()]
                                .iter()
                                .flatten()
                                .any(|s| s.to_lowercase().contains(t.as_str()))
                        })
                }));
                if matching.len() >= limit || start == 0 {
                    break;
                }
                window_end = Some(start);
            }
            matching.truncate(limit);
            let window_start = window_start.unwrap_or(0);
            more |= window_start > 0 || matching.len() >= limit;
            // Nothing matched in what was read: the next page starts before it.
            access_cursor.push(if matching.is_empty() && window_start > 0 { Some(window_start) } else { end });
            candidates.extend(matching.into_iter().map(|(offset, l)| (Key::Access(i, offset), l)));
        }
        // Newest first; a stable sort keeps each source's own order among equal times.
        candidates.sort_by_key(|(_, l)| std::cmp::Reverse(l.at));
        more |= candidates.len() > limit;
        candidates.truncate(limit);
        for (key, _) in &candidates {
            match *key {
                Key::Db(id) => db_cursor = Some(db_cursor.map_or(id, |c| c.min(id))),
                Key::Access(i, offset) => {
                    access_cursor[i] = Some(access_cursor[i].map_or(offset, |c| c.min(offset)));
                }
            }
        }
        let older = more.then_some(TrafficCursor { logs_db: db_cursor, access: access_cursor });
        Ok(TrafficPage { rows: candidates.into_iter().map(|(_, l)| l).collect(), older })
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
        for r in self.traffic(&filter)?.rows {
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
