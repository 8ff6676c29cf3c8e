//! The rules: pure functions of what was observed and the time passed in.
//!
//! The engine holds counters, the bans it knows of and each address's offence count, and turns
//! observations into [`Verdict`]s. It reads no clock, no file and no database: the
//! [`monitor`](crate::monitor) feeds it and carries out what it decides. Two kinds of observation
//! reach it:
//!
//! - an [`Event`] (one request, from a proxy log): counted here with OpenAlgo's rules (a fixed 24 h
//!   window from the first event, the ban on the event that reaches the threshold, nothing counted
//!   while banned, the counter cleared after a ban);
//! - a [`TrackerReading`] (OpenAlgo's own counter for an address, from `logs.db`): OpenAlgo already
//!   counted, so the engine only compares the count with the threshold. This makes Warden the
//!   auto-ban of an OpenAlgo whose own auto-ban is off, its shipped default.

mod bans;

use bans::Span;
mod interner;
mod rate;
mod thresholds;
mod verdict;
mod window;

use std::collections::HashMap;

use foldhash::fast::RandomState;
use std::net::IpAddr;

pub use interner::{Interner, GONE};
pub use rate::{Burst, RateCounter};
pub use thresholds::{Action, BanLength, PathLimit, RateLimits, RuleLimits, Thresholds};
pub use verdict::{BanOrder, NearThreshold, TrackerReading, Verdict};
pub use window::{later, max_items, Window, WindowMap, WindowRecord, SAME_KEY_GAP, WINDOW};

use crate::event::{is_safe_404, Event, Rule, Source, What};
use crate::ip::{canonicalize, display_raw, IpKey, OwnAddress, Protection};
use crate::time::Timestamp;

/// One request, as rate detection sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The canonical address, as a key.
    pub client: IpKey,
    /// The address as the log spelled it.
    pub raw: &'a [u8],
    /// The request target. Only prefix checks are made on it, and a path prefix (which has no
    /// `?`) matches the target exactly when it matches the path.
    pub path: &'a [u8],
    /// When.
    pub at: Timestamp,
    /// The same, as Unix seconds.
    pub secs: i64,
    /// Where it was seen.
    pub source: Source,
}

/// The threshold engine.
#[derive(Debug)]
pub struct Engine {
    thresholds: Thresholds,
    protection: Protection,
    near_fraction: f64,
    windows: WindowMap,
    /// Paths and key hashes the windows remember, stored once.
    interner: Interner,
    /// When each (address, key hash) was last counted: the same invalid key counts once per
    /// five minutes, as in OpenAlgo.
    key_seen: HashMap<(IpAddr, u32), Timestamp, RandomState>,
    /// Counters changed since the last [`Engine::take_dirty`], to save with the source position.
    dirty: std::collections::HashSet<(IpAddr, Rule), RandomState>,
    /// Whether to keep `dirty` (a replay saves nothing, so it does not).
    track_dirty: bool,
    /// Active bans per client: `None` means permanent, `Some(t)` means until `t`.
    bans: HashMap<u128, Span, RandomState>,
    /// Which keys may be in `bans` (see [`bans::BanFilter`]).
    ban_filter: bans::BanFilter,
    /// Active bans per stored spelling. OpenAlgo enforces a ban only on the exact string, so a
    /// tracker row under a spelling that is not banned is still counting.
    banned_raw: HashMap<String, Option<Timestamp>>,
    /// Bans ordered but not yet written (logs.db locked or read-only): kept across
    /// [`Engine::sync_bans`] so that a failed write cannot produce a second order.
    held: HashMap<IpAddr, Option<Timestamp>>,
    /// Bans this engine ordered, by ban key, with the time of the request that earned each. Log
    /// times have whole seconds, so the requests logged in that same second after it are the
    /// banned client's, and must not start a new count (a ban re-read from logs.db after a
    /// restart does not know which of that second's lines came first, so it judges them all
    /// as before the ban, which orders the same ban again).
    ordered_here: HashMap<u128, Timestamp, RandomState>,
    offences: HashMap<IpAddr, u32>,
    /// Notices already given, with the time after which each can be forgotten.
    alerted: HashMap<Given, Timestamp, RandomState>,
    /// When the interner was last compacted (see [`Engine::evict`]).
    compacted: Option<Timestamp>,
    /// When each address last made a successful API call (see [`Engine::working_key`]).
    working: HashMap<IpAddr, Timestamp, RandomState>,
    /// Whether an address with a working key is spared a ban for invalid keys.
    spare_working_keys: bool,
    /// See [`Engine::version`].
    version: u64,
    /// See [`Engine::events_seen`].
    seen: [u64; 4],
}

fn rule_index(rule: Rule) -> usize {
    match rule {
        Rule::NotFound => 0,
        Rule::InvalidApiKey => 1,
        Rule::FailedLogin => 2,
        Rule::Rate => 3,
    }
}

/// How often the interner may be compacted, at most.
const COMPACT_EVERY: chrono::Duration = chrono::Duration::minutes(1);

impl Engine {
    /// A new engine with no history.
    pub fn new(thresholds: Thresholds, protection: Protection, near_fraction: f64) -> Self {
        Self {
            thresholds,
            protection,
            near_fraction,
            windows: WindowMap::default(),
            dirty: Default::default(),
            track_dirty: true,
            interner: Interner::default(),
            key_seen: HashMap::default(),
            bans: HashMap::default(),
            ban_filter: Default::default(),
            banned_raw: HashMap::new(),
            ordered_here: HashMap::default(),
            held: HashMap::new(),
            offences: HashMap::new(),
            alerted: HashMap::default(),
            compacted: None,
            working: HashMap::default(),
            spare_working_keys: true,
            version: 0,
            seen: [0; 4],
        }
    }

    /// Whether an address that made a successful API call in the last 24 h is spared a ban for
    /// invalid API keys (on by default). Such an address holds a working key: its failures are a
    /// client of the trader's retrying with an old key, which the proxy log cannot tell from a key
    /// sprayer (it never sees the key). A [`Verdict::StaleKey`] reports it instead. A sprayer never
    /// succeeds, so it is still banned.
    pub fn set_spare_working_keys(&mut self, on: bool) {
        self.spare_working_keys = on;
    }

    /// Records that `client` made a successful API call at `at` (a 2xx under the API prefix).
    #[inline]
    pub fn working_key(&mut self, client: IpAddr, at: Timestamp) {
        let seen = self.working.entry(client).or_insert(at);
        if at > *seen {
            *seen = at;
        }
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Replaces the trader's own addresses, which are never banned.
    pub fn set_own_addresses(&mut self, own: Vec<OwnAddress>) {
        if self.protection.own() != own.as_slice() {
            self.protection.set_own(own);
            self.version += 1;
        }
    }

    /// Replaces the access policies' allow entries (never banned).
    pub fn set_policy_allow(&mut self, nets: Vec<ipnet::IpNet>) {
        self.protection.set_policy_allow(nets);
        self.version += 1;
    }

    /// What is never banned.
    pub fn protection(&self) -> &Protection {
        &self.protection
    }

    /// A number that changes whenever the bans in force or the protection may have changed (for
    /// the monitor, which recomputes the desired enforcement state then).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The bans in force at `now`: canonical address and end (`None`: permanent).
    pub fn bans_in_force(&self, now: Timestamp) -> Vec<(IpAddr, Option<Timestamp>)> {
        self.bans
            .iter()
            .filter(|(_, span)| span.until.is_none_or(|u| u > now))
            .map(|(key, span)| (crate::ip::IpKey::from_bits(*key).ip(), span.until))
            .collect()
    }

    /// Replaces the thresholds (for example after OpenAlgo's settings changed).
    pub fn set_thresholds(&mut self, thresholds: Thresholds) {
        self.thresholds = thresholds;
    }

    /// The count at which a near-threshold notice fires for `threshold`.
    pub fn near_at(&self, threshold: u32) -> u32 {
        near_at(self.near_fraction, threshold)
    }

    /// Replaces the offence counts with Warden's history.
    pub fn set_offences(&mut self, offences: HashMap<IpAddr, u32>) {
        self.offences = offences;
    }

    /// How many times `ip` has been banned before.
    pub fn offences(&self, ip: IpAddr) -> u32 {
        self.offences.get(&ip).copied().unwrap_or(0)
    }

    /// Marks a notice as already given until `until` (carries de-duplication across restarts).
    pub fn remember_alert(&mut self, key: String, until: Timestamp) {
        self.alerted.insert(Given::parse(key), until);
    }

    /// The live counter of `ip` under `rule`, with its strings, if any.
    pub fn window(&self, ip: IpAddr, rule: Rule) -> Option<WindowRecord> {
        self.windows.get(ip, rule).map(|w| w.record_of(&self.interner))
    }

    /// Every live counter (for the `trackers` view of proxy-log counts).
    pub fn windows(&self) -> impl Iterator<Item = (IpAddr, Rule, WindowRecord)> + '_ {
        self.windows.iter().map(|(ip, rule, w)| (ip, rule, w.record_of(&self.interner)))
    }

    /// The live counters of `rule`s for which `keep(rule, count)` holds, with their strings: a
    /// filter before the strings are looked up, so a view that needs only the high counts of a
    /// million counters builds a few records.
    pub fn windows_where(
        &self,
        keep: impl Fn(Rule, u32) -> bool + 'static,
    ) -> impl Iterator<Item = (IpAddr, Rule, WindowRecord)> + '_ {
        self.windows
            .iter()
            .filter(move |(_, rule, w)| keep(*rule, w.count))
            .map(|(ip, rule, w)| (ip, rule, w.record_of(&self.interner)))
    }

    /// The address, rule and count of every live counter, without their strings.
    pub fn window_counts(&self) -> impl Iterator<Item = (IpAddr, Rule, u32)> + '_ {
        self.windows.iter().map(|(ip, rule, w)| (ip, rule, w.count))
    }

    /// How many counters are live (for memory checks).
    pub fn window_count(&self) -> usize {
        self.windows.len()
    }

    fn drop_window(&mut self, ip: IpAddr, rule: Rule) {
        if let Some(w) = self.windows.remove(ip, rule) {
            w.release(&mut self.interner);
            self.mark(ip, rule);
        }
    }

    fn mark(&mut self, ip: IpAddr, rule: Rule) {
        if self.track_dirty {
            self.dirty.insert((ip, rule));
        }
    }

    /// Stops remembering which counters changed (for a replay, which saves none).
    pub fn without_change_tracking(mut self) -> Self {
        self.track_dirty = false;
        self.dirty = Default::default();
        self
    }

    /// Forgets the counters of `ip` under `rule` (a manual clear).
    pub fn clear_window(&mut self, ip: IpAddr, rule: Rule) {
        self.drop_window(ip, rule);
    }

    /// Puts back a counter saved by an earlier run.
    pub fn load_window(&mut self, ip: IpAddr, rule: Rule, record: &WindowRecord) {
        let w = Window::from_record(rule, record, &mut self.interner);
        if let Some(old) = self.windows.insert(ip, rule, w) {
            old.release(&mut self.interner);
        }
    }

    /// The counters changed since the last call: `Some` to save, `None` to delete.
    pub fn take_dirty(&mut self) -> Vec<(IpAddr, Rule, Option<WindowRecord>)> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty.into_iter().map(|(ip, rule)| (ip, rule, self.window(ip, rule))).collect()
    }

    /// Drops counters whose window is over and notice keys that can no longer repeat, so memory
    /// stays bounded however many addresses pass by.
    pub fn evict(&mut self, now: Timestamp) {
        let (dirty, interner, track) = (&mut self.dirty, &mut self.interner, self.track_dirty);
        self.windows.retain(|ip, rule, w| {
            let keep = !w.is_over(now);
            if !keep {
                w.release(interner);
                if track {
                    dirty.insert((ip, rule));
                }
            }
            keep
        });
        self.key_seen.retain(|_, at| now < later(*at, SAME_KEY_GAP));
        self.compact_interner(now);
        self.alerted.retain(|_, until| *until > now);
        let bans = self.bans.len();
        self.bans.retain(|_, span| span.until.is_none_or(|u| u > now));
        if self.bans.len() != bans {
            self.version += 1;
        }
        self.banned_raw.retain(|_, until| until.is_none_or(|u| u > now));
        self.ordered_here.retain(|_, at| now < later(*at, chrono::Duration::minutes(1)));
        self.working.retain(|_, at| now < later(*at, WINDOW));
    }

    /// Once the interner is full, drops the paths and key hashes that no live counter holds
    /// (their counters have been evicted), so that new offenders' paths are remembered again.
    /// At most once a minute: it walks every counter, and while every string is still in use a
    /// flood of new paths would otherwise make each eviction walk them all for nothing.
    fn compact_interner(&mut self, now: Timestamp) {
        if !self.interner.is_full() || self.compacted.is_some_and(|at| now >= at && now - at < COMPACT_EVERY) {
            return;
        }
        self.compacted = Some(now);
        let held: Vec<u32> = self.key_seen.keys().map(|&(_, id)| id).collect();
        let map = self.windows.compact(&mut self.interner, held);
        let seen = std::mem::take(&mut self.key_seen);
        self.key_seen = seen
            .into_iter()
            .filter_map(|((ip, id), at)| map.get(id as usize).filter(|&&new| new != GONE).map(|&new| ((ip, new), at)))
            .collect();
    }

    /// Counts one request and decides. `now` is when the ban would start; the window runs in
    /// event time (`ev.at`), so a replay of old logs decides as the live monitor would have.
    pub fn observe(&mut self, ev: &Event, now: Timestamp) -> Vec<Verdict> {
        let rule = ev.what.rule();
        let Ok(ip) = canonicalize(&ev.ip) else {
            return self.not_an_ip(&ev.ip, rule, ev.source, ev.at).into_iter().collect();
        };
        if matches!(&ev.what, What::NotFound { path } if is_safe_404(path)) {
            return Vec::new();
        }
        self.observe_ip(ip, &ev.ip, &ev.what, ev.at, ev.source, now)
    }

    /// [`Engine::observe`] for a caller that has already parsed the address and filtered the
    /// path (the access-log pipeline, whose safe prefixes are configurable).
    pub fn observe_ip(
        &mut self,
        ip: IpAddr,
        raw: &str,
        what: &What,
        at: Timestamp,
        source: Source,
        now: Timestamp,
    ) -> Vec<Verdict> {
        let item = match what {
            What::NotFound { path } => Some(path.as_bytes()),
            What::InvalidApiKey { key_hash } => key_hash.as_deref().map(str::as_bytes),
            What::FailedLogin => None,
        };
        self.observe_item(ip, raw.as_bytes(), what.rule(), item, at, source, now)
    }

    /// [`Engine::observe_ip`] with the item (a path, a key hash) borrowed: no allocation for
    /// the hot loop.
    #[allow(clippy::too_many_arguments)]
    pub fn observe_item(
        &mut self,
        ip: IpAddr,
        raw: &[u8],
        rule: Rule,
        item: Option<&[u8]>,
        at: Timestamp,
        source: Source,
        now: Timestamp,
    ) -> Vec<Verdict> {
        self.seen[rule_index(rule)] += 1;
        if self.is_banned(ip, at) {
            return Vec::new();
        }
        if let (Rule::InvalidApiKey, Some(hash), Some(w)) = (rule, item, self.windows.get(ip, rule)) {
            // The same invalid key within five minutes counts once (OpenAlgo's key cache).
            if !w.is_over(at) {
                let id = self.interner.lookup(hash);
                if let Some(seen) = id.and_then(|id| self.key_seen.get(&(ip, id))) {
                    if at < later(*seen, SAME_KEY_GAP) {
                        return Vec::new();
                    }
                }
            }
        }
        let window = self.windows.record(ip, rule, at, item, &mut self.interner);
        let (count, first_at) = (window.count, window.first_at());
        self.mark(ip, rule);
        if let Some(id) = item.filter(|_| rule == Rule::InvalidApiKey).and_then(|i| self.interner.lookup(i)) {
            self.key_seen.insert((ip, id), at);
        }
        // NOTE: OpenAlgo never bans on the request that creates its tracker row, so with a
        // threshold of 1 it bans on the second request. Warden bans on the request that reaches
        // the threshold, whatever it is; for any threshold above 1 the two agree.
        self.decide(ip, raw, rule, count, first_at, source, now, false)
    }

    /// Requests counted per rule since this engine started (from access logs and sign-ins;
    /// OpenAlgo's own trackers hold counts, not requests), for the metrics.
    pub fn events_seen(&self) -> [(Rule, u64); 3] {
        [Rule::NotFound, Rule::InvalidApiKey, Rule::FailedLogin].map(|r| (r, self.seen[rule_index(r)]))
    }

    /// Compares OpenAlgo's own counter with the threshold and decides.
    pub fn observe_tracker(&mut self, r: &TrackerReading, now: Timestamp) -> Vec<Verdict> {
        let Ok(ip) = canonicalize(&r.raw_ip) else {
            return self.not_an_ip(&r.raw_ip, r.rule, Source::Openalgo, r.first_at).into_iter().collect();
        };
        // A window that is over is stale: OpenAlgo restarts it at count 1 on the next request.
        // "Banned" is judged on the exact string, because that is what OpenAlgo enforces: a
        // client banned under one spelling but counted under another is not blocked.
        if now >= later(r.first_at, WINDOW) || self.is_banned_raw(&r.raw_ip, now) {
            return Vec::new();
        }
        // The client is banned under another spelling, and OpenAlgo is still counting this one:
        // it is the same ban, so extend it to this spelling now, whatever the count.
        if let Some(until) = self.bans.get(&bans::ip_key(ip)).map(|s| s.until).filter(|u| u.is_none_or(|u| now < u)) {
            let raw = r.raw_ip.trim().to_string();
            self.banned_raw.insert(raw.clone(), until);
            let offence = self.offences(ip).max(1);
            let length = until.map_or(BanLength::Permanent, BanLength::Until);
            let threshold = self.thresholds.limits(r.rule).threshold;
            return vec![Verdict::Ban(BanOrder {
                ip,
                raw,
                rule: r.rule,
                count: r.count,
                threshold,
                reason: format!("Same client as the banned {ip}, under another spelling"),
                offence,
                length,
                at: now,
                source: Source::Openalgo,
                alias: true,
            })];
        }
        let defer = self.thresholds.openalgo_bans_itself();
        self.decide(ip, r.raw_ip.as_bytes(), r.rule, r.count, r.first_at, Source::Openalgo, now, defer)
    }

    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        ip: IpAddr,
        raw: &[u8],
        rule: Rule,
        count: u32,
        window_start: Timestamp,
        source: Source,
        now: Timestamp,
        left_to_openalgo: bool,
    ) -> Vec<Verdict> {
        let threshold = self.thresholds.limits(rule).threshold;
        if rule == Rule::InvalidApiKey && self.spare_working_keys {
            // A working key: never banned for invalid keys, so not "near a ban" either.
            if let Some(&last_ok) = self.working.get(&ip).filter(|ok| now < later(**ok, WINDOW)) {
                if count >= threshold && self.first_time(Given::STALE_KEY, ip, rule, window_start) {
                    return vec![Verdict::StaleKey { ip, count, threshold, last_ok }];
                }
                return Vec::new();
            }
        }
        if count < threshold {
            if count >= self.near_at(threshold) && self.first_time(Given::NEAR, ip, rule, window_start) {
                return vec![Verdict::Near(NearThreshold { ip, rule, count, threshold, window_start, source })];
            }
            return Vec::new();
        }
        if let Some(why) = self.protection.check(ip) {
            if self.first_time(Given::PROTECTED, ip, rule, window_start) {
                return vec![Verdict::Protected { ip, rule, count, why }];
            }
            return Vec::new();
        }
        if left_to_openalgo {
            if self.first_time(Given::OPENALGO, ip, rule, window_start) {
                return vec![Verdict::LeftToOpenAlgo { ip, rule, count }];
            }
            return Vec::new();
        }
        if self.thresholds.action(rule) == Action::Notice {
            if self.first_time(Given::REACHED, ip, rule, window_start) {
                return vec![Verdict::Reached { ip, rule, count, threshold }];
            }
            return Vec::new();
        }
        // The address text is needed only now that a ban is ordered.
        let raw = String::from_utf8_lossy(raw);
        self.order_ban(ip, &raw, rule, count, threshold, rule.reason(count), source, now)
    }

    #[allow(clippy::too_many_arguments)]
    fn order_ban(
        &mut self,
        ip: IpAddr,
        raw: &str,
        rule: Rule,
        count: u32,
        threshold: u32,
        reason: String,
        source: Source,
        now: Timestamp,
    ) -> Vec<Verdict> {
        let offence = self.offences(ip).saturating_add(1);
        let length = self.thresholds.ban_for(rule, offence);
        let order = BanOrder {
            ip,
            raw: raw.trim().to_string(),
            rule,
            count,
            threshold,
            reason,
            offence,
            length,
            at: now,
            source,
            alias: false,
        };
        // The ban takes effect in the engine at once; the counter is cleared, as OpenAlgo does.
        self.ban_filter.insert(bans::ip_key(ip));
        self.bans.insert(bans::ip_key(ip), Span { until: order.expires_at(), since: Some(order.at) });
        self.version += 1;
        self.ordered_here.insert(bans::ip_key(ip), order.at);
        self.banned_raw.insert(order.raw.clone(), order.expires_at());
        self.banned_raw.insert(ip.to_string(), order.expires_at());
        self.offences.insert(ip, offence);
        if rule != Rule::Rate {
            // The counter is cleared, as OpenAlgo does (rate has per-minute buckets, not one).
            self.drop_window(ip, rule);
        }
        vec![Verdict::Ban(order)]
    }

    /// Counts one request for rate detection in `rate` (each source keeps its own counter, since
    /// buckets follow one log's time), pushing any verdict onto `out`.
    pub fn count_request(&mut self, rate: &mut RateCounter, hit: &Request<'_>, now: Timestamp, out: &mut Vec<Verdict>) {
        if !self.is_banned_client(hit.client, hit.at) {
            self.count_unbanned_request(rate, hit, now, out);
        }
    }

    /// [`Engine::count_request`] for a caller that has just checked that the client is not
    /// banned (the access-log loop checks once for this and for [`Engine::observe_item`]).
    #[inline(always)]
    pub fn count_unbanned_request(
        &mut self,
        rate: &mut RateCounter,
        hit: &Request<'_>,
        now: Timestamp,
        out: &mut Vec<Verdict>,
    ) {
        if let Some(burst) = rate.hit(&self.thresholds.rate, hit.client, hit.path, hit.secs) {
            // The request's fields one by one: a struct passed by reference would be built in
            // memory on every line, burst or not.
            self.burst(burst, hit.client, hit.raw, hit.at, hit.source, now, out);
        }
    }

    /// What a burst leads to: a notice, a ban, or nothing for a protected address.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn burst(
        &mut self,
        burst: Burst,
        client: IpKey,
        raw: &[u8],
        at: Timestamp,
        source: Source,
        now: Timestamp,
        out: &mut Vec<Verdict>,
    ) {
        let ip = client.ip();
        let day = chrono::DateTime::from_timestamp(burst.minute - burst.minute.rem_euclid(86_400), 0).unwrap_or(at);
        if let Some(why) = self.protection.check(ip) {
            // Health checks and the proxy itself are busy all day: one report a day is enough.
            if self.first_time(Given::PROTECTED, ip, Rule::Rate, day) {
                out.push(Verdict::Protected { ip, rule: Rule::Rate, count: burst.count, why });
            }
            return;
        }
        if self.thresholds.rate.action == Action::Notice {
            out.push(Verdict::Burst { ip, scope: burst.scope, count: burst.count, limit: burst.limit });
            return;
        }
        let reason = match &burst.scope {
            Some(prefix) => format!("Exceeded rate limit: {} requests in one minute to {prefix}", burst.count),
            None => Rule::Rate.reason(burst.count),
        };
        let raw = String::from_utf8_lossy(raw);
        out.extend(self.order_ban(ip, &raw, Rule::Rate, burst.count, burst.limit, reason, source, now));
    }

    fn not_an_ip(&mut self, raw: &str, rule: Rule, source: Source, at: Timestamp) -> Option<Verdict> {
        let shown = display_raw(raw);
        let key = Given::Text(format!("invalid|{rule}|{shown}"));
        if self.alerted.contains_key(&key) {
            return None;
        }
        self.alerted.insert(key, later(at, WINDOW));
        Some(Verdict::NotAnIp { raw: shown, rule, source })
    }

    fn first_time(&mut self, kind: u8, ip: IpAddr, rule: Rule, window_start: Timestamp) -> bool {
        let key = Given::Notice { kind, rule, ip, window_start: window_start.timestamp_micros() };
        if self.alerted.contains_key(&key) {
            return false;
        }
        self.alerted.insert(key, later(window_start, WINDOW));
        true
    }
}

/// The count at which a near-threshold notice fires: `ceil(fraction × threshold)`, at least 1.
pub fn near_at(fraction: f64, threshold: u32) -> u32 {
    // NOTE: the epsilon keeps 0.8 × 20 at 16 despite binary floating point.
    ((fraction * f64::from(threshold)) - 1e-9).ceil().max(1.0) as u32
}

/// The de-duplication key of a notice: one per kind, address, rule and window. This text is
/// what the state file keeps; the engine keeps the same key structured, to check it without formatting.
pub fn alert_key(kind: &str, ip: IpAddr, rule: Rule, window_start: Timestamp) -> String {
    format!("{kind}|{rule}|{ip}|{}", window_start.timestamp_micros())
}

/// A notice the engine has already given. Structured, so that asking "given yet?" on a busy
/// address hashes a few integers instead of formatting a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Given {
    /// A notice about an address under a rule in one window; `kind` indexes [`Given::KINDS`].
    Notice { kind: u8, rule: Rule, ip: IpAddr, window_start: i64 },
    /// Any other key, as text (a non-IP client, a key from the state file in another shape).
    Text(String),
}

impl Given {
    /// The kinds, as [`alert_key`] spells them.
    const KINDS: [&'static str; 5] = ["near", "protected", "openalgo", "reached", "stale_key"];
    const NEAR: u8 = 0;
    const PROTECTED: u8 = 1;
    const OPENALGO: u8 = 2;
    const REACHED: u8 = 3;
    const STALE_KEY: u8 = 4;

    /// Reads a key written by [`alert_key`] back into the same structured key the engine
    /// makes; anything else is kept as text.
    fn parse(key: String) -> Self {
        let mut parts = key.split('|');
        let (Some(kind), Some(rule), Some(ip), Some(start), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Given::Text(key);
        };
        let kind = Self::KINDS.iter().position(|k| *k == kind);
        let rule = [Rule::NotFound, Rule::InvalidApiKey, Rule::FailedLogin, Rule::Rate]
            .into_iter()
            .find(|r| r.as_str() == rule);
        match (kind, rule, ip.parse::<IpAddr>(), start.parse::<i64>()) {
            (Some(kind), Some(rule), Ok(ip), Ok(window_start)) => {
                Given::Notice { kind: kind as u8, rule, ip, window_start }
            }
            _ => Given::Text(key),
        }
    }
}
