//! Sharing bans through CrowdSec's Local API (LAPI): Warden as a machine that pushes its own bans,
//! and as a bouncer that pulls everyone's decisions.
//!
//! - [`duration`]: Go's duration syntax, which the LAPI speaks.
//! - [`client`]: the HTTP calls (log in, push an alert, delete a decision, pull the stream).
//! - [`worker`]: the thread that converges the LAPI on Warden's own bans and turns pulled decisions
//!   into deny entries (policies), which every sink then enforces.
//!
//! Pulled decisions become deny policies with `created_by = "crowdsec:ORIGIN:SCENARIO"`, so they
//! reach `logs.db`, nginx and nftables through the one desired state, expire with the time the LAPI
//! gives, and never cover a protected address. Warden's own bans go out as alerts with origin
//! `warden` and a scenario named after the rule (`warden/openalgo-404`, `warden/openalgo-api-key`,
//! `warden/login-attack`, `warden/manual`).

pub mod client;
pub mod duration;
pub mod worker;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::alert::Secret;

/// `[crowdsec]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrowdsecConfig {
    /// The LAPI (default `http://127.0.0.1:8080`; the credentials file's `url` wins when set).
    pub url: String,
    /// The machine's credentials, as `cscli machines add NAME -f FILE` writes them (for `push`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<PathBuf>,
    /// A file holding the bouncer key `cscli bouncers add NAME -o raw` printed (for `pull`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bouncer_key_file: Option<PathBuf>,
    /// Push Warden's own bans (default on).
    pub push: bool,
    /// Pull and enforce the LAPI's decisions (default on).
    pub pull: bool,
    /// Seconds between pulls (default 10).
    pub pull_seconds: u64,
    /// The origins to enforce (`crowdsec`, `cscli`, `CAPI`, `lists`, `warden`…); empty: all.
    pub origins: Vec<String>,
}

impl Default for CrowdsecConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".into(),
            credentials: None,
            bouncer_key_file: None,
            push: true,
            pull: true,
            pull_seconds: 10,
            origins: Vec::new(),
        }
    }
}

impl CrowdsecConfig {
    /// Checks every value; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        crate::alert::check_url(&self.url).map_err(|e| format!("crowdsec.url {e}"))?;
        if !(1..=3600).contains(&self.pull_seconds) {
            return Err("crowdsec.pull_seconds goes from 1 to 3600".into());
        }
        if self.push && self.credentials.is_none() {
            return Err("crowdsec.credentials must name the file `cscli machines add NAME -f FILE` wrote \
                        (or set push = false)"
                .into());
        }
        if self.pull && self.bouncer_key_file.is_none() {
            return Err("crowdsec.bouncer_key_file must name a file holding the key `cscli bouncers add NAME -o raw` \
                        printed (or set pull = false)"
                .into());
        }
        for o in &self.origins {
            if o.is_empty() || o.len() > 64 || o.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("crowdsec.origins: '{}' is not an origin", crate::ip::display_raw(o)));
            }
        }
        Ok(())
    }

    /// What is worth a warning but works: a LAPI on another machine over plain HTTP, where the
    /// machine's password and the bouncer key cross the network in the clear.
    pub fn warnings(&self, lapi_url: &str) -> Vec<String> {
        let host = lapi_url.strip_prefix("http://").map(|r| r.split('/').next().unwrap_or("")).unwrap_or("");
        let name = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
        let loopback = name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !host.is_empty() && !loopback {
            vec![format!(
                "the LAPI at {} is reached over plain HTTP on another machine: its password and the bouncer key \
                 cross the network in the clear. Use https://, or a private network (WireGuard) between the servers",
                crate::ip::display_raw(lapi_url)
            )]
        } else {
            Vec::new()
        }
    }
}

/// A machine's credentials (`lapi.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The LAPI's address.
    pub url: Option<String>,
    /// The machine's name.
    pub login: String,
    /// Its password.
    pub password: Secret,
}

pub use crate::store::private::read_private;

impl Credentials {
    /// Parses the `key: value` lines of `lapi.yaml` (quotes allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut url = None;
        let mut login = None;
        let mut password = None;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once(':') else { continue };
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v)
                .to_string();
            match k.trim() {
                "url" => url = Some(v),
                "login" => login = Some(v),
                "password" => password = Some(v),
                _ => {}
            }
        }
        let login = login.filter(|l| !l.is_empty()).ok_or("the credentials file has no `login:` line")?;
        let password = password.filter(|p| !p.is_empty()).ok_or("the credentials file has no `password:` line")?;
        Ok(Self { url: url.filter(|u| !u.is_empty()), login, password: Secret::new(password) })
    }

    /// Reads and parses the file.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        Self::parse(&read_private(path, "LAPI credentials file")?)
    }
}

/// The scenario Warden pushes for a ban, from the `created_by` of its `logs.db` row.
pub fn scenario_of(created_by: Option<&str>) -> &'static str {
    match created_by.unwrap_or("") {
        "warden:404" | "404_detector" => "warden/openalgo-404",
        "warden:api" | "api_key_detector" => "warden/openalgo-api-key",
        "warden:login" => "warden/login-attack",
        "warden:rate" => "warden/burst",
        _ => "warden/manual",
    }
}

/// `created_by` of a policy made from a pulled decision.
pub fn policy_origin(origin: &str, scenario: &str) -> String {
    format!("crowdsec:{}:{}", crate::ip::display_raw(origin), crate::ip::display_raw(scenario))
}

/// Whether a policy came from CrowdSec.
pub fn is_crowdsec_policy(created_by: &str) -> bool {
    created_by.starts_with("crowdsec:")
}

/// Tries the connection as configured: the machine logs in, the bouncer pulls once. Returns what
/// worked, in words, or the first thing that did not.
pub fn test(c: &CrowdsecConfig, now: crate::time::Timestamp) -> Result<String, String> {
    let creds = match &c.credentials {
        Some(p) => Some(Credentials::load(p)?),
        None => None,
    };
    let key = match &c.bouncer_key_file {
        Some(p) => Some(Secret::new(read_private(p, "bouncer key file")?.trim())),
        None => None,
    };
    let url = creds.as_ref().and_then(|x| x.url.clone()).unwrap_or_else(|| c.url.clone());
    let login = creds.as_ref().map(|x| x.login.clone());
    let mut client = client::Client::new(&url, creds, key.clone());
    client.health().map_err(|e| e.to_string())?;
    let mut said = vec![format!("the LAPI at {} is up", crate::ip::display_raw(&url))];
    if let Some(login) = login.filter(|_| c.push) {
        client.check_login(now).map_err(|e| e.to_string())?;
        said.push(format!("the machine {} can push", crate::ip::display_raw(&login)));
    }
    if key.is_some() && c.pull {
        let s = client.stream(true).map_err(|e| e.to_string())?;
        said.push(format!("the bouncer sees {} active decision(s)", s.new.len()));
    }
    said.extend(c.warnings(&url).into_iter().map(|w| format!("warning: {w}")));
    Ok(said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_as_cscli_writes_them() {
        let c = Credentials::parse("url: http://127.0.0.1:18080\nlogin: warden-a\npassword: Warden-test-pw-1")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.url.as_deref(), c.login.as_str(), c.password.expose()),
            (Some("http://127.0.0.1:18080"), "warden-a", "Warden-test-pw-1")
        );
        assert!(Credentials::parse("url: x\nlogin: a\n").unwrap_err().contains("password"));
        let q = Credentials::parse("login: 'a'\npassword: \"p:w\"\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.password.expose(), "p:w");
    }

    #[test]
    fn a_plain_http_lapi_elsewhere_is_warned_about() {
        let c = CrowdsecConfig::default();
        assert!(c.warnings("http://127.0.0.1:8080").is_empty());
        assert!(c.warnings("https://lapi.example.com").is_empty());
        assert!(c.warnings("http://[::1]:8080").is_empty());
        assert_eq!(c.warnings("http://10.0.0.5:8080").len(), 1);
    }
}
