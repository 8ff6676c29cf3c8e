//! The requests-per-minute counters the monitor keeps, shared with the dashboard so that the
//! overview's chart costs the same at 100 requests a minute as at 10 000.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::time::Timestamp;

use crate::engine::WindowRecord;
use crate::event::Rule;

use crate::source::minutes::{MinuteRing, Senders, StatusCounts};

/// What the overview's chart needs, as the monitor counted it.
#[derive(Debug, Clone, Default)]
pub struct Pulse {
    /// The access logs' requests, all logs together, as the monitor read them.
    pub access: MinuteRing,
    /// Rows of `traffic_logs`, as the monitor read them.
    pub logs_db: MinuteRing,
    /// The access logs' last hour, read once at start: for the minutes before the monitor's own.
    pub seed_access: MinuteRing,
    /// `traffic_logs`' last hour, read once at start, likewise.
    pub seed_logs_db: MinuteRing,
    /// The live 404 and invalid-key counters that the overview's totals and top offenders can
    /// show: those at a quarter of their threshold or more, and the ten highest of each rule.
    /// `None` until the monitor first published them. Published at most once a second.
    pub windows: Option<Vec<(IpAddr, Rule, WindowRecord)>>,
}

/// The [`Pulse`] as the monitor publishes it and the dashboard reads it.
pub type SharedPulse = Arc<Mutex<Pulse>>;

fn pick(live: &MinuteRing, seed: &MinuteRing, minute: i64) -> Option<StatusCounts> {
    match live.first_minute() {
        // NOTE: from the monitor's first minute on, only its own counts: a minute read both at
        // start and live would be counted twice. That first minute may miss what came before the
        // monitor started within it.
        Some(first) if minute >= first => live.get(minute),
        _ => seed.get(minute),
    }
}

impl Pulse {
    /// The access logs' requests in `minute` (Unix minutes).
    pub fn access_at(&self, minute: i64) -> Option<StatusCounts> {
        pick(&self.access, &self.seed_access, minute)
    }

    /// `traffic_logs`' rows in `minute` (Unix minutes).
    pub fn logs_db_at(&self, minute: i64) -> Option<StatusCounts> {
        pick(&self.logs_db, &self.seed_logs_db, minute)
    }

    /// The one address that sent every `traffic_logs` row in the minutes `from..=to`, if there
    /// was one, with how many rows there were.
    pub fn logs_db_one_sender(&self, from: i64, to: i64) -> Option<(String, u64)> {
        let rows: u64 = (from..=to).filter_map(|m| self.logs_db_at(m)).map(|c| c.total()).sum();
        let live_from = self.logs_db.first_minute().unwrap_or(i64::MAX);
        let seed =
            if from < live_from { self.seed_logs_db.senders(from, to.min(live_from - 1)) } else { Senders::Nobody };
        let live = if to >= live_from { self.logs_db.senders(from.max(live_from), to) } else { Senders::Nobody };
        match seed.and(live) {
            Senders::One(who) => Some((who.to_string(), rows)),
            _ => None,
        }
    }
}

impl super::Monitor {
    /// The per-minute counters this monitor publishes after every round in which it read
    /// something (the desktop app's overview chart reads them instead of the logs).
    pub fn share_pulse(&mut self) -> SharedPulse {
        self.pulse.get_or_insert_with(Default::default).clone()
    }

    pub(super) fn publish_pulse(&mut self, now: Timestamp) {
        let Some(shared) = self.pulse.clone() else { return };
        let counted = self.access.iter().map(|a| a.stats().lines).sum::<u64>() + self.traffic_rows;
        let mut p = None;
        if counted != self.published {
            self.published = counted;
            self.windows_stale = true;
            let mut access = crate::source::minutes::MinuteRing::default();
            for a in &self.access {
                if let Some(m) = a.minutes() {
                    access.merge(m);
                }
            }
            let mut g = shared.lock().unwrap_or_else(|e| e.into_inner());
            g.access = access;
            g.logs_db.clone_from(&self.traffic_minutes);
            p = Some(g);
        }
        if self.windows_stale && self.windows_due().is_none_or(|due| now >= due) {
            let windows = self.overview_windows();
            self.windows_stale = false;
            self.windows_published = Some(now);
            p.unwrap_or_else(|| shared.lock().unwrap_or_else(|e| e.into_inner())).windows = Some(windows);
        }
    }

    /// When the counters may be published to the pulse again.
    pub(super) fn windows_due(&self) -> Option<Timestamp> {
        Some(self.windows_published? + super::WINDOWS_EVERY)
    }

    /// The counters the overview can show (see [`Pulse::windows`]), found without looking up
    /// the strings of the others: every counter at a quarter of its threshold or more, and of
    /// each rule's counters below that, the ten highest (ties to the lowest address, as the
    /// overview sorts them).
    fn overview_windows(&self) -> Vec<(IpAddr, Rule, crate::engine::WindowRecord)> {
        let t = self.engine.thresholds();
        let bar = |rule: Rule| t.limits(rule).threshold.div_ceil(4).max(1);
        let bars = [bar(Rule::NotFound), bar(Rule::InvalidApiKey)];
        let slot = |rule: Rule| match rule {
            Rule::NotFound => Some(0),
            Rule::InvalidApiKey => Some(1),
            _ => None,
        };
        // First the tenth-highest count below the bar, by counts alone.
        let mut tops = [[0u32; 10]; 2];
        for (_, rule, count) in self.engine.window_counts() {
            let Some(i) = slot(rule) else { continue };
            if count < bars[i] && count > tops[i][9] {
                tops[i][9] = count;
                tops[i].sort_unstable_by(|a, b| b.cmp(a));
            }
        }
        let cut = tops.map(|t| t[9].max(1));
        // Then the addresses above that cut, and of those at it, the lowest by text, as the
        // overview breaks ties.
        let mut above: [Vec<IpAddr>; 2] = [Vec::new(), Vec::new()];
        let mut at: [Vec<(String, IpAddr)>; 2] = [Vec::new(), Vec::new()];
        for (ip, rule, count) in self.engine.window_counts() {
            let Some(i) = slot(rule) else { continue };
            if count < bars[i] && count > cut[i] {
                above[i].push(ip);
            } else if count < bars[i] && count == cut[i] {
                at[i].push((ip.to_string(), ip));
            }
        }
        let mut out: Vec<_> = self
            .engine
            .windows_where(move |rule, count| match rule {
                Rule::NotFound => count >= bars[0],
                Rule::InvalidApiKey => count >= bars[1],
                _ => false,
            })
            .collect();
        for (i, rule) in [(0, Rule::NotFound), (1, Rule::InvalidApiKey)] {
            let room = 10usize.saturating_sub(above[i].len());
            if at[i].len() > room && room > 0 {
                at[i].select_nth_unstable(room - 1);
            }
            at[i].truncate(room);
            let ips = above[i].iter().copied().chain(at[i].iter().map(|(_, ip)| *ip));
            out.extend(ips.filter_map(|ip| self.engine.window(ip, rule).map(|w| (ip, rule, w))));
        }
        out
    }
}
