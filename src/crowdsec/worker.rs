//! The CrowdSec thread: pushes Warden's own bans to the LAPI, pulls everyone's decisions, and
//! reports how it goes. The monitor only hands it its own bans over a channel.
//!
//! **Push converges**, like every sink: what was pushed is kept in the state database
//! (`lapi_pushed`: value, scope, scenario, end, and the LAPI's decision ids). Each time Warden's
//! own bans change, and every [`RETRY`] while the LAPI fails, the difference is sent: a new or
//! longer ban becomes an alert with one decision; a ban that was lifted has its decisions (only
//! Warden's, by id) deleted. While the LAPI is down nothing is lost, since the difference stays;
//! after a restart it is computed again from the bans in `logs.db`; a ban is never pushed twice,
//! since its row is written when the LAPI took it.
//!
//! **Pull** starts with `startup=true` and then asks every `pull_seconds`. An `Ip` or `Range` ban
//! becomes a deny policy (`created_by = "crowdsec:ORIGIN:SCENARIO"`) that ends when the LAPI says,
//! so every sink enforces it; a decision deleted in the LAPI removes that policy (never a policy
//! the trader made). Protected addresses, other scopes (`Country`, `AS`), other types (`captcha`)
//! and unreadable durations are skipped and counted, and Warden's own decisions coming back are
//! recognised and left alone.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::client::{Client, Decision, LapiError, PushItem};
use super::{duration, is_crowdsec_policy, policy_origin, Credentials, CrowdsecConfig};
use crate::ip::{canonicalize, Protection};
use crate::policy::{Access, Policy};
use crate::store::state::StateDb;
use crate::time::Timestamp;

/// How soon a failed push or pull is tried again.
pub const RETRY: Duration = Duration::from_secs(5);

/// How long "forever" is in the LAPI (it has no permanent decisions): ten years.
const FOREVER_SECS: i64 = 10 * 365 * 86_400;

/// One of Warden's own bans, as it is pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalBan {
    /// `Ip` or `Range`.
    pub scope: &'static str,
    /// Canonical address or range.
    pub value: String,
    /// When it ends; `None` for never.
    pub until: Option<Timestamp>,
    /// The scenario, named after the rule.
    pub scenario: String,
}

/// What the thread has to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// How the LAPI is doing: `error` is `None` while pushes and pulls work.
    Health {
        /// Why it fails.
        error: Option<String>,
        /// Decisions enforced from the LAPI now.
        enforced: usize,
    },
    /// A decision for a protected address, not enforced (once per address).
    Protected {
        /// The address or range.
        value: String,
        /// Why it is protected.
        why: String,
    },
    /// Decisions skipped in one pull, by reason ("2 with scope Country").
    Skipped(String),
    /// Something that works but is worth knowing (a plain-HTTP LAPI elsewhere).
    Warning(String),
}

/// Reports since the monitor last looked.
pub type Reports = Arc<Mutex<Vec<Report>>>;

/// Owns the thread; dropping it stops the thread after the call in hand.
#[derive(Debug)]
pub struct Worker {
    tx: Option<mpsc::Sender<Vec<LocalBan>>>,
    thread: Option<JoinHandle<()>>,
    reports: Reports,
}

impl Worker {
    /// Starts the thread for `c` (already validated), with its own connection to the state
    /// database at `state_db`. `protection` tells what is never enforced (asked every 30 s). The
    /// machine's credentials and the bouncer key are read now; a problem with them is the first
    /// report, and the thread keeps trying what it can.
    pub fn start(
        c: &CrowdsecConfig,
        state_db: &std::path::Path,
        protection: impl Fn(Timestamp) -> crate::Result<Protection> + Send + 'static,
    ) -> crate::Result<Self> {
        let c = c.clone();
        let reports: Reports = Arc::default();
        let (tx, rx) = mpsc::channel();
        let state = StateDb::open(state_db)?;
        let mine = reports.clone();
        let thread = std::thread::Builder::new()
            .name("warden-crowdsec".into())
            .spawn(move || run(&c, &protection, &state, &rx, &mine))
            .map_err(|e| crate::Error::io("starting the CrowdSec thread", e))?;
        Ok(Self { tx: Some(tx), thread: Some(thread), reports })
    }

    /// Hands over Warden's own bans in force (never blocks).
    pub fn set_local(&self, bans: Vec<LocalBan>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(bans);
        }
    }

    /// What the thread reported since the last call.
    pub fn take_reports(&self) -> Vec<Report> {
        self.reports.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn report(reports: &Reports, r: Report) {
    if let Ok(mut v) = reports.lock() {
        if v.len() < 1000 {
            v.push(r);
        }
    }
}

struct Puller {
    started: bool,
    /// Active decision ids per enforced value.
    active: HashMap<String, HashSet<i64>>,
    /// Values already reported as protected.
    protected_told: HashSet<String>,
    /// Machine names of other Wardens' decisions, by value.
    machines: HashMap<String, String>,
}

#[allow(clippy::too_many_lines)]
fn run(
    c: &CrowdsecConfig,
    protect: &dyn Fn(Timestamp) -> crate::Result<Protection>,
    state: &StateDb,
    rx: &mpsc::Receiver<Vec<LocalBan>>,
    reports: &Reports,
) {
    let mut problems = Vec::new();
    let creds = match (c.push || c.pull, &c.credentials) {
        (true, Some(p)) => Credentials::load(p).map_err(|e| problems.push(e)).ok(),
        _ => None,
    };
    let key = match (&c.bouncer_key_file, c.pull) {
        (Some(p), true) => super::read_private(p, "bouncer key file")
            .map(|k| crate::alert::Secret::new(k.trim()))
            .map_err(|e| problems.push(e))
            .ok(),
        _ => None,
    };
    let url = creds.as_ref().and_then(|c| c.url.clone()).unwrap_or_else(|| c.url.clone());
    for w in c.warnings(&url) {
        report(reports, Report::Warning(w));
    }
    let mut client = Client::new(&url, creds, key);
    let mut local: Option<Vec<LocalBan>> = None;
    let mut push_due = false;
    let mut next_pull = std::time::Instant::now();
    let mut next_push = std::time::Instant::now();
    let mut puller =
        Puller { started: false, active: HashMap::new(), protected_told: HashSet::new(), machines: HashMap::new() };
    let mut protection: Option<(Protection, std::time::Instant)> = None;
    let mut last_health: Option<(Option<String>, usize)> = None;
    let (mut push_error, mut pull_error): (Option<String>, Option<String>) = (None, None);
    if !problems.is_empty() {
        let e = problems.join("; ");
        report(reports, Report::Health { error: Some(e.clone()), enforced: 0 });
        last_health = Some((Some(e), 0));
    }
    loop {
        let now_i = std::time::Instant::now();
        let mut wake = Duration::from_secs(3600);
        if c.pull {
            wake = wake.min(next_pull.saturating_duration_since(now_i));
        }
        if push_due {
            wake = wake.min(next_push.saturating_duration_since(now_i));
        }
        match rx.recv_timeout(wake) {
            Ok(bans) => {
                local = Some(bans);
                while let Ok(more) = rx.try_recv() {
                    local = Some(more);
                }
                push_due = c.push;
                next_push = std::time::Instant::now();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = crate::time::now();
        if push_due && std::time::Instant::now() >= next_push {
            if let Some(bans) = &local {
                match converge(&mut client, state, bans, now) {
                    Ok(()) => {
                        push_due = false;
                        push_error = None;
                    }
                    Err(e) => {
                        push_error = Some(e.to_string());
                        next_push = std::time::Instant::now() + RETRY;
                    }
                }
            }
        }
        if c.pull && std::time::Instant::now() >= next_pull {
            if protection.as_ref().is_none_or(|(_, at)| at.elapsed() > Duration::from_secs(30)) {
                match protect(now) {
                    Ok(p) => protection = Some((p, std::time::Instant::now())),
                    Err(e) => pull_error = Some(format!("cannot tell which addresses are protected: {e}")),
                }
            }
            if let Some((prot, _)) = &protection {
                match pull(&mut client, state, c, prot, &mut puller, reports, now) {
                    Ok(()) => pull_error = None,
                    Err(e) => pull_error = Some(e.to_string()),
                }
            }
            let gap = if pull_error.is_some() { RETRY } else { Duration::from_secs(c.pull_seconds) };
            next_pull = std::time::Instant::now() + gap;
        }
        let error = match (&push_error, &pull_error) {
            (Some(a), Some(b)) if a == b => Some(a.clone()),
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (Some(a), None) | (None, Some(a)) => Some(a.clone()),
            (None, None) => None,
        };
        let health = (error.clone(), puller.active.len());
        if last_health.as_ref() != Some(&health) {
            report(reports, Report::Health { error, enforced: health.1 });
            last_health = Some(health);
        }
    }
}

/// Brings the LAPI to Warden's own bans: pushes what is new or longer, deletes what was lifted.
fn converge(client: &mut Client, state: &StateDb, bans: &[LocalBan], now: Timestamp) -> Result<(), LapiError> {
    let pushed = state.lapi_pushed().map_err(|e| LapiError::Down(e.to_string()))?;
    let by_value: HashMap<&str, &crate::store::state::Pushed> = pushed.iter().map(|p| (p.value.as_str(), p)).collect();
    let wanted: HashMap<&str, &LocalBan> = bans.iter().map(|b| (b.value.as_str(), b)).collect();
    let longer = |b: &LocalBan, p: &crate::store::state::Pushed| match (b.until, p.until) {
        (None, Some(_)) => true,
        (Some(a), Some(old)) => a > old + chrono::Duration::seconds(1),
        _ => false,
    };
    let to_push: Vec<&LocalBan> = bans
        .iter()
        .filter(|b| b.until.is_none_or(|t| t > now))
        .filter(|b| by_value.get(b.value.as_str()).is_none_or(|p| longer(b, p)))
        .collect();
    for chunk in to_push.chunks(50) {
        let items: Vec<PushItem> = chunk
            .iter()
            .map(|b| PushItem {
                scope: b.scope,
                value: b.value.clone(),
                seconds: b.until.map_or(FOREVER_SECS, |t| (t - now).num_seconds().clamp(1, FOREVER_SECS)),
                scenario: b.scenario.clone(),
            })
            .collect();
        let ids = client.push(&items, now)?;
        for (i, b) in chunk.iter().enumerate() {
            let mut decisions = by_value.get(b.value.as_str()).map(|p| p.decisions.clone()).unwrap_or_default();
            if let Some(id) = ids.get(i) {
                decisions.extend(client.decisions_of_alert(id, now).unwrap_or_default());
            }
            state
                .save_lapi_pushed(b.scope, &b.value, &b.scenario, b.until, &decisions, now)
                .map_err(|e| LapiError::Down(e.to_string()))?;
        }
    }
    for p in &pushed {
        if wanted.contains_key(p.value.as_str()) {
            continue;
        }
        if p.until.is_none_or(|t| t > now) {
            for id in &p.decisions {
                client.delete_decision(*id, now)?;
            }
        }
        state.forget_lapi_pushed(&p.value).map_err(|e| LapiError::Down(e.to_string()))?;
    }
    Ok(())
}

/// The policy value of a decision, if Warden can enforce its scope.
fn value_of(d: &Decision) -> Result<ipnet::IpNet, String> {
    match d.scope.as_str() {
        "Ip" => canonicalize(&d.value)
            .map(ipnet::IpNet::from)
            .map_err(|_| format!("'{}' is not an address", crate::ip::display_raw(&d.value))),
        "Range" => {
            crate::ip::parse_net(&d.value).map_err(|_| format!("'{}' is not a range", crate::ip::display_raw(&d.value)))
        }
        other => Err(format!("scope {}", crate::ip::display_raw(other))),
    }
}

fn pull(
    client: &mut Client,
    state: &StateDb,
    c: &CrowdsecConfig,
    protection: &Protection,
    p: &mut Puller,
    reports: &Reports,
    now: Timestamp,
) -> Result<(), LapiError> {
    let startup = !p.started;
    let stream = client.stream(startup)?;
    let down = |e: crate::Error| LapiError::Down(e.to_string());
    let own: HashSet<String> = state.lapi_pushed().map_err(down)?.into_iter().map(|x| x.value).collect();
    let mut policies: HashMap<String, Policy> =
        state.policies(now).map_err(down)?.into_iter().map(|x| (crate::policy::text(&x.value), x)).collect();
    // Why decisions were skipped: how many, and one example.
    let mut skipped: HashMap<&'static str, (usize, String)> = HashMap::new();
    let mut skip = |why: &'static str, example: String| {
        let e = skipped.entry(why).or_insert((0, example));
        e.0 += 1;
    };
    if stream.malformed > 0 {
        for _ in 0..stream.malformed {
            skip("without a needed field", String::new());
        }
    }
    let mut seen_now: HashSet<String> = HashSet::new();
    for d in &stream.new {
        if !c.origins.is_empty() && !c.origins.iter().any(|o| o == &d.origin) {
            continue;
        }
        if d.kind != "ban" {
            skip("of a type other than ban", crate::ip::display_raw(&d.kind));
            continue;
        }
        let net = match d.scope.as_str() {
            "Ip" | "Range" => match value_of(d) {
                Ok(n) => n,
                Err(why) => {
                    skip("with a value that is not an address or range", why);
                    continue;
                }
            },
            other => {
                skip("with a scope Warden cannot enforce", crate::ip::display_raw(other));
                continue;
            }
        };
        let left = match duration::parse(&d.duration) {
            Ok(ns) => ns,
            Err(why) => {
                skip("with a duration Warden cannot read", why);
                continue;
            }
        };
        if left <= 0 {
            skip("that were already over", String::new());
            continue;
        }
        let value = crate::policy::text(&net);
        if d.origin == "warden" && own.contains(&value) {
            continue; // Warden's own ban, coming back.
        }
        if let Some(why) = protection.covers(&net) {
            if p.protected_told.insert(value.clone()) {
                report(reports, Report::Protected { value: value.clone(), why: why.to_string() });
            }
            continue;
        }
        if let Some(existing) = policies.get(&value) {
            if !is_crowdsec_policy(&existing.created_by) {
                continue; // the trader's own entry stays as it is
            }
        }
        let secs = (left / 1_000_000_000).clamp(1, FOREVER_SECS);
        let until = now + chrono::Duration::seconds(secs);
        let from = if d.origin == "warden" {
            let machine = match p.machines.get(&value) {
                Some(m) => Some(m.clone()),
                None => {
                    let m = client.machine_of(&d.scope, &d.value, now);
                    if let Some(m) = &m {
                        p.machines.insert(value.clone(), m.clone());
                    }
                    m
                }
            };
            machine.map_or_else(|| "warden".to_string(), |m| format!("warden@{m}"))
        } else {
            d.origin.clone()
        };
        let keep = policies.get(&value).is_some_and(|x| x.expires_at.is_some_and(|t| t >= until));
        p.active.entry(value.clone()).or_default().insert(d.id);
        seen_now.insert(value.clone());
        if keep {
            continue;
        }
        let policy = Policy {
            value: net,
            policy: Access::Deny,
            ttl_seconds: u64::try_from(secs).ok(),
            expires_at: Some(until),
            created_at: now,
            reason: format!("CrowdSec: {}, from {from}", crate::check::one_line(&d.scenario, 120)),
            created_by: policy_origin(&from, &d.scenario),
        };
        state.put_policy(&policy).map_err(down)?;
        policies.insert(value, policy);
    }
    for d in &stream.deleted {
        let Ok(net) = value_of(d) else { continue };
        let value = crate::policy::text(&net);
        let Some(ids) = p.active.get_mut(&value) else { continue };
        ids.remove(&d.id);
        if ids.is_empty() {
            p.active.remove(&value);
            if policies.get(&value).is_some_and(|x| is_crowdsec_policy(&x.created_by)) {
                state.remove_policy(&value).map_err(down)?;
                policies.remove(&value);
            }
        }
    }
    if startup {
        // Decisions deleted while Warden was not pulling: their policies go.
        for (value, x) in &policies {
            if is_crowdsec_policy(&x.created_by) && !seen_now.contains(value) {
                state.remove_policy(value).map_err(down)?;
            }
        }
        p.started = true;
    }
    if !skipped.is_empty() {
        let mut parts: Vec<String> = skipped
            .into_iter()
            .map(|(why, (n, e))| if e.is_empty() { format!("{n} {why}") } else { format!("{n} {why} (such as {e})") })
            .collect();
        parts.sort();
        report(reports, Report::Skipped(format!("decisions skipped, never enforced: {}", parts.join(", "))));
    }
    Ok(())
}
