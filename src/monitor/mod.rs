//! The monitor: sources → engine → stores, reporting [`Notice`]s.
//!
//! [`Monitor::tick`] does one round at the time it is given: it follows OpenAlgo's settings when
//! asked to, reads what changed in `logs.db`, feeds the engine, writes the bans it orders, and
//! returns what happened. [`Monitor::spawn`] runs ticks on a thread, woken by file-system
//! notifications with a slow poll as fallback. The CLI, the daemon and the desktop app all run
//! this same monitor; none of them decides anything itself.

mod act;
mod crowdsec;
mod enforce;
mod follow;
mod handle;
mod notice;
mod pulse;
mod signins;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use follow::Follower;
pub use handle::MonitorHandle;
pub use notice::Notice;
pub use pulse::{Pulse, SharedPulse};

use crate::config::{Config, Paths, ThresholdSource};
use crate::engine::{BanLength, BanOrder, Engine, Thresholds};
use crate::error::Result;
use crate::event::{Rule, Source, Tracker};
use crate::ip::{canonicalize, display_raw};
use crate::source::access::follow::AccessSource;
use crate::source::openalgo::{Changes, Health, OpenAlgoSource};
use crate::store::logs_db::BanRow;
use crate::store::saver::Saver;
use crate::store::state::{Offence, StateDb};
use crate::time::Timestamp;

const TRAFFIC_CURSOR: &str = "openalgo.traffic_logs";

/// How often the trader's own addresses are gathered again.
const OWN_REFRESH: chrono::Duration = chrono::Duration::seconds(15);

/// How often counters whose window is over are dropped, at most.
const EVICT_EVERY: chrono::Duration = chrono::Duration::seconds(1);

/// How often the live counters are published to the dashboard's pulse, at most.
const WINDOWS_EVERY: chrono::Duration = chrono::Duration::seconds(1);

/// How often the state's WAL is copied back into the database, on a thread of its own.
const WAL_CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

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
    access: Vec<AccessSource>,
    follower: Option<Follower>,
    /// Bans that could not be written yet, one per address, retried every tick.
    pending: HashMap<IpAddr, BanOrder>,
    /// Set while pending bans are retried, so a failure is not announced twice.
    retrying: bool,
    /// Addresses whose ban is being retried (their saved copy goes once it is written).
    was_pending: HashSet<IpAddr>,
    imported: HashSet<(String, i64)>,
    /// The `ban_count` of each OpenAlgo ban already handed to the state, so that the whole of
    /// `ip_bans`, read again at every change of `logs.db`, is not written again row by row.
    ban_counts: HashMap<String, u32>,
    state_version: Option<i64>,
    /// `openalgo.db`, where the trader's sign-ins are (see [`crate::source::own`]).
    openalgo_db: Option<std::path::PathBuf>,
    /// When the trader's own addresses were last gathered.
    own_checked: Option<Timestamp>,
    minute: Minute,
    poll_seconds: u64,
    started: bool,
    /// The position last handed to the saver, per access log (an unchanged one with no changed
    /// counter is not saved again: `logs.db` alone wakes the monitor at every request).
    submitted: Vec<Option<String>>,
    /// When counters whose window is over were last dropped.
    evicted: Option<Timestamp>,
    /// Saves positions and counters on its own thread, so a busy disk does not stop the reading.
    saver: Saver,
    /// `traffic_logs` rows per minute, as read.
    traffic_minutes: crate::source::minutes::MinuteRing,
    /// Where the per-minute counters are published for the dashboard, once asked for.
    pulse: Option<SharedPulse>,
    /// Lines and rows counted when the pulse was last published.
    published: u64,
    /// `traffic_logs` rows counted.
    traffic_rows: u64,
    /// Whether the counters changed since they were last published to the pulse.
    windows_stale: bool,
    /// When the counters were last published to the pulse.
    windows_published: Option<Timestamp>,
    /// Whether the last round found anything new (see [`Monitor::changed`]).
    changed: bool,
    /// The server checklist, run again when what it reads changes (once asked for).
    recheck: Option<crate::check::recheck::Rechecker>,
    /// Where the latest checklist is published for the dashboard.
    checklist: Option<SharedChecklist>,
    /// Access policies, the mode, and the sinks beyond `logs.db`.
    enforcement: enforce::Enforcement,
    /// See [`crate::config::RulesConfig::ipv6_prefix_after`].
    ipv6_prefix_after: u32,
    /// OpenAlgo's sign-ins, when `openalgo.db` is known.
    signins: Option<signins::SignInWatch>,
    /// The alert channels (`[[alert]]`), when any is configured.
    router: Option<crate::alert::router::Router>,
    /// Metrics, the event file and syslog (`[export]`), when any is configured.
    exports: Option<crate::export::Exports>,
    /// Sharing bans through CrowdSec's Local API (`[crowdsec]`), when configured.
    crowdsec: Option<crowdsec::Crowdsec>,
}

/// The latest server checklist, as the monitor publishes it and the dashboard reads it.
pub type SharedChecklist = std::sync::Arc<std::sync::Mutex<Option<crate::check::Report>>>;

impl Monitor {
    /// Builds a monitor from a validated configuration and resolved paths. Only Warden's own
    /// state must open; `logs.db` and `openalgo.db` may be missing and are retried on every tick.
    pub fn open(cfg: &Config, paths: &Paths) -> Result<Self> {
        let state = StateDb::open(&paths.state_db)?;
        // The saving thread's connection copies the WAL back; this one's rare commits must not.
        state.leave_checkpoints_to_background()?;
        let saver = Saver::start(&paths.state_db, WAL_CHECKPOINT_EVERY)?;
        let own_thresholds = cfg.own_thresholds();
        let mut engine = Engine::new(own_thresholds.clone(), cfg.protection()?, cfg.near_fraction);
        engine.set_spare_working_keys(cfg.classify.spare_working_keys);
        engine.set_offences(state.offence_counts()?);
        let cursor = state.cursor(TRAFFIC_CURSOR)?.and_then(|c| c.parse().ok());
        let follower = (cfg.thresholds == ThresholdSource::Openalgo).then(|| Follower::new(paths.openalgo_db.clone()));
        let history = chrono::Duration::hours(i64::from(cfg.history_hours));
        let mut access = Vec::new();
        for (path, format) in &paths.access_logs {
            let saved = state.cursor(&AccessSource::key_for(path))?.and_then(|c| serde_json::from_str(&c).ok());
            access.push(AccessSource::new(path, format, &cfg.classify, saved, history)?);
        }
        for (ip, rule, window) in state.windows()? {
            engine.load_window(ip, rule, &window);
        }
        // Bans that could not be written before a stop: held, and retried on the first tick.
        let mut pending = HashMap::new();
        for order in state.pending()? {
            engine.hold(order.ip, order.expires_at());
            pending.insert(order.ip, order);
        }
        let submitted = vec![None; access.len()];
        let signins = paths.openalgo_db.clone().map(|p| signins::SignInWatch::new(p, !paths.access_logs.is_empty()));
        let router = if cfg.alert.is_empty() {
            None
        } else {
            let mut channels = cfg.alert.clone();
            channels.iter_mut().for_each(|c| c.openalgo_db = paths.openalgo_db.clone());
            Some(crate::alert::router::Router::start(&paths.state_db, &channels, crate::time::now())?)
        };
        let exports = Some(crate::export::Exports::start(&cfg.export)?).filter(|x| !x.is_empty());
        let crowdsec = match &cfg.crowdsec {
            Some(c) => {
                let (cfg2, paths2) = (cfg.clone(), paths.clone());
                let worker = crate::crowdsec::worker::Worker::start(c, &paths.state_db, move |now| {
                    paths2.protection(&cfg2, now)
                })?;
                Some(crowdsec::Crowdsec::new(worker))
            }
            None => None,
        };
        Ok(Self {
            engine,
            own_thresholds,
            state,
            logs: OpenAlgoSource::new(&paths.logs_db, cursor),
            access,
            follower,
            pending,
            retrying: false,
            was_pending: HashSet::new(),
            imported: HashSet::new(),
            ban_counts: HashMap::new(),
            state_version: None,
            openalgo_db: paths.openalgo_db.clone(),
            own_checked: None,
            minute: Minute::default(),
            poll_seconds: cfg.poll_seconds,
            started: false,
            submitted,
            evicted: None,
            saver,
            traffic_minutes: Default::default(),
            pulse: None,
            published: u64::MAX,
            traffic_rows: 0,
            windows_stale: false,
            windows_published: None,
            changed: false,
            recheck: None,
            checklist: None,
            enforcement: enforce::Enforcement {
                enforcer: crate::enforce::Enforcer::from_config(&cfg.enforce),
                ..Default::default()
            },
            ipv6_prefix_after: cfg.rules.ipv6_prefix_after,
            signins,
            router,
            exports,
            crowdsec,
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
        let mut files = vec![self.logs.path().to_path_buf(), crate::store::state::wake_file(self.state.path())];
        files.extend(self.access.iter().map(|a| a.path().to_path_buf()));
        if let Some(p) = self.follower.as_ref().and_then(|f| f.path().cloned()) {
            files.push(p);
        }
        if let Some(w) = &self.signins {
            if !files.iter().any(|f| f == w.path()) {
                files.push(w.path().to_path_buf());
            }
        }
        files
    }

    /// When the next round must come even if no file changes: `logs.db` changed while its
    /// scan was held back (see [`crate::source::openalgo::SCAN_SPACING_PER_ROW`]).
    pub fn due(&self) -> Option<Timestamp> {
        let windows = self.windows_due().filter(|_| self.windows_stale && self.pulse.is_some());
        let signins = self.signins.as_ref().and_then(signins::SignInWatch::due);
        [self.logs.due(), windows, self.enforce_due(), signins].into_iter().flatten().min()
    }

    /// Whether the last round found anything new: a commit to `logs.db`, lines in an access log,
    /// or a notice. A round woken by a file that was only read (the dashboard's own reads close
    /// `logs.db`'s `-wal` as a writer would) finds nothing, and the app does not refresh for it.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Runs the server checklist again by itself when OpenAlgo's `.env`, its files' modes or
    /// nginx's configuration change (see [`crate::check::recheck`]), reporting each new outcome as
    /// a [`Notice::Checklist`]. `checker` holds the first outcome, which is published at once.
    /// Returns where the latest checklist is published.
    pub fn watch_checklist(&mut self, checker: crate::check::recheck::Rechecker) -> SharedChecklist {
        let shared: SharedChecklist = std::sync::Arc::new(std::sync::Mutex::new(Some(checker.last().clone())));
        self.recheck = Some(checker);
        self.checklist = Some(shared.clone());
        shared
    }

    fn recheck(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        let Some(r) = &mut self.recheck else { return };
        let Some(change) = r.poll(now) else { return };
        if let Some(shared) = &self.checklist {
            *shared.lock().unwrap_or_else(|p| p.into_inner()) = Some(r.last().clone());
        }
        out.push(Notice::Checklist(change));
    }

    /// One round at `now`. Returns what happened, in order.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Notice> {
        let mut out = Vec::new();
        let lines_before: u64 = self.access.iter().map(|a| a.stats().lines).sum();
        self.changed = false;
        if !self.started {
            self.started = true;
            self.start(now, &mut out);
        }
        self.refresh_own_addresses(now);
        self.follow_openalgo(&mut out);
        self.follow_signins(now, &mut out);
        self.reload_offences_if_changed(&mut out);
        self.follow_policies(now, &mut out);
        // The counts at which the engine warns or bans are read at every commit.
        let thresholds = self.engine.thresholds();
        self.logs.read_hot_from(Tracker::ALL.map(|t| {
            let threshold = thresholds.limits(t.rule()).threshold;
            self.engine.near_at(threshold).min(threshold)
        }));
        loop {
            let (health, changes) = self.logs.poll(now);
            if let Some(health) = health {
                out.push(Notice::Source {
                    name: "logs.db".into(),
                    path: self.logs.path().display().to_string(),
                    health,
                });
            }
            let Some(changes) = changes else { break };
            self.changed = true;
            let more = changes.more_traffic;
            self.apply(changes, now, &mut out);
            if !more {
                break;
            }
        }
        self.follow_access(now, &mut out);
        self.retry_pending(now, &mut out);
        self.enforce(now, &mut out);
        self.follow_crowdsec(now, &mut out);
        // Once a second at most: it walks every counter, and a busy log wakes the monitor
        // hundreds of times a second.
        if self.evicted.is_none_or(|at| now < at || now - at >= EVICT_EVERY) {
            self.evicted = Some(now);
            self.engine.evict(now);
        }
        self.close_minute(now, false, &mut out);
        self.recheck(now, &mut out);
        self.publish_pulse(now);
        if let Some(r) = self.router.as_mut() {
            out.extend(r.health());
        }
        if let Some(x) = self.exports.as_mut() {
            if let Some(Ok(mut m)) = x.metrics().map(|m| m.lock()) {
                m.set_events(&self.engine.events_seen());
                if let Some(r) = &self.router {
                    m.set_deliveries(r.tallies());
                }
            }
            let more = x.on_notices(&out, now);
            out.extend(more);
        }
        if let Some(r) = self.router.as_mut() {
            r.route(&out, now);
        }
        let lines_after: u64 = self.access.iter().map(|a| a.stats().lines).sum();
        self.changed |= lines_after != lines_before || !out.is_empty();
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

    /// Re-reads the addresses the trader is using every [`OWN_REFRESH`] (they sign in from a
    /// new place; an SSH session opens), so the new one is protected within that time.
    fn refresh_own_addresses(&mut self, now: Timestamp) {
        if self.own_checked.is_some_and(|at| now >= at && now - at < OWN_REFRESH) {
            return;
        }
        self.own_checked = Some(now);
        self.engine.set_own_addresses(crate::source::own::gather(self.openalgo_db.as_deref(), now));
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
        let look = f.look(&self.own_thresholds);
        if let Some(health) = look.health {
            let path = f.path().map(|p| p.display().to_string()).unwrap_or_default();
            out.push(Notice::Source { name: "openalgo.db".into(), path, health });
        }
        let next = if look.failed { Some(self.own_thresholds.clone()) } else { look.thresholds };
        if let Some(t) = next.filter(|t| t != self.engine.thresholds()) {
            let from = if t.openalgo_auto_ban.is_some() { "openalgo" } else { "warden" };
            out.push(Notice::Thresholds { from: from.into(), thresholds: t.clone() });
            self.engine.set_thresholds(t);
            // New numbers: judge every tracker row again.
            self.logs.rescan();
        }
    }

    fn reload_offences_if_changed(&mut self, out: &mut Vec<Notice>) {
        let version = match self.state.offences_version() {
            Ok(v) => v,
            Err(e) => return out.push(self.state_failing(&e)),
        };
        if self.state_version.replace(version).is_some_and(|old| old != version) {
            // Another process (the CLI) recorded offences: take them over.
            self.refresh_offences(out);
        }
    }

    /// Reads each access log and hands its position, with the counters it changed, to the
    /// saving thread.
    fn follow_access(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        if let Some(e) = self.saver.take_failure() {
            out.push(self.state_failing(&e));
        }
        for i in 0..self.access.len() {
            let mut verdicts = Vec::new();
            if let Some(health) = self.access[i].poll(&mut self.engine, now, &mut verdicts) {
                let path = self.access[i].path().display().to_string();
                out.push(Notice::Source { name: "access log".into(), path, health });
            }
            for verdict in verdicts {
                self.act(verdict, now, out);
            }
            // Counters are saved only together with a position; with no position yet (the file
            // is missing) they stay marked and go with the first one.
            let cursor = self.access[i].position().and_then(|p| serde_json::to_string(&p).ok());
            let Some(cursor) = cursor else { continue };
            let dirty = self.engine.take_dirty();
            if dirty.is_empty() && self.submitted[i].as_ref() == Some(&cursor) {
                continue;
            }
            self.saver.submit(self.access[i].key(), cursor.clone(), dirty);
            self.submitted[i] = Some(cursor);
        }
    }

    /// Offence counts from Warden's history (which includes the `ban_count` evidence).
    fn refresh_offences(&mut self, out: &mut Vec<Notice>) {
        match self.state.offence_counts() {
            Ok(counts) => self.engine.set_offences(counts),
            Err(e) => out.push(self.state_failing(&e)),
        }
    }

    fn apply(&mut self, changes: Changes, now: Timestamp, out: &mut Vec<Notice>) {
        if let Some(bans) = &changes.bans {
            if let Some(cs) = self.crowdsec.as_mut() {
                cs.created_by = bans
                    .iter()
                    .filter_map(|r| Some((canonicalize(&r.ip).ok()?, r.created_by.clone().unwrap_or_default())))
                    .collect();
            }
            // Rows that run out meanwhile need no new reading: the engine checks every end.
            self.engine
                .sync_bans(bans.iter().filter_map(|r| r.active(now).map(|until| (r.ip.as_str(), r.banned_at, until))));
            self.import_openalgo_bans(bans, now, out);
        }
        self.windows_stale |= !changes.readings.is_empty();
        for reading in &changes.readings {
            for verdict in self.engine.observe_tracker(reading, now) {
                self.act(verdict, now, out);
            }
        }
        for row in &changes.unreadable {
            out.push(Notice::Unreadable {
                what: format!("{} row {}", row.tracker.table(), row.id),
                ip: display_raw(&row.ip),
                why: "its window start is not a timestamp, so its count cannot be judged".into(),
            });
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

    /// Remembers bans OpenAlgo made itself, so they count as offences after OpenAlgo deletes them,
    /// and makes OpenAlgo's own auto-ban of a repeat offender permanent.
    fn import_openalgo_bans(&mut self, rows: &[BanRow], now: Timestamp, out: &mut Vec<Notice>) {
        let mut changed = false;
        let mut fresh = Vec::new();
        for row in rows.iter().filter(|r| !r.by_warden()) {
            let Ok(ip) = canonicalize(&row.ip) else { continue };
            // NOTE: a host ban's ban_count counts traffic rows, not bans (spec §5.9): no evidence.
            if let (Some(n), false) = (row.ban_count, row.created_by.as_deref() == Some("host_ban")) {
                let n = u32::try_from(n.max(0)).unwrap_or(u32::MAX);
                let key = ip.to_string();
                if self.ban_counts.get(&key).is_none_or(|&had| n > had) {
                    match self.state.raise_ban_count(&key, n) {
                        Ok(raised) => {
                            changed |= raised;
                            if self.ban_counts.len() > 100_000 {
                                // Only saves repeated writes; the state keeps the highest anyway.
                                self.ban_counts.clear();
                            }
                            self.ban_counts.insert(key, n);
                        }
                        Err(e) => out.push(self.state_failing(&e)),
                    }
                }
            }
            let Some(at) = row.banned_at else { continue };
            if self.imported.len() > 100_000 {
                // The set only saves repeated inserts; the state file de-duplicates anyway.
                self.imported.clear();
            }
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
                Ok(true) => {
                    changed = true;
                    fresh.push((ip, row));
                }
                Ok(false) => {}
                Err(e) => out.push(self.state_failing(&e)),
            }
        }
        if changed {
            self.refresh_offences(out);
        }
        for (ip, row) in fresh {
            self.escalate_openalgo_ban(ip, row, now, out);
        }
    }

    /// OpenAlgo restarts its count after deleting an expired ban, so its own auto-ban never sees
    /// a repeat offender. Warden remembers: from the repeat-offender limit on, it makes OpenAlgo's
    /// temporary auto-ban permanent.
    fn escalate_openalgo_ban(&mut self, ip: IpAddr, row: &BanRow, now: Timestamp, out: &mut Vec<Notice>) {
        let rule = match row.created_by.as_deref() {
            Some("404_detector") => Rule::NotFound,
            Some("api_key_detector") => Rule::InvalidApiKey,
            _ => return,
        };
        let offence = self.engine.offences(ip);
        if !matches!(row.active(now), Some(Some(_))) || offence < self.engine.thresholds().repeat_offender_limit {
            return;
        }
        let threshold = self.engine.thresholds().limits(rule).threshold;
        let reason = row.reason.clone().unwrap_or_else(|| rule.reason(threshold));
        let order = BanOrder {
            ip,
            raw: row.ip.clone(),
            rule,
            count: threshold,
            threshold,
            reason: format!("{reason} (repeat offender: offence {offence})"),
            offence,
            length: BanLength::Permanent,
            at: now,
            source: Source::Openalgo,
            alias: false,
        };
        self.write_ban(order, out);
    }

    /// Runs the monitor on its own thread until the handle is dropped. `on_notice` receives every
    /// notice, in order, on that thread.
    pub fn spawn(self, on_notice: impl FnMut(Notice) + Send + 'static) -> Result<MonitorHandle> {
        MonitorHandle::spawn(self, on_notice, |_| {})
    }

    /// Like [`Monitor::spawn`], and `on_round` is called after every round with `true` when a
    /// file change woke it (the desktop app refreshes what is on screen then).
    pub fn spawn_with_rounds(
        self,
        on_notice: impl FnMut(Notice) + Send + 'static,
        on_round: impl FnMut(bool) + Send + 'static,
    ) -> Result<MonitorHandle> {
        MonitorHandle::spawn(self, on_notice, on_round)
    }
}
