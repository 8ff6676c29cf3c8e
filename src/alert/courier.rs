//! Delivery: one thread per channel, each with its queue in Warden's state database.
//!
//! An alert handed to [`Courier::send`] is written to the queue by the channel's thread and tried
//! at once. It leaves the queue only when the service took it (2xx), when the service refused it
//! for good (a 4xx other than 429), or when it is [`GIVE_UP_AFTER`] old. In between it is retried
//! with a backoff, or after the service's own `Retry-After`/`retry_after`. A channel's alerts go
//! out in order: while the oldest waits, the rest wait behind it. The monitor only hands
//! messages over a channel: a slow or dead service never holds it up.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::channel::{Message, Outcome, Sender};
use super::AlertConfig;
use crate::store::state::StateDb;
use crate::time::Timestamp;

/// How long an undelivered alert is kept.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// The longest wait between two tries without a `Retry-After`.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// How long a channel's thread sleeps when nothing is due.
const IDLE: Duration = Duration::from_secs(60);

/// The wait before try number `attempts + 1`: 1, 2, 4 … seconds, at most five minutes.
pub fn backoff(attempts: u32) -> Duration {
    Duration::from_secs(1u64 << attempts.min(9)).min(BACKOFF_MAX)
}

/// What happened to a channel's delivery, for the monitor to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// An alert went out.
    Delivered {
        /// The channel.
        channel: String,
    },
    /// An alert did not go out and will be tried again.
    Retrying {
        /// The channel.
        channel: String,
        /// Why, in words (secrets scrubbed).
        why: String,
    },
    /// An alert was given up on.
    GaveUp {
        /// The channel.
        channel: String,
        /// Why, in words (secrets scrubbed).
        why: String,
    },
}

/// What the channels' threads reported since the monitor last looked.
pub type Reports = Arc<Mutex<Vec<Report>>>;

/// Owns the delivery threads. Dropping it lets each finish the request in hand and stop.
#[derive(Debug)]
pub struct Courier {
    senders: HashMap<String, mpsc::Sender<Message>>,
    threads: Vec<JoinHandle<()>>,
    reports: Reports,
}

impl Courier {
    /// Starts one thread per channel, each with its own connection to the state database at
    /// `state_db`. Queued alerts of channels no longer configured, and alerts older than
    /// [`GIVE_UP_AFTER`], are dropped first.
    pub fn start(state_db: &Path, channels: &[AlertConfig], now: Timestamp) -> crate::Result<Self> {
        let state = StateDb::open(state_db)?;
        let names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
        state.prune_alerts(&names, now - GIVE_UP_AFTER)?;
        drop(state);
        let reports: Reports = Arc::default();
        let mut senders = HashMap::new();
        let mut threads = Vec::new();
        for cfg in channels {
            let (tx, rx) = mpsc::channel();
            let state = StateDb::open(state_db)?;
            let (mine, reports) = (cfg.clone(), reports.clone());
            let thread = std::thread::Builder::new()
                .name(format!("warden-alert-{}", cfg.name))
                .spawn(move || run(&mine, &state, &rx, &reports))
                .map_err(|e| crate::Error::io("starting an alert thread", e))?;
            senders.insert(cfg.name.clone(), tx);
            threads.push(thread);
        }
        Ok(Self { senders, threads, reports })
    }

    /// Hands `msg` to `channel` (unknown channels are ignored). Never blocks.
    pub fn send(&self, channel: &str, msg: Message) {
        if let Some(tx) = self.senders.get(channel) {
            let _ = tx.send(msg);
        }
    }

    /// What the threads reported since the last call.
    pub fn take_reports(&self) -> Vec<Report> {
        self.reports.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default()
    }
}

impl Drop for Courier {
    fn drop(&mut self) {
        self.senders.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn report(reports: &Reports, r: Report) {
    if let Ok(mut v) = reports.lock() {
        // A channel that fails for a day should not grow this without end.
        if v.len() < 1000 {
            v.push(r);
        }
    }
}

fn run(cfg: &AlertConfig, state: &StateDb, rx: &mpsc::Receiver<Message>, reports: &Reports) {
    let sender = Sender::new();
    let mut wait = Duration::ZERO;
    loop {
        match rx.recv_timeout(wait) {
            Ok(msg) => {
                queue(cfg, state, &msg, reports);
                while let Ok(more) = rx.try_recv() {
                    queue(cfg, state, &more, reports);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        wait = deliver_due(cfg, state, &sender, reports, crate::time::now());
    }
}

fn queue(cfg: &AlertConfig, state: &StateDb, msg: &Message, reports: &Reports) {
    if let Err(e) = state.queue_alert(&cfg.name, msg) {
        report(reports, Report::GaveUp { channel: cfg.name.clone(), why: format!("could not queue an alert: {e}") });
    }
}

/// Tries every due alert of the channel, oldest first; returns how long to sleep.
pub fn deliver_due(cfg: &AlertConfig, state: &StateDb, sender: &Sender, reports: &Reports, now: Timestamp) -> Duration {
    let queued = match state.queued_alerts(&cfg.name) {
        Ok(q) => q,
        Err(e) => {
            report(reports, Report::Retrying { channel: cfg.name.clone(), why: e.to_string() });
            return Duration::from_secs(5);
        }
    };
    for q in queued {
        let channel = cfg.name.clone();
        if now - q.message.at > GIVE_UP_AFTER {
            let why = "not delivered within a day, so it was dropped".to_string();
            let _ = state.alert_given_up(&q, &why, now);
            report(reports, Report::GaveUp { channel, why });
            continue;
        }
        if q.next_at > now {
            return until(q.next_at, now);
        }
        match sender.send(cfg, &q.message) {
            Outcome::Delivered => {
                let _ = state.alert_delivered(&q, now);
                report(reports, Report::Delivered { channel });
            }
            Outcome::Refused(why) => {
                let _ = state.alert_given_up(&q, &why, now);
                report(reports, Report::GaveUp { channel, why });
            }
            Outcome::Retry { after, why } => {
                let wait = after.map_or_else(|| backoff(q.attempts), |a| a.max(Duration::from_millis(100)));
                let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(1));
                let _ = state.alert_retry(&q, next, &why, now);
                report(reports, Report::Retrying { channel, why });
                return wait;
            }
        }
    }
    IDLE
}

fn until(next: Timestamp, now: Timestamp) -> Duration {
    (next - now).to_std().unwrap_or(Duration::ZERO).clamp(Duration::from_millis(10), IDLE)
}

/// Sends a test alert through `cfg` once, now: `Ok` when the service took it, or its own error in
/// plain words. Nothing is queued.
pub fn test(cfg: &AlertConfig, now: Timestamp) -> Result<(), String> {
    let msg = Message {
        event: super::Event::Test,
        title: format!("test of the channel '{}'", cfg.name),
        body: "If you can read this, Warden's alerts reach you here.".into(),
        at: now,
    };
    match Sender::new().send(cfg, &msg) {
        Outcome::Delivered => Ok(()),
        Outcome::Refused(why) | Outcome::Retry { why, .. } => Err(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), BACKOFF_MAX);
    }

    #[test]
    fn a_queued_alert_is_kept_in_the_state_database_until_it_is_taken() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("state.db");
        let now = crate::time::now();
        let msg = Message { event: super::super::Event::Banned, title: "t".into(), body: "b".into(), at: now };
        {
            let s = StateDb::open(&path).unwrap_or_else(|e| panic!("{e}"));
            s.queue_alert("phone", &msg).unwrap_or_else(|e| panic!("{e}"));
        }
        let s = StateDb::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let q = s.queued_alerts("phone").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].message.title, "t");
        assert_eq!(s.prune_alerts(&["phone"], now - GIVE_UP_AFTER).unwrap_or(9), 0);
        assert_eq!(s.prune_alerts(&["other"], now - GIVE_UP_AFTER).unwrap_or(0), 1);
    }
}
