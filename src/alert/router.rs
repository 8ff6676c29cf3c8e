//! The monitor's side of the alert channels: every notice goes through each channel's own
//! [`Alerts`] (the desktop's words and storm merging), and what comes out goes to the channel's
//! delivery thread if the channel asked for that event. The channels' own health comes back as
//! [`Notice::Delivery`], once per change.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::channel::Message;
use super::courier::{Courier, Report};
use super::words::{Alert, Alerts};
use super::{AlertConfig, Event};
use crate::config::NotifyConfig;
use crate::monitor::Notice;
use crate::time::Timestamp;

#[derive(Debug)]
struct Route {
    name: String,
    events: HashSet<Event>,
    words: Alerts,
}

/// Routes notices to the configured channels.
#[derive(Debug)]
pub struct Router {
    routes: Vec<Route>,
    courier: Courier,
    /// Channels last seen failing, by name.
    failing: HashMap<String, bool>,
    /// Alerts delivered and given up on, per channel, since the start.
    tallies: HashMap<String, (u64, u64)>,
}

impl Router {
    /// Starts delivery for `channels` (see [`Courier::start`]).
    pub fn start(state_db: &Path, channels: &[AlertConfig], now: Timestamp) -> crate::Result<Self> {
        let courier = Courier::start(state_db, channels, now)?;
        let routes = channels
            .iter()
            .map(|c| Route {
                name: c.name.clone(),
                events: c.events.iter().copied().collect(),
                words: Alerts::new(NotifyConfig::all()),
            })
            .collect();
        Ok(Self { routes, courier, failing: HashMap::new(), tallies: HashMap::new() })
    }

    fn deliver(&self, route_name: &str, alert: Alert, now: Timestamp) {
        self.courier.send(route_name, Message { event: alert.event, title: alert.title, body: alert.body, at: now });
    }

    /// Hands every alert `notices` make to the channels that want it, and the summaries of
    /// minutes that ended.
    pub fn route(&mut self, notices: &[Notice], now: Timestamp) {
        for r in &mut self.routes {
            let mut out: Vec<Alert> = notices.iter().filter_map(|n| r.words.on_notice(n, now)).collect();
            out.extend(r.words.flush(now));
            for alert in out.into_iter().filter(|a| r.events.contains(&a.event)) {
                self.courier
                    .send(&r.name, Message { event: alert.event, title: alert.title, body: alert.body, at: now });
            }
        }
    }

    /// Queues `alert` on every channel that wants its event (no merging: for alerts that are
    /// already rare, such as a test).
    pub fn send_now(&self, alert: &Alert, now: Timestamp) {
        for r in self.routes.iter().filter(|r| r.events.contains(&alert.event) || alert.event == Event::Test) {
            self.deliver(&r.name, alert.clone(), now);
        }
    }

    /// What the channels' threads reported, as notices: one when a channel starts failing, and
    /// one when it delivers again.
    pub fn health(&mut self) -> Vec<Notice> {
        let mut out = Vec::new();
        for r in self.courier.take_reports() {
            let tally = self.tallies.entry(report_channel(&r).to_string()).or_default();
            match &r {
                Report::Delivered { .. } => tally.0 += 1,
                Report::GaveUp { .. } => tally.1 += 1,
                Report::Retrying { .. } => {}
            }
            let (channel, working, error) = match r {
                Report::Delivered { channel } => (channel, true, None),
                Report::Retrying { channel, why } | Report::GaveUp { channel, why } => (channel, false, Some(why)),
            };
            let was_failing = self.failing.insert(channel.clone(), !working).unwrap_or(false);
            if was_failing == working {
                out.push(Notice::Delivery { channel, working, error });
            }
        }
        out
    }

    /// Alerts delivered and given up on per channel since the start: (name, delivered, failed).
    pub fn tallies(&self) -> impl Iterator<Item = (String, u64, u64)> + '_ {
        self.routes.iter().map(|r| {
            let (ok, failed) = self.tallies.get(&r.name).copied().unwrap_or_default();
            (r.name.clone(), ok, failed)
        })
    }
}

fn report_channel(r: &Report) -> &str {
    match r {
        Report::Delivered { channel } | Report::Retrying { channel, .. } | Report::GaveUp { channel, .. } => channel,
    }
}
