//! The monitor's side of enforcement: access policies and the mode read from the state database,
//! the desired state recomputed when bans, policies or protection change (or an entry ends), and
//! the sinks brought to it.

use super::{Monitor, Notice};
use crate::policy::{allow_nets, Desired, Policy};
use crate::time::Timestamp;

/// What the monitor keeps for enforcement.
#[derive(Debug, Default)]
pub(super) struct Enforcement {
    /// The sinks, when any is configured.
    pub enforcer: Option<crate::enforce::Enforcer>,
    /// The access policies in force, as last read.
    pub policies: Vec<Policy>,
    /// Whether the allow-list-only mode is on.
    pub allow_only: bool,
    /// The state database's policy counter when last read.
    pub version: Option<i64>,
    /// The desired state last computed, and the engine version and time it was computed for.
    pub desired: Option<(Desired, u64)>,
    /// Whether the policies changed since `desired` was computed.
    pub stale: bool,
    /// Whether `desired` changed since the sinks were last brought to it.
    pub moved: bool,
    /// When the addresses seen inside denied ranges were last looked for in `logs.db`.
    pub rows_looked: Option<Timestamp>,
    /// Whether `desired` changed since deny rows were last written.
    pub rows_stale: bool,
}

/// How often `logs.db`'s recent clients are looked through for addresses inside a denied range.
const DENY_ROWS_EVERY: chrono::Duration = chrono::Duration::seconds(60);

/// `created_by` of the `ip_bans` rows an access policy makes.
pub const POLICY_CREATED_BY: &str = "warden:policy";

impl Monitor {
    /// Re-reads the policies and the mode when another process (the CLI, the app) changed them,
    /// drops expired ones, and hands the allow entries to the engine.
    pub(super) fn follow_policies(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        let version = match self.state.policies_version() {
            Ok(v) => v,
            Err(e) => return out.push(self.state_failing(&e)),
        };
        let expired = self.enforcement.policies.iter().any(|p| !p.live(now));
        if self.enforcement.version == Some(version) && !expired {
            return;
        }
        if expired {
            if let Err(e) = self.state.purge_policies(now) {
                out.push(self.state_failing(&e));
            }
        }
        match (self.state.policies(now), self.state.allow_only()) {
            (Ok(p), Ok(mode)) => {
                self.engine.set_policy_allow(allow_nets(&p, now));
                self.lift_crowdsec_rows(&p, now, out);
                self.enforcement.policies = p;
                self.enforcement.allow_only = mode;
                self.enforcement.version = self.state.policies_version().ok();
                self.enforcement.stale = true;
            }
            (Err(e), _) | (_, Err(e)) => out.push(self.state_failing(&e)),
        }
    }

    /// Deletes the `logs.db` rows of CrowdSec decisions that were deleted in the LAPI: rows made
    /// by [`super::crowdsec::CROWDSEC_CREATED_BY`] that no live CrowdSec policy covers any more. A
    /// ban Warden made itself has its own `created_by`, and stays.
    fn lift_crowdsec_rows(&mut self, policies: &[Policy], now: Timestamp, out: &mut Vec<Notice>) {
        let Some(db) = self.logs.db_mut() else { return };
        let rows = match db.bans() {
            Ok(r) => r,
            Err(e) => return out.push(Notice::BanPending { ip: "(CrowdSec rows)".into(), error: e.to_string() }),
        };
        for row in rows.iter().filter(|r| r.created_by.as_deref() == Some(super::crowdsec::CROWDSEC_CREATED_BY)) {
            let Ok(ip) = crate::ip::canonicalize(&row.ip) else { continue };
            let covered = policies.iter().any(|p| {
                p.policy == crate::policy::Access::Deny
                    && crate::crowdsec::is_crowdsec_policy(&p.created_by)
                    && p.live(now)
                    && p.value.contains(&ip)
            });
            if !covered {
                let _ = db.unban(&row.ip);
                self.enforcement.rows_stale = true;
            }
        }
    }

    /// OpenAlgo's `logs.db` as a sink for deny policies: OpenAlgo matches exact addresses, so a
    /// denied address gets a ban row, and a denied range gets one for each address inside it that
    /// OpenAlgo has seen in the last 24 h (`traffic_logs` and its trackers), looked for when the
    /// policies change and every minute. The rows end when the policy does.
    pub(super) fn deny_rows(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        let due = self.enforcement.rows_looked.is_none_or(|t| now < t || now - t >= DENY_ROWS_EVERY);
        let Some((desired, _)) = &self.enforcement.desired else { return };
        // Each denied entry with the policy it comes from (a pulled CrowdSec decision's rows say so).
        let denies: Vec<(crate::policy::DenyEntry, Option<String>)> = desired
            .deny
            .iter()
            .filter_map(|d| {
                let p = self
                    .enforcement
                    .policies
                    .iter()
                    .find(|p| p.policy == crate::policy::Access::Deny && p.value == d.net)?;
                Some((d.clone(), crate::crowdsec::is_crowdsec_policy(&p.created_by).then(|| p.reason.clone())))
            })
            .collect();
        if denies.is_empty() || !(self.enforcement.rows_stale || due) {
            return;
        }
        self.enforcement.rows_stale = false;
        self.enforcement.rows_looked = Some(now);
        let Some(db) = self.logs.db_mut() else { return };
        let mut seen: Vec<std::net::IpAddr> = Vec::new();
        if denies.iter().any(|(d, _)| d.net.prefix_len() < d.net.max_prefix_len()) {
            match db.recent_clients(now - chrono::Duration::hours(24)) {
                Ok(ips) => seen = ips.iter().filter_map(|s| crate::ip::canonicalize(s).ok()).collect(),
                Err(e) => return out.push(self.state_failing(&e)),
            }
        }
        let mut wanted: Vec<(std::net::IpAddr, Option<Timestamp>, Option<String>)> = Vec::new();
        for (d, from) in &denies {
            if d.net.prefix_len() == d.net.max_prefix_len() {
                wanted.push((d.net.addr(), d.until, from.clone()));
            } else {
                wanted.extend(seen.iter().filter(|ip| d.net.contains(*ip)).map(|ip| (*ip, d.until, from.clone())));
            }
        }
        for (ip, until, from) in wanted {
            if self.engine.is_banned(ip, now) || self.engine.protection().check(ip).is_some() {
                continue;
            }
            let ban = crate::store::logs_db::NewBan {
                ips: vec![ip.to_string()],
                reason: from.clone().unwrap_or_else(|| "Denied by an access policy".into()),
                length: until.map_or(crate::engine::BanLength::Permanent, crate::engine::BanLength::Until),
                at: now,
                created_by: if from.is_some() { super::crowdsec::CROWDSEC_CREATED_BY } else { POLICY_CREATED_BY }
                    .into(),
                offence: 1,
            };
            let Some(db) = self.logs.db_mut() else { return };
            if let Err(e) = db.write_ban(&ban) {
                out.push(Notice::BanPending { ip: ip.to_string(), error: e.to_string() });
            }
        }
    }

    /// Recomputes the desired state when something it depends on changed, and brings every sink
    /// to it (each sink also looks for drift and retries by itself, see [`crate::enforce`]).
    pub(super) fn enforce(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        if self.enforcement.enforcer.is_none() && self.enforcement.policies.is_empty() {
            return;
        }
        let version = self.engine.version();
        let fresh = match &self.enforcement.desired {
            Some((d, v)) => *v == version && !self.enforcement.stale && d.next_change().is_none_or(|t| now < t),
            None => false,
        };
        if !fresh {
            let (desired, _skipped) = Desired::build(
                self.engine.bans_in_force(now),
                &self.enforcement.policies,
                self.enforcement.allow_only,
                self.engine.protection(),
                now,
            );
            let same = self.enforcement.desired.as_ref().is_some_and(|(d, _)| *d == desired);
            self.enforcement.moved |= !same;
            self.enforcement.rows_stale |= !same;
            self.enforcement.desired = Some((desired, version));
            self.enforcement.stale = false;
        }
        self.deny_rows(now, out);
        let (Some(enforcer), Some((desired, _))) = (&mut self.enforcement.enforcer, &self.enforcement.desired) else {
            return;
        };
        // A busy log wakes the monitor hundreds of times a second: the sinks are looked at only
        // when the state moved or one of them has work due (a reload, a retry, a drift check).
        let due = enforcer.due().is_none_or(|t| t <= std::time::Instant::now());
        if !self.enforcement.moved && !due {
            return;
        }
        self.enforcement.moved = false;
        for s in enforcer.converge(desired, now) {
            if let Err(e) = self.state.save_sink_status(&s, now) {
                out.push(self.state_failing(&e));
            }
            out.push(Notice::Sink { name: s.name, state: s.state, entries: s.entries, error: s.error });
        }
    }

    /// When enforcement wants a round by itself: an entry ending, a spaced reload, a retry or a
    /// drift check.
    pub(super) fn enforce_due(&self) -> Option<Timestamp> {
        let policy_ends = self.enforcement.policies.iter().filter_map(|p| p.expires_at).min();
        let Some(enforcer) = self.enforcement.enforcer.as_ref() else { return policy_ends };
        let now = crate::time::now();
        let work = enforcer.due().map(|at| {
            let wait = at.saturating_duration_since(std::time::Instant::now());
            now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero())
        });
        let ends = self.enforcement.desired.as_ref().and_then(|(d, _)| d.next_change());
        [work, ends, policy_ends].into_iter().flatten().min()
    }

    /// The sinks' statuses, if any sink is configured.
    pub fn sink_statuses(&self) -> Option<Vec<crate::enforce::SinkStatus>> {
        self.enforcement.enforcer.as_ref().map(|e| e.statuses())
    }
}
