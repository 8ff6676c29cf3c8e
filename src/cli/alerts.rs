//! `warden alert`, `warden signins` and `warden incidents`.

use clap::Subcommand;

use super::output;
use crate::alert::{courier, AlertConfig};
use crate::config::{Config, Paths};
use crate::error::{Error, Result};
use crate::ip::display_raw;
use crate::store::state::{ChannelTally, StateDb};
use crate::time::{short, Timestamp};

/// `warden alert …`.
#[derive(Debug, Subcommand)]
pub(super) enum AlertCommand {
    /// Send a test alert through one channel (or every channel) now, and say what the service
    /// answered. Exit code 1 when a channel failed.
    Test {
        /// The channel's name (default: every channel).
        name: Option<String>,
    },
    /// The channels, what they are told about, and how their deliveries went.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `warden crowdsec …`.
#[derive(Debug, Subcommand)]
pub(super) enum CrowdsecCommand {
    /// Try the connection to CrowdSec's Local API as configured: the machine logs in, the bouncer
    /// pulls once. Exit code 1 when something fails.
    Test,
}

pub(super) fn crowdsec(cfg: &Config, action: CrowdsecCommand, now: Timestamp) -> Result<()> {
    match action {
        CrowdsecCommand::Test => {
            let c = cfg.crowdsec.as_ref().ok_or_else(|| {
                Error::Alert(
                    "CrowdSec is not configured; add a [crowdsec] section (see the README's two-server set-up)".into(),
                )
            })?;
            match crate::crowdsec::test(c, now) {
                Ok(said) => output::line(&format!("crowdsec: {said}")),
                Err(e) => Err(Error::Alert(format!("crowdsec: {e}"))),
            }
        }
    }
}

/// One channel as `alert list` shows it: the secret masked, never the URL that holds it.
#[derive(Debug, serde::Serialize)]
struct ChannelView {
    name: String,
    kind: crate::alert::Kind,
    events: Vec<crate::alert::Event>,
    token: Option<String>,
    #[serde(flatten)]
    tally: ChannelTally,
}

pub(super) fn alert(cfg: &Config, paths: &Paths, action: AlertCommand, now: Timestamp) -> Result<()> {
    match action {
        AlertCommand::Test { name } => {
            let chosen: Vec<&AlertConfig> = match &name {
                Some(n) => {
                    let one = cfg.alert.iter().find(|a| &a.name == n).ok_or_else(|| no_channel(cfg, n))?;
                    vec![one]
                }
                None if cfg.alert.is_empty() => return Err(no_channel(cfg, "")),
                None => cfg.alert.iter().collect(),
            };
            let mut failed = 0;
            for a in chosen {
                let mut a = a.clone();
                a.openalgo_db = paths.openalgo_db.clone();
                let a = &a;
                match courier::test(a, now) {
                    Ok(()) => output::line(&format!("{}: delivered ({})", a.name, a.kind.label()))?,
                    Err(why) => {
                        failed += 1;
                        output::line(&format!("{}: NOT delivered: {why}", a.name))?;
                    }
                }
            }
            if failed > 0 {
                return Err(Error::Alert(format!("{failed} channel(s) could not deliver the test")));
            }
            Ok(())
        }
        AlertCommand::List { json } => {
            let tallies =
                if paths.state_db.exists() { StateDb::open(&paths.state_db)?.channel_tallies()? } else { Vec::new() };
            let views: Vec<ChannelView> = cfg
                .alert
                .iter()
                .map(|a| ChannelView {
                    name: a.name.clone(),
                    kind: a.kind,
                    events: a.events.clone(),
                    token: match a.secret() {
                        Ok(Some(s)) => Some(s.masked()),
                        Ok(None) => None,
                        Err(e) => Some(format!("unreadable: {e}")),
                    },
                    tally: tallies
                        .iter()
                        .find(|t| t.name == a.name)
                        .cloned()
                        .unwrap_or_else(|| ChannelTally { name: a.name.clone(), ..Default::default() }),
                })
                .collect();
            output::print(json, &views, channels_text)
        }
    }
}

fn no_channel(cfg: &Config, name: &str) -> Error {
    if cfg.alert.is_empty() {
        return Error::Alert(
            "no alert channel is configured; add an [[alert]] entry to the configuration (see the README)".into(),
        );
    }
    let names: Vec<&str> = cfg.alert.iter().map(|a| a.name.as_str()).collect();
    Error::Alert(format!(
        "there is no alert channel named '{}'; the channels are: {}",
        display_raw(name),
        names.join(", ")
    ))
}

fn channels_text(list: &Vec<ChannelView>) -> String {
    if list.is_empty() {
        return "no alert channels configured".into();
    }
    let mut out = String::new();
    for c in list {
        let events: Vec<&str> = c.events.iter().map(|e| e.as_str()).collect();
        out.push_str(&format!(
            "{} ({}): {}; token {}\n  {} delivered, {} failed, {} waiting; last delivery {}{}\n",
            c.name,
            c.kind.label(),
            events.join(", "),
            c.token.clone().unwrap_or_else(|| "none".into()),
            c.tally.delivered,
            c.tally.failed,
            c.tally.waiting,
            c.tally.last_ok_at.map(short).unwrap_or_else(|| "never".into()),
            c.tally.last_error.as_deref().map(|e| format!("; last error: {}", display_raw(e))).unwrap_or_default()
        ));
    }
    out
}

pub(super) fn signins(paths: &Paths, json: bool, limit: usize) -> Result<()> {
    let list = crate::logins::signins(paths, limit)?;
    output::print(json, &list, signins_text)
}

fn signins_text(s: &crate::logins::SignIns) -> String {
    let mut out = String::new();
    if s.signins.is_empty() {
        out.push_str("no successful sign-ins recorded\n");
    } else {
        out.push_str(&format!("{:<21} {:<20} {:<40} {:<9} {}\n", "AT (UTC)", "USER", "FROM", "HOW", "WITH"));
        for x in &s.signins {
            out.push_str(&format!(
                "{:<21} {:<20} {:<40} {:<9} {}{}\n",
                short(x.at),
                (crate::check::one_line(&x.username, 20)),
                x.ip,
                display_raw(&x.login_type),
                crate::check::one_line(x.user_agent.as_deref().unwrap_or("-"), 60),
                if x.new_address { "  [new address]" } else { "" }
            ));
        }
    }
    out.push_str(&format!("\nopen sessions: {}\n", s.sessions.len()));
    for x in &s.sessions {
        out.push_str(&format!(
            "  {} from {} since {}, last seen {} ({})\n",
            (crate::check::one_line(&x.username, 40)),
            x.ip,
            x.login_time.map(short).unwrap_or_else(|| "-".into()),
            x.last_seen.map(short).unwrap_or_else(|| "-".into()),
            display_raw(x.broker.as_deref().unwrap_or("-"))
        ));
    }
    out
}

pub(super) fn incidents(cfg: &Config, paths: &Paths, json: bool, hours: u32, now: Timestamp) -> Result<()> {
    if hours == 0 || hours > 24 * 90 {
        return Err(Error::Alert("--hours goes from 1 to 2160 (90 days)".into()));
    }
    let list = crate::logins::incidents(cfg, paths, hours, now)?;
    output::print(json, &list, incidents_text)
}

fn incidents_text(list: &Vec<crate::source::signins::Incident>) -> String {
    if list.is_empty() {
        return "no failed sign-ins".into();
    }
    let mut out =
        format!("{:<40} {:>8}  {:<21} {:<21} {}\n", "IP", "ATTEMPTS", "FIRST (UTC)", "LAST (UTC)", "USER NAMES TRIED");
    for i in list {
        let names: Vec<String> = i.usernames.iter().map(|u| crate::check::one_line(u, 24)).collect();
        out.push_str(&format!(
            "{:<40} {:>8}  {:<21} {:<21} {}{}\n",
            i.ip,
            i.attempts,
            short(i.first_at),
            short(i.last_at),
            names.join(", "),
            if i.attack { "  [ATTACK]" } else { "" }
        ));
    }
    out
}
