//! The monitor: sources → engine → stores, reporting [`Notice`]s.
//!
//! [`Monitor::tick`] does one round at the time it is given: it follows OpenAlgo's settings when
//! asked to, reads what changed in `logs.db`, feeds the engine, writes the bans it orders, and
//! returns what happened. [`Monitor::spawn`] runs ticks on a thread, woken by file-system
//! notifications with a slow poll as fallback. The CLI, the daemon and the desktop app all run
//! this same monitor; none of them decides anything itself.

mod handle;
mod notice;

use std::collections::HashSet;
use std::net::IpAddr;

pub use handle::MonitorHandle;
pub use notice::Notice;

use crate::config::{Config, Paths, ThresholdSource};
use crate::engine::{BanOrder, Engine, Thresholds, Verdict, WINDOW};
use crate::error::Result;
use crate::event::Source;
use crate::ip::canonicalize;
use crate::source::openalgo::{Changes, Health, OpenAlgoSource};
use crate::store::logs_db::{BanWrite, NewBan};
use crate::store::openalgo_settings::OpenAlgoDb;
use crate::store::state::{Offence, StateDb};
use crate::time::Timestamp;

const TRAFFIC_CURSOR: &str = "openalgo.traffic_logs";

/// Follows OpenAlgo's settings row when `thresholds = "openalgo"`.
#[derive(Debug)]
struct Follower {
    path: Option<std::path::PathBuf>,
    db: Option<OpenAlgoDb>,
    version: Option<i64>,
    health: Option<Health>,
}

/// Per-minute traffic counts from `traffic_logs`.
#[derive(Debug, Default, Clone, Copy)]
struct Minute {
    start: Option<i64>,
    requests: u64,
    not_found: u64,
    denied: u64,
    errors: u64,
}

/// The live monitor.
#[derive(Debug)]
pub struct Monitor {
    engine: Engine,
    own_thresholds: Thresholds,
    state: StateDb,
    logs: OpenAlgoSource,
    follower: Option<Follower>,
    pending: Vec<BanOrder>,
    imported: HashSet<(String, i64)>,
    state_version: Option<i64>,
    minute: Minute,
    poll_seconds: u64,
    started: bool,
}

impl Monitor {
    /// Builds a monitor from a validated configuration and resolved paths. Only Warden's own
    /// state must open; `logs.db` and `openalgo.db` may be missing and are retried on every tick.
    pub fn open(cfg: &Config, paths: &Paths) -> Result<Self> {
        let state = StateDb::open(&paths.state_db)?;
        let own_thresholds = cfg.own_thresholds();
        let mut engine = Engine::new(own_thresholds.clone(), cfg.protection()?, cfg.near_fraction);
        engine.set_offences(state.offence_counts()?);
        let cursor = state.cursor(TRAFFIC_CURSOR)?.and_then(|c| c.parse().ok());
        let follower = (cfg.thresholds == ThresholdSource::Openalgo).then(|| Follower {
            path: paths.openalgo_db.clone(),
            db: None,
            version: None,
            health: None,
        });
        Ok(Self {
            engine,
            own_thresholds,
            state,
            logs: OpenAlgoSource::new(&paths.logs_db, cursor),
            follower,
            pending: Vec::new(),
            imported: HashSet::new(),
            state_version: None,
            minute: Minute::default(),
            poll_seconds: cfg.poll_seconds,
            started: false,
        })
    }

    /// The engine, for read-only views.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Seconds between fallback polls.
    pub fn poll_seconds(&self) -> u64 {
        self.poll_seconds
    }

    /// The files whose changes should wake the monitor.
    pub fn watched_files(&self) -> Vec<std::path::PathBuf> {
        let mut files = vec![self.logs.path().to_path_buf()];
        if let Some(p) = self.follower.as_ref().and_then(|f| f.path.clone()) {
            files.push(p);
        }
        files
    }

    /// One round at `now`. Returns what happened, in order.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Notice> {
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            self.start(now, &mut out);
        }
        self.follow_openalgo(&mut out);
        self.reload_offences_if_changed(&mut out);
        loop {
            let (health, changes) = self.logs.poll();
            if let Some(health) = health {
                out.push(Notice::Source {
                    name: "logs.db".into(),
                    path: self.logs.path().display().to_string(),
                    health,
                });
            }
            let Some(changes) = changes else { break };
            let more = changes.more_traffic;
            self.apply(changes, now, &mut out);
            if !more {
                break;
            }
        }
        self.retry_pending(now, &mut out);
        self.engine.evict(now);
        self.close_minute(now, false, &mut out);
        out
    }

    fn start(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        match self.state.live_alerts(now) {
            Ok(keys) => keys.into_iter().for_each(|(k, until)| self.engine.remember_alert(k, until)),
            Err(e) => out.push(self.state_failing(&e)),
        }
        if self.follower.is_none() {
            out.push(Notice::Thresholds { from: "warden".into(), thresholds: self.own_thresholds.clone() });
        }
    }

    fn state_failing(&self, e: &crate::Error) -> Notice {
        Notice::Source {
            name: "state.db".into(),
            path: self.state.path().display().to_string(),
            health: Health::Failing(e.to_string()),
        }
    }

    fn follow_openalgo(&mut self, out: &mut Vec<Notice>) {
        let Some(f) = self.follower.as_mut() else { return };
        let result = (|| -> Result<Option<Thresholds>> {
            let path = f.path.as_ref().ok_or_else(|| {
                crate::Error::OpenAlgoSettings(
                    "openalgo.db is not known: pass --openalgo-db PATH or set openalgo_db in the configuration".into(),
                )
            })?;
            if f.db.is_none() {
                f.db = Some(OpenAlgoDb::open(path)?);
                f.version = None;
            }
            let Some(db) = f.db.as_ref() else { return Ok(None) };
            let version = db.data_version()?;
            if f.version == Some(version) {
                return Ok(None);
            }
            let row = db.read()?;
            f.version = Some(version);
            Ok(Some(row.thresholds()))
        })();
        let health = match &result {
            Ok(_) => Health::Ok,
            Err(e) => {
                f.db = None;
                Health::Failing(format!("{e}; using Warden's own thresholds meanwhile"))
            }
        };
        if f.health.as_ref() != Some(&health) {
            let path = f.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            out.push(Notice::Source { name: "openalgo.db".into(), path, health: health.clone() });
            f.health = Some(health);
        }
        let next = match result {
            Ok(Some(t)) => Some(t),
            Ok(None) => None,
            Err(_) => Some(self.own_thresholds.clone()),
        };
        if let Some(t) = next.filter(|t| t != self.engine.thresholds()) {
            let from = if t.openalgo_auto_ban.is_some() { "openalgo" } else { "warden" };
            out.push(Notice::Thresholds { from: from.into(), thresholds: t.clone() });
            self.engine.set_thresholds(t);
            // New numbers: judge every tracker row again.
            self.logs.rescan();
        }
    }

    fn reload_offences_if_changed(&mut self, out: &mut Vec<Notice>) {
        let version = match self.state.data_version() {
            Ok(v) => v,
            Err(e) => return out.push(self.state_failing(&e)),
        };
        if self.state_version.replace(version).is_some_and(|old| old != version) {
            // Another process (the CLI) recorded offences: take them over.
            match self.state.offence_counts() {
                Ok(counts) => self.engine.set_offences(counts),
                Err(e) => out.push(self.state_failing(&e)),
            }
        }
    }

    fn apply(&mut self, changes: Changes, now: Timestamp, out: &mut Vec<Notice>) {
        self.engine.sync_bans(changes.bans.iter().filter_map(|r| r.active(now).map(|until| (r.ip.as_str(), until))));
        self.import_openalgo_bans(&changes.bans, out);
        for reading in &changes.readings {
            for verdict in self.engine.observe_tracker(reading, now) {
                self.act(verdict, now, out);
            }
        }
        for row in &changes.traffic {
            self.count_traffic(row, now, out);
        }
        if let Some(cursor) = self.logs.traffic_cursor() {
            if let Err(e) = self.state.set_cursor(TRAFFIC_CURSOR, &cursor.to_string()) {
                out.push(self.state_failing(&e));
            }
        }
    }

    /// Remembers bans OpenAlgo made itself, so they count as offences after OpenAlgo deletes them.
    fn import_openalgo_bans(&mut self, rows: &[crate::store::logs_db::BanRow], out: &mut Vec<Notice>) {
        let mut changed = false;
        for row in rows.iter().filter(|r| !r.by_warden()) {
            let (Ok(ip), Some(at)) = (canonicalize(&row.ip), row.banned_at) else { continue };
            if !self.imported.insert((ip.to_string(), at.timestamp_micros())) {
                continue;
            }
            let offence = Offence {
                ip: ip.to_string(),
                rule: format!("openalgo:{}", row.created_by.as_deref().unwrap_or("unknown")),
                at,
                until: if row.is_permanent == Some(true) { None } else { row.expires_at },
                source: "openalgo".into(),
                reason: row.reason.clone(),
            };
            match self.state.record_offence(&offence) {
                Ok(inserted) => changed |= inserted,
                Err(e) => out.push(self.state_failing(&e)),
            }
        }
        let known_counts: Vec<(IpAddr, i64)> =
            rows.iter().filter_map(|r| Some((canonicalize(&r.ip).ok()?, r.ban_count?))).collect();
        if changed || !known_counts.is_empty() {
            match self.state.offence_counts() {
                Ok(mut counts) => {
                    // A row's ban_count says at least that many bans happened.
                    for (ip, n) in known_counts {
                        let n = u32::try_from(n.max(0)).unwrap_or(u32::MAX);
                        let c = counts.entry(ip).or_insert(0);
                        *c = (*c).max(n);
                    }
                    self.engine.set_offences(counts);
                }
                Err(e) => out.push(self.state_failing(&e)),
            }
        }
    }

    fn act(&mut self, verdict: Verdict, now: Timestamp, out: &mut Vec<Notice>) {
        match verdict {
            Verdict::Ban(order) => self.write_ban(order, out),
            Verdict::Near(n) => {
                let key = crate::engine::alert_key("near", n.ip, n.rule, n.window_start);
                // The state file carries the once-per-window promise across restarts.
                if self.state.alert_once(&key, now, n.window_start + WINDOW).unwrap_or(true) {
                    out.push(Notice::NearThreshold {
                        ip: n.ip.to_string(),
                        rule: n.rule,
                        count: n.count,
                        threshold: n.threshold,
                        source: n.source,
                        window_start: n.window_start,
                    });
                }
            }
            Verdict::Protected { ip, rule, count, why } => {
                out.push(Notice::Protected { ip: ip.to_string(), rule, count, why: why.to_string() })
            }
            Verdict::LeftToOpenAlgo { ip, rule, count } => {
                out.push(Notice::LeftToOpenAlgo { ip: ip.to_string(), rule, count })
            }
            Verdict::NotAnIp { raw, rule, source } => out.push(Notice::NotAnIp { raw, rule, source }),
        }
    }

    fn write_ban(&mut self, order: BanOrder, out: &mut Vec<Notice>) {
        let canonical = order.ip.to_string();
        let mut ips = vec![canonical.clone()];
        if order.raw != canonical && !order.raw.is_empty() {
            ips.push(order.raw.clone());
        }
        let ban = NewBan {
            ips: ips.clone(),
            reason: order.reason.clone(),
            length: order.length,
            at: order.at,
            created_by: order.rule.created_by().into(),
            offence: order.offence,
        };
        let Some(db) = self.logs.db_mut() else {
            out.push(Notice::BanPending { ip: canonical, error: "logs.db is not open".into() });
            self.pending.push(order);
            return;
        };
        match db.write_ban(&ban) {
            Ok(BanWrite::Written { ban_count }) => {
                if order.source == Source::Openalgo {
                    // OpenAlgo clears its tracker after a ban; so does Warden.
                    for ip in &ips {
                        let _ = db.clear_tracker(order.rule, ip);
                    }
                }
                let offence = Offence {
                    ip: canonical.clone(),
                    rule: order.rule.as_str().into(),
                    at: order.at,
                    until: order.expires_at(),
                    source: "warden".into(),
                    reason: Some(order.reason.clone()),
                };
                if let Err(e) = self.state.record_offence(&offence) {
                    out.push(self.state_failing(&e));
                }
                out.push(Notice::Banned {
                    ip: canonical,
                    rows: ips,
                    rule: order.rule,
                    expires_at: order.expires_at(),
                    reason: order.reason,
                    count: order.count,
                    threshold: order.threshold,
                    offence: order.offence,
                    ban_count,
                    permanent: order.length.is_permanent(),
                    source: order.source,
                    at: order.at,
                });
            }
            Ok(BanWrite::AlreadyStronger) => {}
            Err(e) => {
                out.push(Notice::BanPending { ip: canonical, error: e.to_string() });
                self.pending.push(order);
            }
        }
    }

    fn retry_pending(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        if self.pending.is_empty() || self.logs.db_mut().is_none() {
            return;
        }
        for mut order in std::mem::take(&mut self.pending) {
            // A ban that waited still lasts its full length from when it is written.
            order.at = now;
            self.write_ban(order, out);
        }
    }

    fn count_traffic(&mut self, row: &crate::store::logs_db::TrafficRow, now: Timestamp, out: &mut Vec<Notice>) {
        let minute = row.at.unwrap_or(now).timestamp() / 60;
        if self.minute.start.is_some_and(|m| m != minute) {
            self.close_minute(now, true, out);
        }
        let m = &mut self.minute;
        m.start.get_or_insert(minute);
        m.requests += 1;
        match row.status {
            404 => m.not_found += 1,
            401 | 403 => m.denied += 1,
            500..=599 => m.errors += 1,
            _ => {}
        }
    }

    fn close_minute(&mut self, now: Timestamp, force: bool, out: &mut Vec<Notice>) {
        let Some(start) = self.minute.start else { return };
        if !force && now.timestamp() / 60 == start {
            return;
        }
        let m = std::mem::take(&mut self.minute);
        out.push(Notice::Traffic { requests: m.requests, not_found: m.not_found, denied: m.denied, errors: m.errors });
    }

    /// Runs the monitor on its own thread until the handle is dropped. `on_notice` receives every
    /// notice, in order, on that thread.
    pub fn spawn(self, on_notice: impl FnMut(Notice) + Send + 'static) -> Result<MonitorHandle> {
        MonitorHandle::spawn(self, on_notice)
    }
}
