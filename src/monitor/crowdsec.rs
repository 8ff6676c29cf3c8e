//! The monitor's side of CrowdSec: Warden's own bans handed to the CrowdSec thread when they
//! change, and its reports turned into notices and the `crowdsec` sink's status.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Monitor, Notice};
use crate::crowdsec::worker::{LocalBan, Report, Worker};
use crate::crowdsec::{is_crowdsec_policy, scenario_of};
use crate::enforce::{SinkState, SinkStatus};
use crate::time::Timestamp;

/// `created_by` of the `ip_bans` rows a pulled decision makes (a `warden:` prefix, so that they
/// are never counted as OpenAlgo's own offences).
pub const CROWDSEC_CREATED_BY: &str = "warden:crowdsec";

/// What the monitor keeps for CrowdSec.
#[derive(Debug)]
pub(super) struct Crowdsec {
    worker: Worker,
    /// What was last handed over.
    sent: Option<Vec<LocalBan>>,
    /// The engine's and the policies' versions it was computed for.
    versions: Option<(u64, Option<i64>)>,
    /// `created_by` of each banned address's `logs.db` row, as last read.
    pub created_by: HashMap<IpAddr, String>,
}

impl Crowdsec {
    pub(super) fn new(worker: Worker) -> Self {
        Self { worker, sent: None, versions: None, created_by: HashMap::new() }
    }
}

impl Monitor {
    /// Hands Warden's own bans to the CrowdSec thread when they changed, and reports what it said.
    pub(super) fn follow_crowdsec(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        let versions = (self.engine.version(), self.enforcement.version);
        let Some(cs) = self.crowdsec.as_mut() else { return };
        let due = cs.versions != Some(versions)
            || cs.sent.as_ref().is_some_and(|s| s.iter().any(|b| b.until.is_some_and(|t| t <= now)));
        if due {
            cs.versions = Some(versions);
            let protection = self.engine.protection();
            let mut local: Vec<LocalBan> = self
                .engine
                .bans_in_force(now)
                .into_iter()
                .filter_map(|(ip, until)| {
                    let by = cs.created_by.get(&ip).map(String::as_str);
                    // Rows made from policies are pushed as the policies themselves (below), and
                    // rows made from CrowdSec's own decisions are not Warden's to push.
                    if matches!(by, Some(CROWDSEC_CREATED_BY | super::enforce::POLICY_CREATED_BY))
                        || protection.check(ip).is_some()
                    {
                        return None;
                    }
                    let scope = "Ip";
                    Some(LocalBan { scope, value: ip.to_string(), until, scenario: scenario_of(by).into() })
                })
                .collect();
            for p in &self.enforcement.policies {
                if p.policy != crate::policy::Access::Deny || is_crowdsec_policy(&p.created_by) || !p.live(now) {
                    continue;
                }
                if protection.covers(&p.value).is_some() {
                    continue;
                }
                let scope = if p.value.prefix_len() == p.value.max_prefix_len() { "Ip" } else { "Range" };
                local.push(LocalBan {
                    scope,
                    value: crate::policy::text(&p.value),
                    until: p.expires_at,
                    scenario: "warden/manual".into(),
                });
            }
            local.sort_by(|a, b| a.value.cmp(&b.value));
            local.dedup_by(|a, b| a.value == b.value);
            if cs.sent.as_ref() != Some(&local) {
                cs.worker.set_local(local.clone());
                cs.sent = Some(local);
            }
        }
        let reports = cs.worker.take_reports();
        for r in reports {
            match r {
                Report::Health { error, enforced } => {
                    let status = SinkStatus {
                        name: "crowdsec".into(),
                        state: if error.is_some() { SinkState::Failing } else { SinkState::Working },
                        entries: enforced,
                        applied_at: error.is_none().then_some(now),
                        error: error.clone(),
                    };
                    if let Err(e) = self.state.save_sink_status(&status, now) {
                        out.push(self.state_failing(&e));
                    }
                    out.push(Notice::Sink { name: status.name, state: status.state, entries: enforced, error });
                }
                Report::Protected { value, why } => out
                    .push(Notice::Crowdsec { message: format!("a decision for {value} is not enforced: it is {why}") }),
                Report::Skipped(m) => out.push(Notice::Crowdsec { message: m }),
                Report::Warning(m) => out.push(Notice::Crowdsec { message: format!("warning: {m}") }),
            }
        }
    }
}
