//! Access control by hand, shared by the CLI and the desktop app: access policies, the
//! allow-list-only mode, and bringing nginx and nftables to the desired state now.
//!
//! Every change is checked the way a ban is (nothing that is never banned can be refused), and
//! written to the audit log with its origin and reason.

use std::net::IpAddr;

use crate::config::{Config, Paths};
use crate::enforce::{Enforcer, SinkStatus};
use crate::engine::BanLength;
use crate::error::{Error, Result};
use crate::ip::{canonicalize, Protection};
use crate::policy::{self, Access, Desired, Policy, Skipped};
use crate::store::state::{Actor, StateDb};
use crate::store::LogsDb;
use crate::time::{rfc3339, Timestamp};

/// Adds an access policy (or replaces the one for the same value): `raw` is an address or a CIDR
/// range, `ttl` seconds or `30m`, `24h`, `7d` (`None`: until removed). A deny entry that holds or
/// touches a protected address (loopback, private ranges, the trader's own addresses, the
/// allow-list and the allow entries) is refused with the reason, as [`crate::actions::ban`] refuses one.
#[allow(clippy::too_many_arguments)]
pub fn add_policy(
    state: &StateDb,
    protection: &Protection,
    access: Access,
    raw: &str,
    ttl: Option<&str>,
    reason: Option<&str>,
    actor: Actor,
    now: Timestamp,
) -> Result<Policy> {
    let value = policy::parse_value(raw)?;
    let ttl_seconds = ttl.map(policy::parse_ttl).transpose()?;
    let live = state.policies(now)?;
    if access == Access::Deny {
        let protection = protection.clone().with_policy_allow(policy::allow_nets(&live, now));
        if let Some(why) = policy::deny_refusal(&value, &protection) {
            return Err(Error::Protected { ip: policy::text(&value), why: why.to_string() });
        }
    }
    let expires_at = ttl_seconds.map(|s| now + chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX)));
    let p = Policy {
        value,
        policy: access,
        ttl_seconds,
        expires_at,
        created_at: now,
        reason: reason.map(str::trim).unwrap_or_default().to_string(),
        created_by: actor.as_str().to_string(),
    };
    let replaced = live.iter().find(|q| q.value == value).map(|q| q.policy);
    state.put_policy(&p)?;
    let detail = match (expires_at, replaced) {
        (Some(t), None) => format!("{access} until {}", rfc3339(t)),
        (None, None) => format!("{access} until removed"),
        (Some(t), Some(was)) => format!("{access} until {} (was {was})", rfc3339(t)),
        (None, Some(was)) => format!("{access} until removed (was {was})"),
    };
    let reason = Some(p.reason.as_str()).filter(|r| !r.is_empty());
    state.audit(actor, "policy-add", Some(&policy::text(&value)), Some(&detail), reason, now)?;
    Ok(p)
}

/// Removes the access policy for `raw` (any spelling of the same address or range).
pub fn remove_policy(state: &StateDb, raw: &str, actor: Actor, now: Timestamp) -> Result<Policy> {
    let value = policy::parse_value(raw)?;
    let text = policy::text(&value);
    let Some(p) = state.policies(now)?.into_iter().find(|p| p.value == value) else {
        return Err(Error::InvalidPolicy(format!("there is no policy for {text}: `warden policy list` lists them")));
    };
    state.remove_policy(&text)?;
    state.audit(actor, "policy-rm", Some(&text), Some(&format!("{} removed", p.policy)), None, now)?;
    Ok(p)
}

/// Bans a whole range by hand for `length`: a deny policy with that time to live, refused as
/// [`add_policy`] refuses one. `raw` must hold a `/`.
pub fn ban_range(
    state: &StateDb,
    protection: &Protection,
    raw: &str,
    length: BanLength,
    reason: Option<&str>,
    actor: Actor,
    now: Timestamp,
) -> Result<Policy> {
    let ttl = match length {
        BanLength::Permanent => None,
        other => other.expires_at(now).map(|t| ((t - now).num_seconds().max(1)).to_string()),
    };
    let reason = reason.map(str::trim).filter(|r| !r.is_empty()).unwrap_or("Manual ban");
    add_policy(state, protection, Access::Deny, raw, ttl.as_deref(), Some(reason), actor, now)
}

/// The desired state now, as a running monitor would compute it: the bans in force in `logs.db`,
/// the policies and the mode in the state database, and what is never banned.
pub fn desired_now(cfg: &Config, paths: &Paths, now: Timestamp) -> Result<(Desired, Vec<Skipped>)> {
    let logs = LogsDb::open(&paths.logs_db)?;
    let bans: Vec<(IpAddr, Option<Timestamp>)> = crate::report::bans(&logs, now)?
        .into_iter()
        .filter_map(|b| canonicalize(&b.ip).ok().map(|ip| (ip, if b.permanent { None } else { b.expires_at })))
        .collect();
    let state = StateDb::open(&paths.state_db)?;
    let policies = state.policies(now)?;
    let protection = paths.protection(cfg, now)?;
    Ok(Desired::build(bans, &policies, state.allow_only()?, &protection, now))
}

/// Brings every configured sink to the desired state now (`warden enforce apply`), records how
/// each did, and returns the statuses. Without a sink configured, says how to configure one.
pub fn apply_now(cfg: &Config, paths: &Paths, now: Timestamp) -> Result<Vec<SinkStatus>> {
    let Some(mut enforcer) = Enforcer::from_config(&cfg.enforce) else {
        return Err(Error::Refused(
            "no enforcement is configured: add [enforce.nginx] or [enforce.nftables] to the configuration \
             (see `warden enforce nginx-snippet --http`)"
                .into(),
        ));
    };
    let (desired, _) = desired_now(cfg, paths, now)?;
    enforcer.converge(&desired, now);
    let state = StateDb::open(&paths.state_db)?;
    let statuses = enforcer.statuses();
    for s in &statuses {
        state.save_sink_status(s, now)?;
    }
    Ok(statuses)
}

/// Each enforcement point as the running monitor last recorded it in the state database: `off` when
/// not configured, and failing with `not_yet` when configured but never applied.
pub fn recorded_sinks(cfg: &Config, state_db: &std::path::Path, not_yet: &str) -> Result<Vec<SinkStatus>> {
    let recorded = if state_db.exists() { StateDb::open(state_db)?.sink_statuses()? } else { Vec::new() };
    let configured = [("nginx", cfg.enforce.nginx.is_some()), ("nftables", cfg.enforce.nftables.is_some())];
    Ok(configured
        .iter()
        .map(|(name, on)| match (on, recorded.iter().find(|(s, _)| s.name == *name)) {
            (false, _) => crate::enforce::off(name),
            (true, Some((s, _))) => s.clone(),
            (true, None) => SinkStatus {
                name: name.to_string(),
                state: crate::enforce::SinkState::Failing,
                entries: 0,
                applied_at: None,
                error: Some(format!("not applied yet: {not_yet}")),
            },
        })
        .collect())
}

/// The address of the SSH session Warden runs in, if it runs in one (`SSH_CONNECTION` or
/// `SSH_CLIENT`).
pub fn ssh_client() -> Option<IpAddr> {
    ["SSH_CONNECTION", "SSH_CLIENT"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .and_then(|s| s.split_whitespace().next().and_then(|ip| canonicalize(ip).ok()))
}

/// Whether `ip` is admitted in allow-list-only mode with these allow entries.
fn admitted(ip: IpAddr, desired_allow: &[ipnet::IpNet]) -> bool {
    desired_allow.iter().any(|n| n.contains(&ip))
}

/// What turning the allow-list-only mode on would admit, and whether it may be turned on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AllowOnlyPlan {
    /// The ranges admitted (loopback always among them).
    #[serde(serialize_with = "texts")]
    pub admitted: Vec<ipnet::IpNet>,
    /// Addresses seen in the last 24 h of traffic that would be refused, most requests first.
    pub refused: Vec<(String, u64)>,
    /// Why it may not be turned on, if it may not.
    pub blocked: Option<String>,
}

fn texts<S: serde::Serializer>(nets: &[ipnet::IpNet], s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::Serialize;
    nets.iter().map(policy::text).collect::<Vec<_>>().serialize(s)
}

/// Plans turning the allow-list-only mode on: what it would admit, which recent clients it would
/// refuse (from `traffic`: address and request count over the last 24 h), and whether it is
/// refused. It is refused unless the allow entries hold an address besides loopback, and, inside
/// an SSH session (`ssh`), unless that session's address is admitted: one command must never
/// lock the trader out.
pub fn plan_allow_only(
    protection: &Protection,
    policies: &[Policy],
    traffic: Vec<(String, u64)>,
    ssh: Option<IpAddr>,
    now: Timestamp,
) -> AllowOnlyPlan {
    let (d, _) = Desired::build(Vec::new(), policies, true, protection, now);
    let admitted_nets = d.allow_only.unwrap_or_default();
    // The allow entries themselves (not the addresses the trader happens to use now, which the
    // mode also admits): the trader must have said whom to admit.
    let allowed: Vec<ipnet::IpNet> =
        protection.allow_entries().copied().chain(policy::allow_nets(policies, now)).collect();
    let beyond_loopback = allowed.iter().any(|n| !policy::loopback().iter().any(|l| l.contains(n)));
    let mut refused: Vec<(String, u64)> = traffic
        .into_iter()
        .filter(|(ip, _)| canonicalize(ip).map(|ip| !admitted(ip, &admitted_nets)).unwrap_or(false))
        .collect();
    refused.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    // The session's address must be allowed outright: the mode also admits the addresses the
    // trader uses now, but only while they are in use.
    let locked_out = ssh.filter(|ip| !admitted(*ip, &allowed) && !ip.is_loopback()).map(|ip| {
        format!(
            "refusing to turn on allow-list-only mode: this SSH session comes from {ip}, which is not allowed, \
             so you would lock yourself out of OpenAlgo. Allow it first: warden policy add allow {ip}"
        )
    });
    let blocked = if beyond_loopback {
        locked_out
    } else {
        Some(
            "refusing to turn on allow-list-only mode: nothing but loopback is allowed, so every client, you \
             included, would be refused. Add your own address first: warden policy add allow YOUR.IP"
                .to_string(),
        )
    };
    AllowOnlyPlan { admitted: admitted_nets, refused, blocked }
}

/// Turns the allow-list-only mode on (after [`plan_allow_only`] found nothing blocking) or off,
/// with an audit entry.
pub fn set_allow_only(state: &StateDb, on: bool, actor: Actor, now: Timestamp) -> Result<()> {
    state.set_allow_only(on, actor.as_str(), now)?;
    let action = if on { "allow-only-on" } else { "allow-only-off" };
    state.audit(actor, action, None, None, None, now)
}

/// How many bytes of each access log's end are read for [`recent_clients`].
const RECENT_LOG_BYTES: u64 = 64 << 20;

/// The client addresses of the last 24 h with their request counts: `logs.db`'s `traffic_logs`
/// and the end of each access log (its last 64 MiB), canonical where they parse.
pub fn recent_clients(paths: &Paths, now: Timestamp) -> Result<Vec<(String, u64)>> {
    let since = now - chrono::Duration::hours(24);
    let mut counts: std::collections::HashMap<String, u64> = Default::default();
    let mut add = |raw: &str| {
        let key = canonicalize(raw).map(|ip| ip.to_string()).unwrap_or_else(|_| raw.to_string());
        *counts.entry(key).or_default() += 1;
    };
    if paths.logs_db.exists() {
        for (_, _, ip) in LogsDb::open(&paths.logs_db)?.traffic_since(since, 2_000_000)? {
            add(&ip);
        }
    }
    for (path, format) in &paths.access_logs {
        for line in crate::dashboard::traffic::access_tail(path, format, RECENT_LOG_BYTES) {
            if line.at.is_some_and(|t| t >= since) {
                add(&line.ip);
            }
        }
    }
    Ok(counts.into_iter().collect())
}
