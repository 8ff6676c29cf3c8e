//! The app's Access policy view: the entries with their time left, adding and removing them, the
//! allow-list-only mode (with who it would cut off), and how each enforcement point is doing.

use serde::Serialize;

use super::{Desk, DeskError, DeskResult};
use crate::access::{self, AllowOnlyPlan};
use crate::enforce::SinkStatus;
use crate::policy::{Access, Policy};
use crate::store::state::Actor;
use crate::time::Timestamp;

/// What the Access policy view shows.
#[derive(Debug, Clone, Serialize)]
pub struct AccessView {
    /// The entries in force, by value.
    pub policies: Vec<Policy>,
    /// Whether the allow-list-only mode is on.
    pub allow_only: bool,
    /// What the mode admits (or would).
    pub admitted: Vec<String>,
    /// Each enforcement point: `off` when not configured.
    pub sinks: Vec<SinkStatus>,
}

/// The time-to-live choices the form offers, and their seconds (`None`: until removed).
pub fn ttl_choice(choice: &str) -> DeskResult<Option<String>> {
    match choice.trim() {
        "" | "forever" => Ok(None),
        "30m" | "24h" | "7d" => Ok(Some(choice.trim().to_string())),
        other if other.chars().all(|c| c.is_ascii_digit()) => Ok(Some(other.to_string())),
        other => Err(DeskError::invalid(format!(
            "the time to live must be 30m, 24h, 7d, a number of seconds, or until removed, not '{}'",
            crate::ip::display_raw(other)
        ))),
    }
}

impl Desk {
    /// The enforcement points: the running monitor's last record for each configured one, `off`
    /// for the others.
    pub fn sinks(&self) -> DeskResult<Vec<SinkStatus>> {
        Ok(access::recorded_sinks(&self.cfg, &self.paths.state_db, "the monitor applies it when it starts")?)
    }

    /// The Access policy view.
    pub fn access(&self, now: Timestamp) -> DeskResult<AccessView> {
        let state = self.state()?;
        let policies = state.policies(now)?;
        let plan = access::plan_allow_only(&self.protection()?, &policies, Vec::new(), None, now);
        Ok(AccessView {
            allow_only: state.allow_only()?,
            admitted: plan.admitted.iter().map(crate::policy::text).collect(),
            policies,
            sinks: self.sinks()?,
        })
    }

    /// Adds an entry from the form: `policy` is `allow` or `deny`, `ttl` one of [`ttl_choice`]'s.
    pub fn add_policy(&self, policy: &str, value: &str, ttl: &str, reason: &str, now: Timestamp) -> DeskResult<Policy> {
        let access_kind = policy.parse::<Access>()?;
        let ttl = ttl_choice(ttl)?;
        let reason = Some(reason).filter(|r| !r.trim().is_empty());
        Ok(access::add_policy(
            &self.state()?,
            &self.protection()?,
            access_kind,
            value,
            ttl.as_deref(),
            reason,
            Actor::Gui,
            now,
        )?)
    }

    /// Removes the entry for `value`.
    pub fn remove_policy(&self, value: &str, now: Timestamp) -> DeskResult<Policy> {
        Ok(access::remove_policy(&self.state()?, value, Actor::Gui, now)?)
    }

    /// What turning the allow-list-only mode on would do: who is admitted, who of the last 24 h
    /// would be refused, and why it cannot be turned on, if it cannot.
    pub fn allow_only_plan(&self, now: Timestamp) -> DeskResult<AllowOnlyPlan> {
        let state = self.state()?;
        Ok(access::plan_allow_only(
            &self.protection()?,
            &state.policies(now)?,
            access::recent_clients(&self.paths, now)?,
            access::ssh_client(),
            now,
        ))
    }

    /// Turns the allow-list-only mode on (refused, with the reason, when it would lock the trader
    /// out) or off.
    pub fn set_allow_only(&self, on: bool, now: Timestamp) -> DeskResult<bool> {
        if on {
            let plan = access::plan_allow_only(
                &self.protection()?,
                &self.state()?.policies(now)?,
                Vec::new(),
                access::ssh_client(),
                now,
            );
            if let Some(why) = plan.blocked {
                return Err(DeskError { kind: "refused", message: why, fields: None });
            }
        }
        access::set_allow_only(&self.state()?, on, Actor::Gui, now)?;
        Ok(on)
    }
}
