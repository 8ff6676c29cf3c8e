//! Enforcement beyond OpenAlgo's `logs.db`: nginx (a `geo` file Warden owns) and the kernel (an
//! nftables table Warden owns).
//!
//! Every sink converges on one [`Desired`] state ([`crate::policy`]): the monitor hands it the
//! state whenever it changes, and the [`Enforcer`] applies it to each sink that is behind, looks
//! every [`DRIFT_EVERY`] whether a sink's point was changed behind its back (the geo file edited,
//! the table flushed by `nftables.service`) and re-applies then, and retries a failing sink every
//! [`RETRY_EVERY`]. Nothing is fire-and-forget: a sink is `working` only once its point holds the
//! state.

pub mod command;
pub mod nft;
pub mod nginx;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::EnforceConfig;
use crate::policy::Desired;
use crate::time::Timestamp;

/// How often each sink's point is checked for drift, at most.
pub const DRIFT_EVERY: Duration = Duration::from_secs(5);
/// How often a failing sink is tried again.
pub const RETRY_EVERY: Duration = Duration::from_secs(10);

/// How a sink is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkState {
    /// Its point holds the desired state.
    Working,
    /// The last attempt failed; `error` says why. It is retried.
    Failing,
    /// Not configured.
    Off,
}

/// One sink's status, as `warden enforce status --json` and the dashboard show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SinkStatus {
    /// `nginx` or `nftables`.
    pub name: String,
    /// How it is doing.
    pub state: SinkState,
    /// Ranges and addresses refused there.
    pub entries: usize,
    /// When it last held the desired state.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub applied_at: Option<Timestamp>,
    /// Why it is failing.
    pub error: Option<String>,
}

/// One enforcement point.
pub trait Sink: Send + std::fmt::Debug {
    /// `nginx` or `nftables`.
    fn name(&self) -> &'static str;
    /// Brings the point to `desired`. Work that is put off (a spaced reload) is reported by
    /// [`Sink::due`]. `Err` says in one line what failed; the point keeps what it had.
    fn apply(&mut self, desired: &Desired, now: Timestamp) -> Result<(), String>;
    /// Whether the point no longer holds what was last applied (cheap; called at most every
    /// [`DRIFT_EVERY`]).
    fn drifted(&mut self) -> bool;
    /// When put-off work is due.
    fn due(&self) -> Option<Instant>;
    /// Does the put-off work.
    fn run_due(&mut self) -> Result<(), String>;
}

#[derive(Debug)]
struct Slot {
    sink: Box<dyn Sink>,
    status: SinkStatus,
    /// The state this sink last applied.
    applied: Option<Desired>,
    /// When it last failed.
    failed_at: Option<Instant>,
}

/// The configured sinks and how each is doing.
#[derive(Debug)]
pub struct Enforcer {
    slots: Vec<Slot>,
    looked: Option<Instant>,
}

impl Enforcer {
    /// The sinks `cfg` turns on; `None` when there are none.
    pub fn from_config(cfg: &EnforceConfig) -> Option<Self> {
        // The kernel first: its batch takes a few milliseconds, while nginx's check of a new list
        // takes several more, and the kernel should not wait for it.
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        if let Some(t) = &cfg.nftables {
            sinks.push(Box::new(nft::NftSink::new(t.clone())));
        }
        if let Some(n) = &cfg.nginx {
            sinks.push(Box::new(nginx::NginxSink::new(n.clone())));
        }
        (!sinks.is_empty()).then(|| Self::with_sinks(sinks))
    }

    /// An enforcer over `sinks`.
    pub fn with_sinks(sinks: Vec<Box<dyn Sink>>) -> Self {
        let slots = sinks
            .into_iter()
            .map(|sink| Slot {
                status: SinkStatus {
                    name: sink.name().to_string(),
                    state: SinkState::Failing,
                    entries: 0,
                    applied_at: None,
                    error: Some("not applied yet".into()),
                },
                sink,
                applied: None,
                failed_at: None,
            })
            .collect();
        Self { slots, looked: None }
    }

    /// Brings every sink to `desired`: those behind it, those whose point drifted (looked at
    /// most every [`DRIFT_EVERY`]), and failing ones (every [`RETRY_EVERY`]); then runs put-off
    /// work that is due. Returns the statuses that changed (state or error).
    pub fn converge(&mut self, desired: &Desired, now: Timestamp) -> Vec<SinkStatus> {
        let clock = Instant::now();
        let look = self.looked.is_none_or(|t| clock.duration_since(t) >= DRIFT_EVERY);
        if look {
            self.looked = Some(clock);
        }
        let mut changed = Vec::new();
        for slot in &mut self.slots {
            let before = (slot.status.state, slot.status.error.clone());
            // A failing sink is tried again only every RETRY_EVERY, however often the state moves
            // (a flood of bans must not run a failing `nginx -t` for each one).
            let go = if slot.status.state == SinkState::Failing {
                slot.failed_at.is_none_or(|t| clock.duration_since(t) >= RETRY_EVERY)
            } else {
                slot.applied.as_ref() != Some(desired) || (look && slot.sink.drifted())
            };
            if go {
                match slot.sink.apply(desired, now) {
                    Ok(()) => {
                        slot.applied = Some(desired.clone());
                        slot.failed_at = None;
                        slot.status.state = SinkState::Working;
                        slot.status.error = None;
                        slot.status.entries = desired.deny.len();
                        slot.status.applied_at = Some(now);
                    }
                    Err(e) => {
                        slot.applied = None;
                        slot.failed_at = Some(clock);
                        slot.status.state = SinkState::Failing;
                        slot.status.error = Some(e);
                    }
                }
            }
            if slot.sink.due().is_some_and(|t| t <= clock) {
                if let Err(e) = slot.sink.run_due() {
                    slot.applied = None;
                    slot.failed_at = Some(clock);
                    slot.status.state = SinkState::Failing;
                    slot.status.error = Some(e);
                }
            }
            if (slot.status.state, slot.status.error.clone()) != before {
                changed.push(slot.status.clone());
            }
        }
        changed
    }
}

impl SinkState {
    /// `working`, `failing` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkState::Working => "working",
            SinkState::Failing => "failing",
            SinkState::Off => "off",
        }
    }

    /// The state named `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        [SinkState::Working, SinkState::Failing, SinkState::Off].into_iter().find(|v| v.as_str() == s)
    }
}

impl Enforcer {
    /// Every sink's status.
    pub fn statuses(&self) -> Vec<SinkStatus> {
        self.slots.iter().map(|s| s.status.clone()).collect()
    }

    /// When the enforcer wants to run again by itself: put-off work, a retry, or a drift check.
    pub fn due(&self) -> Option<Instant> {
        let work = self.slots.iter().filter_map(|s| s.sink.due());
        let retry = self.slots.iter().filter_map(|s| s.failed_at.map(|t| t + RETRY_EVERY));
        let look = self.looked.map(|t| t + DRIFT_EVERY);
        work.chain(retry).chain(look).min()
    }
}

/// The statuses of the sinks `cfg` names that are off, for `warden enforce status` when they are
/// not configured.
pub fn off(name: &str) -> SinkStatus {
    SinkStatus { name: name.into(), state: SinkState::Off, entries: 0, applied_at: None, error: None }
}
