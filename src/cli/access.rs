//! `warden policy`, `warden enforce` and `warden whitelist`.

use clap::Subcommand;

use super::output;
use crate::config::{Config, Paths};
use crate::enforce::nginx;
use crate::error::{Error, Result};
use crate::store::state::{Actor, StateDb};
use crate::time::Timestamp;

/// `warden policy …`.
#[derive(Debug, Subcommand)]
pub(super) enum PolicyCommand {
    /// Add an entry (or replace the one for the same address or range).
    Add {
        /// allow (never banned; admitted in allow-list-only mode) or deny (refused everywhere).
        policy: String,
        /// An IPv4 or IPv6 address, or a CIDR range such as 203.0.113.0/24 or 2001:db8::/64.
        value: String,
        /// How long it lasts: seconds, or 30m, 24h, 7d (default: until removed).
        #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
        ttl: Option<String>,
        /// Why (kept with the entry and in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove the entry for an address or range.
    Rm {
        /// The address or range, in any spelling.
        value: String,
    },
    /// The entries in force.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `warden enforce …`.
#[derive(Debug, Subcommand)]
pub(super) enum EnforceCommand {
    /// How each enforcement point is doing (as the running monitor last recorded it).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bring nginx and nftables to the bans and policies in force now (a running monitor does this
    /// by itself).
    Apply {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print what to paste into nginx's configuration, once.
    NginxSnippet {
        /// The part for http { }: the geo block (creates the ban list file if it is missing).
        #[arg(long, conflicts_with = "server", required_unless_present = "server")]
        http: bool,
        /// The part for OpenAlgo's server { }: the check, and the headers to clear.
        #[arg(long)]
        server: bool,
    },
}

/// `warden whitelist …`.
#[derive(Debug, Subcommand)]
pub(super) enum WhitelistCommand {
    /// Admit only loopback and the allow entries, at nginx and in the kernel.
    Enable {
        /// Only list the addresses of the last 24 h that would be refused.
        #[arg(long)]
        dry_run: bool,
    },
    /// Admit everyone again (bans and deny entries still apply).
    Disable,
    /// Whether the mode is on, and what it admits.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn policy(cfg: &Config, paths: &Paths, action: PolicyCommand, now: crate::time::Timestamp) -> Result<()> {
    let state = StateDb::open(&paths.state_db)?;
    match action {
        PolicyCommand::Add { policy, value, ttl, reason } => {
            let access = policy.parse::<crate::policy::Access>()?;
            let protection = paths.protection(cfg, now)?;
            let p = crate::access::add_policy(
                &state,
                &protection,
                access,
                &value,
                ttl.as_deref(),
                reason.as_deref(),
                Actor::Cli,
                now,
            )?;
            output::line(&format!("{} {}: {}", p.policy, crate::policy::text(&p.value), output::policy_ends(&p)))
        }
        PolicyCommand::Rm { value } => {
            let p = crate::access::remove_policy(&state, &value, Actor::Cli, now)?;
            output::line(&format!("removed the {} entry for {}", p.policy, crate::policy::text(&p.value)))
        }
        PolicyCommand::List { json } => {
            let list = state.policies(now)?;
            if json {
                output::print(true, &list, |_| String::new())
            } else {
                output::line(&output::policies_text(&list, now))
            }
        }
    }
}

pub(super) fn enforce(cfg: &Config, paths: &Paths, action: EnforceCommand, now: Timestamp) -> Result<()> {
    match action {
        EnforceCommand::Status { json } => {
            let not_yet = "start `warden watch`, or run `warden enforce apply`";
            let list = crate::access::recorded_sinks(cfg, &paths.state_db, not_yet)?;
            if json {
                output::print(true, &list, |_| String::new())
            } else {
                output::line(&output::sinks_text(&list))
            }
        }
        EnforceCommand::Apply { json } => {
            let list = crate::access::apply_now(cfg, paths, now)?;
            if json {
                output::print(true, &list, |_| String::new())?;
            } else {
                output::line(&output::sinks_text(&list))?;
            }
            match list.iter().find(|s| s.state == crate::enforce::SinkState::Failing) {
                Some(s) => Err(Error::Enforce { sink: s.name.clone(), message: s.error.clone().unwrap_or_default() }),
                None => Ok(()),
            }
        }
        EnforceCommand::NginxSnippet { http, .. } => {
            let n = cfg.enforce.nginx.clone().unwrap_or_default();
            if http {
                let created = nginx::ensure_geo_file(&n.geo_file)?;
                let mut text = nginx::http_snippet(&n);
                if created {
                    text.push_str(&format!(
                        "# (Warden created the empty list {} so that nginx -t passes.)\n",
                        n.geo_file.display()
                    ));
                }
                if cfg.enforce.nginx.is_none() {
                    text.push_str("# Then turn the sink on: add [enforce.nginx] to Warden's configuration.\n");
                }
                output::line(&text)
            } else {
                output::line(&nginx::server_snippet())
            }
        }
    }
}

pub(super) fn whitelist(cfg: &Config, paths: &Paths, action: WhitelistCommand, now: Timestamp) -> Result<()> {
    let state = StateDb::open(&paths.state_db)?;
    match action {
        WhitelistCommand::Enable { dry_run } => {
            let plan = crate::access::plan_allow_only(
                &paths.protection(cfg, now)?,
                &state.policies(now)?,
                crate::access::recent_clients(paths, now)?,
                crate::access::ssh_client(),
                now,
            );
            if dry_run {
                return output::line(&output::allow_only_plan_text(&plan));
            }
            if let Some(why) = plan.blocked {
                return Err(Error::Refused(why));
            }
            crate::access::set_allow_only(&state, true, Actor::Cli, now)?;
            output::line(&format!(
                "allow-list-only mode is on: only {} are admitted at nginx and in the kernel ({} address(es) of the last 24 h are now refused)",
                plan.admitted.iter().map(crate::policy::text).collect::<Vec<_>>().join(", "),
                plan.refused.len()
            ))
        }
        WhitelistCommand::Disable => {
            crate::access::set_allow_only(&state, false, Actor::Cli, now)?;
            output::line("allow-list-only mode is off: everyone but the banned and denied is admitted again")
        }
        WhitelistCommand::Status { json } => {
            let on = state.allow_only()?;
            let plan = crate::access::plan_allow_only(
                &paths.protection(cfg, now)?,
                &state.policies(now)?,
                Vec::new(),
                None,
                now,
            );
            let admitted: Vec<String> = plan.admitted.iter().map(crate::policy::text).collect();
            if json {
                output::print(true, &serde_json::json!({ "enabled": on, "admitted": admitted }), |_| String::new())
            } else {
                output::line(&format!(
                    "allow-list-only mode is {}; {} admitted: {}",
                    if on { "ON" } else { "off" },
                    if on { "only these are" } else { "when on, only these would be" },
                    admitted.join(", ")
                ))
            }
        }
    }
}
