//! One access log's lines through parsing, classification and the engine.

use std::collections::HashMap;
use std::net::IpAddr;

use foldhash::fast::RandomState;
use serde::Serialize;

use super::caddy;
use super::classify::{Classifier, Classify};
use super::format::LogFormat;
use super::parse::{ParseError, Parser, Request};
use crate::engine::{Engine, Verdict};
use crate::error::Result;
use crate::event::{Rule, Source};
use crate::ip::{canonicalize_bytes, display_raw, IpKey};
use crate::source::minutes::MinuteRing;
use crate::time::Timestamp;

/// How many unparsed lines are kept as samples for the UI.
pub const SAMPLES: usize = 20;

/// A parser for any supported format.
// One per log, made once and never moved in the loop: the size of the text variant (its caches
// inline) costs nothing, and boxing it would add a pointer chase per line.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum LineParser {
    /// A text format (nginx, Apache).
    Text(Parser),
    /// Caddy's JSON.
    Caddy,
}

impl LineParser {
    /// `caddy`, a preset name, or an nginx `log_format` string.
    pub fn new(format: &str) -> Result<Self> {
        match format.trim() {
            "caddy" | "caddy-json" | "json" => Ok(LineParser::Caddy),
            other => Ok(LineParser::Text(Parser::new(LogFormat::named_or_nginx(other)?))),
        }
    }

    /// Only the fields the rules need (see [`Parser::essential_only`]); Caddy is unaffected.
    pub fn essential_only(self) -> Self {
        match self {
            LineParser::Text(p) => LineParser::Text(p.essential_only()),
            other => other,
        }
    }

    /// Parses `line` and hands the request to `f`.
    pub fn parse_with<R>(&mut self, line: &[u8], f: impl FnOnce(&Request<'_>) -> R) -> Result<R, ParseError> {
        match self {
            LineParser::Text(p) => {
                let mut req = Request::empty();
                p.parse_into(line, &mut req)?;
                Ok(f(&req))
            }
            LineParser::Caddy => caddy::parse_with(line, f),
        }
    }
}

/// Counts of what the lines were, for reports and charts.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct LineStats {
    /// Lines read.
    pub lines: u64,
    /// Lines that did not parse.
    pub unparsed: u64,
    /// The first unparsed lines, escaped and shortened, with why.
    pub unparsed_samples: Vec<String>,
    /// Requests answered 404.
    pub not_found: u64,
    /// Requests answered 401 or 403.
    pub denied: u64,
    /// Requests answered 5xx.
    pub errors: u64,
    /// The latest event time seen.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub last_at: Option<Timestamp>,
    /// The same, as Unix seconds.
    #[serde(skip)]
    pub last_secs: i64,
}

/// Per-address counts of requests that a rule counted (the top offenders).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Offender {
    /// 404s outside the safe prefixes.
    pub not_found: u32,
    /// Invalid API keys.
    pub invalid_keys: u32,
    /// Failed logins.
    pub failed_logins: u32,
}

impl Offender {
    /// All counted requests.
    pub fn total(&self) -> u64 {
        u64::from(self.not_found) + u64::from(self.invalid_keys) + u64::from(self.failed_logins)
    }
}

/// A direct-mapped cache from an address as written to its parsed form. Logs repeat the same
/// few thousand clients, so most lookups skip parsing. A miss just parses and overwrites.
#[derive(Debug)]
struct IpCache {
    slots: Vec<(u8, [u8; 45], Option<IpAddr>)>,
    hasher: RandomState,
}

impl IpCache {
    const SLOTS: usize = 4096;

    fn new() -> Self {
        // The slots are allocated on the first IPv6 lookup: an IPv4-only log never needs them.
        Self { slots: Vec::new(), hasher: RandomState::default() }
    }

    fn get(&mut self, raw: &[u8]) -> Option<IpAddr> {
        use std::hash::BuildHasher;
        // Dotted quads parse faster than a cache lookup that may miss the CPU cache; only the
        // longer IPv6 forms go through the cache.
        if let Some(v4) = crate::ip::quick_ipv4(raw) {
            return Some(v4);
        }
        if raw.is_empty() || raw.len() > 45 {
            return canonicalize_bytes(raw);
        }
        if self.slots.is_empty() {
            self.slots = vec![(0, [0; 45], None); Self::SLOTS];
        }
        let slot = &mut self.slots[(self.hasher.hash_one(raw) as usize) & (Self::SLOTS - 1)];
        if usize::from(slot.0) == raw.len() && slot.1[..raw.len()] == *raw {
            return slot.2;
        }
        let ip = canonicalize_bytes(raw);
        slot.0 = raw.len() as u8;
        slot.1[..raw.len()].copy_from_slice(raw);
        slot.2 = ip;
        ip
    }
}

/// Most addresses kept for the top-offender list.
const MAX_OFFENDERS: usize = 50_000;

/// Keeps the heavy hitters when the offender list is full: drops the addresses with the fewest
/// counted requests, raising the bar until at most half the room is used. The top of the list,
/// which is what the report shows, survives.
fn shrink_offenders(map: &mut HashMap<IpAddr, Offender, RandomState>) {
    let mut bar = 1;
    while map.len() >= MAX_OFFENDERS / 2 {
        map.retain(|_, o| o.total() > bar);
        bar *= 2;
    }
}

/// How finely a client's successful API calls are timed for the engine, as a power of two of
/// seconds: one call per client per 512 s reaches it (so the 24 h during which a working key
/// spares a client can end up to 512 s early, never late). A shift, not a division: this runs for
/// half the lines of a trading server's log.
const WORKING_GRAIN_SHIFT: u32 = 9;

/// Slots of [`WorkingSeen`].
const WORKING_SLOTS: usize = 4096;

/// Which clients' successful API calls were handed to the engine this minute: one slot per client
/// hash, so that a busy API (half the lines of a trading server) costs the engine one call per
/// client and 2^[`WORKING_GRAIN_SHIFT`] seconds instead of one per line.
#[derive(Debug)]
struct WorkingSeen(Box<[(IpKey, i64); WORKING_SLOTS]>);

impl Default for WorkingSeen {
    fn default() -> Self {
        Self(Box::new([(IpKey::default(), i64::MIN); WORKING_SLOTS]))
    }
}

impl WorkingSeen {
    /// Hands `client`'s successful API call at `secs` to the engine, unless one in the same time
    /// slice already was. Out of line: the hot loop only pays for the check that leads here.
    #[inline(never)]
    fn note(&mut self, engine: &mut Engine, client: IpKey, secs: i64, at: Timestamp) {
        let slice = secs >> WORKING_GRAIN_SHIFT;
        let b = client.bits() as u64;
        let slot = &mut self.0[((b ^ (b >> 29)) as usize) & (WORKING_SLOTS - 1)];
        if *slot != (client, slice) {
            *slot = (client, slice);
            engine.working_key(client.ip(), at);
        }
    }
}

/// Reads one log's lines into the engine.
#[derive(Debug)]
pub struct LineReader {
    parser: LineParser,
    classify: Classifier,
    /// What the lines were.
    pub stats: LineStats,
    /// Addresses that a rule counted, and how often (only those: memory stays small).
    pub offenders: HashMap<IpAddr, Offender, RandomState>,
    /// Lines older than this are counted as lines but not judged (a first-start backfill).
    pub not_before: Option<Timestamp>,
    rate: crate::engine::RateCounter,
    ips: IpCache,
    /// Requests per minute of the last hour or so, for the overview's chart: counted only when
    /// asked for (the live monitor does; a replay does not pay for it).
    pub minutes: Option<Box<MinuteRing>>,
    working: WorkingSeen,
}

impl LineReader {
    /// This reader, also counting requests per minute into [`LineReader::minutes`].
    pub fn with_minutes(mut self) -> Self {
        self.minutes = Some(Box::default());
        self
    }

    /// A reader for one log format.
    pub fn new(parser: LineParser, classify: Classify) -> Self {
        Self {
            parser,
            classify: classify.compile(),
            stats: LineStats::default(),
            offenders: HashMap::default(),
            not_before: None,
            rate: Default::default(),
            ips: IpCache::new(),
            minutes: None,
            working: WorkingSeen::default(),
        }
    }

    /// Feeds one line. `now` is when bans start; `None` means event time (a replay).
    #[inline]
    pub fn feed(&mut self, line: &[u8], engine: &mut Engine, now: Option<Timestamp>, out: &mut Vec<Verdict>) {
        self.stats.lines += 1;
        let Self { parser, classify, stats, offenders, not_before, rate, ips, minutes, working } = self;
        let mut judge = Judge { classify, stats, offenders, ips, not_before: *not_before, rate, minutes, working };
        // The text formats' request is judged in this function, with no closure call between
        // parsing and judging: this is the replay's inner loop.
        let parsed = match parser {
            LineParser::Text(p) => {
                let mut req = Request::empty();
                p.parse_into(line, &mut req).map(|()| judge.judge(&req, engine, now, out))
            }
            LineParser::Caddy => caddy::parse_with(line, |req| judge.judge(req, engine, now, out)),
        };
        if let Err(e) = parsed {
            self.stats.unparsed += 1;
            if self.stats.unparsed_samples.len() < SAMPLES && e != ParseError::Empty {
                self.stats.unparsed_samples.push(format!("{e}: {}", display_raw(&String::from_utf8_lossy(line))));
            }
        }
    }
}

/// What judging one parsed request needs of a [`LineReader`], borrowed apart from its parser.
struct Judge<'r> {
    classify: &'r Classifier,
    stats: &'r mut LineStats,
    offenders: &'r mut HashMap<IpAddr, Offender, RandomState>,
    ips: &'r mut IpCache,
    not_before: Option<Timestamp>,
    rate: &'r mut crate::engine::RateCounter,
    minutes: &'r mut Option<Box<MinuteRing>>,
    working: &'r mut WorkingSeen,
}

impl Judge<'_> {
    /// Counts `req` in the statistics, rate detection and the rules, pushing verdicts onto `out`.
    #[inline(always)]
    fn judge(&mut self, req: &Request<'_>, engine: &mut Engine, now: Option<Timestamp>, out: &mut Vec<Verdict>) {
        let Judge { classify, stats, offenders, ips, not_before, rate, minutes, working } = self;
        let at = req.at;
        if let Some(m) = minutes {
            m.add(req.secs, req.status);
        }
        if not_before.is_some_and(|nb| at < nb) {
            return;
        }
        let now = now.unwrap_or(at);
        if req.secs >= stats.last_secs || stats.last_at.is_none() {
            stats.last_secs = req.secs;
            stats.last_at = Some(at);
        }
        match req.status {
            404 => stats.not_found += 1,
            401 | 403 => stats.denied += 1,
            500..=599 => stats.errors += 1,
            _ => {}
        }
        let (counted, working_key) = classify.line(req);
        let Some(client) = req.addr.or_else(|| ips.get(req.ip).map(IpKey::of)) else {
            if let Some(what) = counted.and_then(|_| classify.what(req)) {
                // A non-IP client (a broken log_format, a spoofed field): counted nowhere,
                // reported once by the engine.
                let ev = crate::event::Event {
                    at,
                    ip: String::from_utf8_lossy(req.ip).into_owned(),
                    what,
                    source: Source::Proxy,
                };
                out.extend(engine.observe(&ev, now));
            }
            return;
        };
        // A banned client's requests count for nothing (OpenAlgo answers them 403): one check
        // here instead of one in each engine call. Nearly half of a scanned server's lines are
        // such requests.
        let banned = engine.is_banned_client(client, at);
        if working_key {
            working.note(engine, client, req.secs, at);
        }
        if !banned {
            let hit = crate::engine::Request {
                client,
                raw: req.ip,
                path: req.target,
                at,
                secs: req.secs,
                source: Source::Proxy,
            };
            engine.count_unbanned_request(rate, &hit, now, out);
        }
        if let Some((rule, item)) = counted {
            let ip = client.ip();
            if offenders.len() >= MAX_OFFENDERS && !offenders.contains_key(&ip) {
                shrink_offenders(offenders);
            }
            let o = offenders.entry(ip).or_default();
            match rule {
                Rule::NotFound => o.not_found = o.not_found.saturating_add(1),
                Rule::InvalidApiKey => o.invalid_keys = o.invalid_keys.saturating_add(1),
                _ => o.failed_logins = o.failed_logins.saturating_add(1),
            }
            if !banned {
                out.extend(engine.observe_item(ip, req.ip, rule, item, at, Source::Proxy, now));
            }
        }
    }
}
