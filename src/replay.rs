//! `warden replay`: run old access logs through the engine in event time and report what Warden
//! would have done.
//!
//! Inputs are plain files, gzip files (recognised by their magic bytes, not their name) or `-`
//! for standard input. They are read oldest first: files are ordered by the time of their first
//! parseable line, so `access.log access.log.1 access.log.2.gz` can be given in any order.

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;

use serde::Serialize;

use crate::config::Config;
use crate::engine::{Engine, Verdict};
use crate::error::{Error, Result};
use crate::event::Rule;
use crate::source::access::input::Input;
use crate::source::access::lines::for_each_line;
use crate::source::access::pipeline::{LineParser, LineReader, Offender};
use crate::time::Timestamp;

/// How many top offenders the report lists.
pub const TOP: usize = 20;

/// A ban the replay ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayBan {
    /// Canonical address.
    pub ip: String,
    /// The address as the log spelled it.
    #[serde(skip)]
    pub raw: String,
    /// When (event time).
    #[serde(with = "crate::time::serde_rfc3339")]
    pub at: Timestamp,
    /// The rule.
    pub rule: Rule,
    /// The reason.
    pub reason: String,
    /// Whether it would be permanent.
    pub permanent: bool,
    /// When it would end (event time plus the ban length).
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub expires_at: Option<Timestamp>,
    /// The ban length in hours (`null` when permanent), for `--apply`.
    #[serde(skip)]
    pub length: crate::engine::BanLength,
    /// Offence number.
    #[serde(skip)]
    pub offence: u32,
}

/// An address that came near a threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayNear {
    /// Canonical address.
    pub ip: String,
    /// When.
    #[serde(with = "crate::time::serde_rfc3339")]
    pub at: Timestamp,
    /// The rule.
    pub rule: Rule,
    /// The count then.
    pub count: u32,
    /// The threshold.
    pub threshold: u32,
}

/// A top offender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopOffender {
    /// Canonical address.
    pub ip: String,
    /// Requests a rule counted.
    pub total: u64,
    /// Of which.
    #[serde(flatten)]
    pub counts: Offender,
}

/// What a replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Lines read.
    pub lines: u64,
    /// Lines that did not parse.
    pub unparsed: u64,
    /// A sample of them, escaped.
    pub unparsed_samples: Vec<String>,
    /// Bans, in order.
    pub bans: Vec<ReplayBan>,
    /// Near-threshold notices, in order.
    pub near: Vec<ReplayNear>,
    /// Other notices (bursts, protected addresses, non-IP clients, notice-only rules), as text.
    pub notices: Vec<String>,
    /// The addresses with the most counted requests.
    pub top: Vec<TopOffender>,
}

fn first_time(input: &Input, parser: &LineParser) -> Option<Timestamp> {
    let Input::File(_) = input else { return None };
    let reader = input.open().ok()?;
    let mut parser = parser.clone();
    let mut found = None;
    let mut seen = 0;
    // Only the first parseable line of the first 1000 is needed.
    let _ = for_each_line(reader.take(1 << 20), |line| {
        if found.is_none() && seen < 1000 {
            seen += 1;
            found = parser.parse_with(line, |r| r.at).ok();
        }
    });
    found
}

/// Replays `inputs` with `format` under `cfg`. `protection` is what is never banned (with
/// `--apply`, the trader's own addresses must be in it); `offences` seeds the repeat-offender
/// memory.
pub fn replay(
    inputs: &[Input],
    format: &str,
    cfg: &Config,
    protection: crate::ip::Protection,
    offences: HashMap<IpAddr, u32>,
) -> Result<ReplayReport> {
    let parser = LineParser::new(format)?.essential_only();
    let mut ordered: Vec<(Option<Timestamp>, usize, &Input)> =
        inputs.iter().enumerate().map(|(i, input)| (first_time(input, &parser), i, input)).collect();
    // Oldest first; stdin and unreadable starts keep their place after the dated files.
    ordered.sort_by_key(|(t, i, _)| (t.is_none(), *t, *i));
    let mut engine = Engine::new(cfg.own_thresholds(), protection, cfg.near_fraction).without_change_tracking();
    engine.set_spare_working_keys(cfg.classify.spare_working_keys);
    engine.set_offences(offences);
    let mut reader = LineReader::new(parser, cfg.classify.clone());
    let mut report = ReplayReport::default();
    let mut verdicts = Vec::new();
    for (_, _, input) in ordered {
        let stream = input.open()?;
        // The first second of the next hour of log time (two compares a line, not a division).
        let mut next_evict = i64::MIN;
        for_each_line(stream, |line| {
            reader.feed(line, &mut engine, None, &mut verdicts);
            // Forget windows that are over, once per hour of log time: memory follows the
            // active addresses, not every address ever seen.
            if reader.stats.last_secs >= next_evict {
                next_evict = reader.stats.last_secs.div_euclid(3600).saturating_add(1).saturating_mul(3600);
                if let Some(at) = reader.stats.last_at {
                    engine.evict(at);
                }
            }
            if !verdicts.is_empty() {
                let at = reader.stats.last_at.unwrap_or_default();
                for v in verdicts.drain(..) {
                    record(&mut report, v, at);
                }
            }
        })
        .map_err(|e| Error::io(format!("reading {}", input.name()), e))?;
    }
    report.lines = reader.stats.lines;
    report.unparsed = reader.stats.unparsed;
    report.unparsed_samples = reader.stats.unparsed_samples.clone();
    let mut top: Vec<TopOffender> = reader
        .offenders
        .iter()
        .map(|(ip, o)| TopOffender { ip: ip.to_string(), total: o.total(), counts: *o })
        .collect();
    top.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.ip.cmp(&b.ip)));
    top.truncate(TOP);
    report.top = top;
    Ok(report)
}

fn record(report: &mut ReplayReport, v: Verdict, at: Timestamp) {
    match v {
        Verdict::Ban(o) => report.bans.push(ReplayBan {
            ip: o.ip.to_string(),
            raw: o.raw.clone(),
            at: o.at,
            rule: o.rule,
            permanent: o.length.is_permanent(),
            expires_at: o.expires_at(),
            reason: o.reason,
            length: o.length,
            offence: o.offence,
        }),
        Verdict::Near(n) => report.near.push(ReplayNear {
            ip: n.ip.to_string(),
            at,
            rule: n.rule,
            count: n.count,
            threshold: n.threshold,
        }),
        other => {
            if let Some(notice) = crate::monitor::Notice::from_verdict(other) {
                report.notices.push(format!("{} {notice}", crate::time::rfc3339(at)));
            }
        }
    }
}

/// Writes the replay's bans into `logs.db`, each starting at `now` (the last ban of each address
/// wins), records the offences, and writes one audit entry per ban. Returns (written, left alone
/// because a ban at least as long was in force).
pub fn apply(
    report: &ReplayReport,
    logs: &mut crate::store::LogsDb,
    state: &crate::store::StateDb,
    now: Timestamp,
) -> Result<(usize, usize)> {
    use crate::store::logs_db::{BanWrite, NewBan};
    use crate::store::state::{Actor, Offence};
    let mut last: HashMap<&str, &ReplayBan> = HashMap::new();
    for b in &report.bans {
        last.insert(b.ip.as_str(), b);
    }
    let mut order: Vec<&ReplayBan> = last.into_values().collect();
    order.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.ip.cmp(&b.ip)));
    let (mut written, mut kept) = (0, 0);
    for b in order {
        let mut ips = vec![b.ip.clone()];
        if !b.raw.is_empty() && b.raw != b.ip {
            ips.push(b.raw.clone());
        }
        let new = NewBan {
            ips,
            reason: b.reason.clone(),
            length: b.length,
            at: now,
            created_by: b.rule.created_by().into(),
            offence: b.offence,
        };
        match logs.write_ban(&new)? {
            BanWrite::Written { .. } => {
                written += 1;
                let until = b.length.expires_at(now);
                // Keyed by the time of the request that earned it, so applying the same replay
                // twice (or a log the live monitor already read) records the offence once.
                state.record_offence(&Offence {
                    ip: b.ip.clone(),
                    rule: b.rule.as_str().into(),
                    at: b.at,
                    until,
                    source: "warden".into(),
                    reason: Some(b.reason.clone()),
                })?;
                let detail = until.map_or("permanent (from a replay)".to_string(), |t| {
                    format!("until {} (from a replay)", crate::time::rfc3339(t))
                });
                state.audit(Actor::Cli, "ban", Some(&b.ip), Some(&detail), Some(&b.reason), now)?;
            }
            BanWrite::AlreadyStronger => kept += 1,
        }
    }
    Ok((written, kept))
}
