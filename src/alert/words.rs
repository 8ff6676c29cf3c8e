//! Desktop alerts from monitor notices: which notices alert, in what words, and how a storm is
//! coalesced. Pure (time passed in), so the shell only sends what this returns.
//!
//! In each minute the first [`ALERTS_PER_MINUTE`] alerts of a kind go out one by one; the rest are
//! counted and sent as one summary ("12 IPs banned in the last minute") when the minute ends. The
//! monitor already sends a near-threshold notice only once per window, so an alert never repeats
//! for the same window.

use serde::Serialize;

use super::Event;
use crate::config::NotifyConfig;
use crate::event::Rule;
use crate::ip::display_raw;
use crate::monitor::Notice;
use crate::source::openalgo::Health;
use crate::time::Timestamp;

/// Alerts of one kind sent one by one per minute before the rest are summarized.
pub const ALERTS_PER_MINUTE: usize = 3;

/// One desktop alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The headline.
    pub title: String,
    /// The text.
    pub body: String,
    /// What it is about (each alert channel chooses the events it wants).
    pub event: Event,
}

#[derive(Debug, Default, Clone)]
struct Bucket {
    start: Option<Timestamp>,
    sent: usize,
    held: Vec<String>,
}

/// Decides which notices become desktop alerts.
#[derive(Debug, Clone)]
pub struct Alerts {
    notify: NotifyConfig,
    banned: Bucket,
    near: Bucket,
    /// Sources last seen failing, by name. A source that is fine at start-up says nothing; one
    /// that recovers says so once.
    failing: std::collections::HashMap<String, bool>,
}

fn rule_words(rule: Rule) -> &'static str {
    match rule {
        Rule::NotFound => "404s",
        Rule::InvalidApiKey => "invalid API keys",
        Rule::FailedLogin => "failed logins",
        Rule::Rate => "requests in a minute",
    }
}

impl Alerts {
    /// Alerts as `notify` asks.
    pub fn new(notify: NotifyConfig) -> Self {
        Self { notify, banned: Bucket::default(), near: Bucket::default(), failing: Default::default() }
    }

    /// Changes which alerts are sent (from Settings).
    pub fn set_notify(&mut self, notify: NotifyConfig) {
        self.notify = notify;
    }

    /// The alert for `notice` at `now`, if one goes out now.
    pub fn on_notice(&mut self, notice: &Notice, now: Timestamp) -> Option<Alert> {
        match notice {
            Notice::Banned { ip, rule, count, threshold, permanent, expires_at, at, .. } => {
                let attack = *rule == Rule::FailedLogin;
                if !(if attack { self.notify.attack } else { self.notify.banned }) {
                    return None;
                }
                let length = match (permanent, expires_at) {
                    (false, Some(until)) => format!("for {}", span(*until - *at)),
                    _ => "permanently".to_string(),
                };
                let alert = if attack {
                    Alert {
                        title: format!("Sign-in attack from {}: banned", display_raw(ip)),
                        body: format!(
                            "{count} failed sign-ins to OpenAlgo (the limit is {threshold}); banned {length}"
                        ),
                        event: Event::Attack,
                    }
                } else {
                    Alert {
                        title: format!("Banned {}", display_raw(ip)),
                        body: format!("{count} of {threshold} {} in 24 h; banned {length}", rule_words(*rule)),
                        event: Event::Banned,
                    }
                };
                admit(&mut self.banned, now, ip, alert)
            }
            Notice::SignIn(s) => {
                let wanted = if s.new_address { self.notify.signin_new_address } else { self.notify.signin };
                if !wanted {
                    return None;
                }
                let ua = s.user_agent.as_deref().map(|u| crate::check::one_line(u, 120));
                let with = ua.map(|u| format!(" with {u}")).unwrap_or_default();
                let who = display_raw(&s.username);
                let at = crate::time::rfc3339(s.at);
                Some(if s.new_address {
                    Alert {
                        title: format!("New sign-in address for {who}"),
                        body: format!(
                            "{who} signed in to OpenAlgo from {}, an address never used before, at {at}{with}. \
                             If this was not you, change your OpenAlgo password and API key now.",
                            display_raw(&s.ip)
                        ),
                        event: Event::SigninNewAddress,
                    }
                } else {
                    Alert {
                        title: format!("{who} signed in to OpenAlgo"),
                        body: format!("from {} at {at}{with}", display_raw(&s.ip)),
                        event: Event::Signin,
                    }
                })
            }
            Notice::Delivery { channel, working, error } => {
                let was_failing = self.failing.insert(format!("alert:{channel}"), !working).unwrap_or(false);
                if !self.notify.sources || *working != was_failing {
                    return None;
                }
                Some(if *working {
                    Alert {
                        title: format!("Alerts reach {} again", display_raw(channel)),
                        body: "Waiting alerts are being delivered.".into(),
                        event: Event::Health,
                    }
                } else {
                    Alert {
                        title: format!("Alerts are not reaching {}", display_raw(channel)),
                        body: error.clone().unwrap_or_default(),
                        event: Event::Health,
                    }
                })
            }
            Notice::NearThreshold { ip, rule, count, threshold, .. } if self.notify.near => {
                let alert = Alert {
                    title: "Near the ban threshold".into(),
                    body: format!("{}: {count} of {threshold} {} in 24 h", display_raw(ip), rule_words(*rule)),
                    event: Event::Near,
                };
                admit(&mut self.near, now, ip, alert)
            }
            Notice::StaleKey { ip, count, .. } if self.notify.near => Some(Alert {
                title: "A client of yours keeps using an old API key".into(),
                body: format!(
                    "{}: {count} invalid API keys in 24 h, but also successful calls, so it was not banned. \
                     Update the key in that program.",
                    display_raw(ip)
                ),
                event: Event::Near,
            }),
            Notice::BanPending { ip, error } if self.notify.sources => Some(Alert {
                title: format!("Could not ban {} yet", display_raw(ip)),
                body: format!("Warden keeps retrying: {error}"),
                event: Event::Health,
            }),
            Notice::Source { name, health, .. } => {
                let now_failing = *health != Health::Ok;
                let was_failing = self.failing.insert(name.clone(), now_failing).unwrap_or(false);
                if !self.notify.sources || now_failing == was_failing {
                    return None;
                }
                Some(match health {
                    Health::Ok => Alert {
                        title: format!("{name} is readable again"),
                        body: "Warden is watching it.".into(),
                        event: Event::Health,
                    },
                    Health::Missing(m) | Health::NoSchema(m) | Health::Locked(m) | Health::Failing(m) => {
                        Alert { title: format!("Warden cannot read {name}"), body: m.clone(), event: Event::Health }
                    }
                })
            }
            Notice::Sink { name, state, error, .. } => {
                let now_failing = *state == crate::enforce::SinkState::Failing;
                let was_failing = self.failing.insert(format!("sink:{name}"), now_failing).unwrap_or(false);
                if !self.notify.sources || now_failing == was_failing {
                    return None;
                }
                Some(if now_failing {
                    Alert {
                        title: format!("Bans are not reaching {name}"),
                        body: error.clone().unwrap_or_default(),
                        event: Event::Health,
                    }
                } else {
                    Alert {
                        title: format!("Bans reach {name} again"),
                        body: "Warden brought it up to date.".into(),
                        event: Event::Health,
                    }
                })
            }
            Notice::Checklist(c) if self.notify.checklist && !c.newly_failing.is_empty() => {
                Some(match c.newly_failing.as_slice() {
                    [one] => Alert {
                        title: format!("Server check failing: {}", one.title),
                        body: format!("{} Fix: {}", one.why, crate::check::one_line(&one.fix, 300)),
                        event: Event::Checklist,
                    },
                    many => Alert {
                        title: format!("{} server checks now failing", many.len()),
                        body: format!(
                            "{}. Open Warden's Server checklist for the fix of each.",
                            many.iter().map(|f| f.title).collect::<Vec<_>>().join("; ")
                        ),
                        event: Event::Checklist,
                    },
                })
            }
            _ => None,
        }
    }

    /// The summaries of minutes that ended by `now` (call it regularly, e.g. after every round).
    pub fn flush(&mut self, now: Timestamp) -> Vec<Alert> {
        let mut out = Vec::new();
        if let Some(a) = summary(&mut self.banned, now, "banned", Event::Banned) {
            out.push(a);
        }
        if let Some(a) = summary(&mut self.near, now, "near a ban threshold", Event::Near) {
            out.push(a);
        }
        out
    }
}

fn admit(b: &mut Bucket, now: Timestamp, ip: &str, alert: Alert) -> Option<Alert> {
    if b.start.is_none_or(|s| now - s >= chrono::TimeDelta::minutes(1)) && b.held.is_empty() {
        b.start = Some(now);
        b.sent = 0;
    }
    if b.sent < ALERTS_PER_MINUTE {
        b.sent += 1;
        Some(alert)
    } else {
        b.held.push(display_raw(ip));
        None
    }
}

fn summary(b: &mut Bucket, now: Timestamp, what: &str, event: Event) -> Option<Alert> {
    let start = b.start?;
    if b.held.is_empty() || now - start < chrono::TimeDelta::minutes(1) {
        return None;
    }
    let total = b.sent + b.held.len();
    let mut shown: Vec<String> = b.held.iter().take(5).cloned().collect();
    if b.held.len() > 5 {
        shown.push(format!("and {} more", b.held.len() - 5));
    }
    b.held.clear();
    b.start = None;
    b.sent = 0;
    Some(Alert { title: format!("{total} IPs {what} in the last minute"), body: shown.join(", "), event })
}

/// A length of time in words: "45 min", "24 h", "3 days".
fn span(d: chrono::Duration) -> String {
    let mins = d.num_minutes().max(1);
    if mins < 120 {
        format!("{mins} min")
    } else if mins < 72 * 60 {
        format!("{} h", mins / 60)
    } else {
        format!("{} days", mins / (24 * 60))
    }
}
