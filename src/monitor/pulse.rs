//! The requests-per-minute counters the monitor keeps, shared with the dashboard so that the
//! overview's chart costs the same at 100 requests a minute as at 10 000.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

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
    /// Whether the seed has been read.
    pub seeded: bool,
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
