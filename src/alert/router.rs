//! The monitor's side of the alert channels: every notice goes through each channel's own
//! [`Alerts`] (the desktop's words and storm merging), and what comes out goes to the channel's
//! delivery thread if the channel asked for that event. The channels' own health comes back as
//! [`Notice::Delivery`], once per change.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::channel::Message;
use super::courier::{Courier, Report};
use super::words::{Alert, Alerts};
use super::{AlertConfig, DailyAt, Event};
use crate::config::NotifyConfig;
use crate::monitor::Notice;
use crate::store::state::StateDb;
use crate::time::Timestamp;

#[derive(Debug)]
struct Route {
    name: String,
    events: HashSet<Event>,
    words: Alerts,
    /// When the daily summary goes out, if this channel takes one.
    summary: Option<DailyAt>,
    /// The last summary's time (kept in the state database).
    summarized: Option<Timestamp>,
    /// What happened since the last summary.
    day: Day,
}

/// Counts for the daily summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// Bans (attacks included).
    pub bans: u64,
    /// Bans for failed sign-ins.
    pub attacks: u64,
    /// Addresses near a threshold.
    pub near: u64,
    /// Successful sign-ins.
    pub signins: u64,
    /// Of which from a new address.
    pub new_addresses: u64,
    /// Sources, enforcement points or channels that started failing.
    pub problems: u64,
}

impl Day {
    fn count(&mut self, n: &Notice) {
        match n {
            Notice::Banned { rule, .. } => {
                self.bans += 1;
                self.attacks += u64::from(*rule == crate::event::Rule::FailedLogin);
            }
            Notice::NearThreshold { .. } => self.near += 1,
            Notice::SignIn(s) => {
                self.signins += 1;
                self.new_addresses += u64::from(s.new_address);
            }
            Notice::Source { health, .. } if *health != crate::source::openalgo::Health::Ok => self.problems += 1,
            Notice::Sink { error: Some(_), .. } | Notice::Delivery { working: false, .. } => self.problems += 1,
            _ => {}
        }
    }

    /// The summary in words.
    pub fn alert(&self, since: Timestamp) -> Alert {
        let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut parts = vec![plural(self.bans, "ban", "bans")];
        if self.attacks > 0 {
            parts[0].push_str(&format!(" ({} for sign-in attacks)", self.attacks));
        }
        parts.push(format!("{} close to a ban", plural(self.near, "address", "addresses")));
        let mut signins = plural(self.signins, "sign-in", "sign-ins");
        if self.new_addresses > 0 {
            signins.push_str(&format!(" ({} from a new address)", self.new_addresses));
        }
        parts.push(signins);
        parts.push(plural(self.problems, "problem", "problems"));
        Alert {
            title: "Daily summary".into(),
            body: format!("Since {}: {}.", crate::time::rfc3339(since), parts.join(", ")),
            event: Event::Summary,
        }
    }
}

/// The state database's cursor holding a channel's last summary.
fn summary_cursor(name: &str) -> String {
    format!("alert.summary.{name}")
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
    /// Where the summaries' times are kept.
    state: StateDb,
}

impl Router {
    /// Starts delivery for `channels` (see [`Courier::start`]).
    pub fn start(state_db: &Path, channels: &[AlertConfig], now: Timestamp) -> crate::Result<Self> {
        let courier = Courier::start(state_db, channels, now)?;
        let state = StateDb::open(state_db)?;
        let mut routes = Vec::new();
        for c in channels {
            let summary = c
                .summary_at
                .as_deref()
                .and_then(|s| DailyAt::parse(s).ok())
                .filter(|_| c.events.contains(&Event::Summary));
            let summarized = state.cursor(&summary_cursor(&c.name))?.and_then(|t| crate::time::parse_db_time(&t));
            routes.push(Route {
                name: c.name.clone(),
                events: c.events.iter().copied().collect(),
                words: Alerts::new(NotifyConfig::all()),
                summary,
                summarized,
                day: Day::default(),
            });
        }
        Ok(Self { routes, courier, failing: HashMap::new(), tallies: HashMap::new(), state })
    }

    /// Hands every alert `notices` make to the channels that want it, and the summaries of
    /// minutes that ended.
    pub fn route(&mut self, notices: &[Notice], now: Timestamp) {
        for r in &mut self.routes {
            let mut out: Vec<Alert> = notices.iter().filter_map(|n| r.words.on_notice(n, now)).collect();
            out.extend(r.words.flush(now));
            if let Some(daily) = r.summary {
                notices.iter().for_each(|n| r.day.count(n));
                let due = daily.last_before(now);
                let moved = match r.summarized {
                    // The first start only notes the time: the first summary covers a whole day.
                    None => true,
                    Some(last) if last < due => {
                        out.push(r.day.alert(last));
                        r.day = Day::default();
                        true
                    }
                    Some(_) => false,
                };
                if moved {
                    r.summarized = Some(due);
                    let _ = self.state.set_cursor(&summary_cursor(&r.name), &crate::time::format_db_time(due));
                }
            }
            for alert in out.into_iter().filter(|a| r.events.contains(&a.event)) {
                self.courier
                    .send(&r.name, Message { event: alert.event, title: alert.title, body: alert.body, at: now });
            }
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
