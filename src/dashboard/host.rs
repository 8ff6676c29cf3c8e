//! Banning by host or domain.
//!
//! The name is resolved through DNS, and the Host header of recorded traffic is matched exactly
//! (port ignored, case ignored). The app shows the distinct addresses first, and the trader
//! confirms which ones to ban; each gets one ban. OpenAlgo's own host ban makes one ban per
//! traffic row, which escalates a client to permanent after three rows (spec §5.9): not copied.

use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};

use serde::Serialize;

use super::{parse_duration, traffic, Desk, DeskError, DeskResult};
use crate::actions::{self, BanOutcome};
use crate::ip::{canonicalize, display_raw};
use crate::store::state::Actor;
use crate::store::LogsDb;
use crate::time::Timestamp;

/// One address a host ban would cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostCandidate {
    /// The canonical address.
    pub ip: String,
    /// `dns`, `traffic`, or both.
    pub from: Vec<&'static str>,
    /// Why it will be skipped (protected), or `None`.
    pub protected: Option<String>,
}

/// What a host ban would cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostPreview {
    /// The host, normalized.
    pub host: String,
    /// Distinct addresses.
    pub candidates: Vec<HostCandidate>,
    /// Why DNS gave nothing, if it failed.
    pub dns_error: Option<String>,
}

/// One address a host ban did not ban, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The address as given.
    pub ip: String,
    /// Why.
    pub why: String,
}

/// What a host ban did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostBanResult {
    /// One per address banned.
    pub banned: Vec<BanOutcome>,
    /// The rest.
    pub skipped: Vec<Skipped>,
}

/// Checks a host name the way a resolver would accept it: letters, digits, hyphens and dots,
/// labels of 1 to 63, at most 253 in all. Returns it in lower case without a trailing dot.
pub fn normalize_host(raw: &str) -> DeskResult<String> {
    let h = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(h)
    } else {
        Err(DeskError::invalid(format!(
            "'{}' is not a host name: use letters, digits, hyphens and dots, such as scanner.example.com",
            display_raw(raw)
        )))
    }
}

fn host_matches(header: &str, host: &str) -> bool {
    // The Host header may carry a port, and IPv6 literals come in brackets.
    let h = header.trim();
    let name = match h.rsplit_once(':') {
        Some((n, port)) if !n.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => h,
    };
    name.trim_end_matches('.').eq_ignore_ascii_case(host)
}

impl Desk {
    /// The distinct addresses a ban of `raw` would cover, each with where it came from.
    pub fn host_preview(&self, raw: &str) -> DeskResult<HostPreview> {
        if let Ok(ip) = canonicalize(raw) {
            let protected = self.protection()?.check(ip).map(|k| k.to_string());
            return Ok(HostPreview {
                host: ip.to_string(),
                candidates: vec![HostCandidate { ip: ip.to_string(), from: vec!["typed"], protected }],
                dns_error: None,
            });
        }
        let host = normalize_host(raw)?;
        let mut found: BTreeMap<IpAddr, Vec<&'static str>> = BTreeMap::new();
        let dns_error = match (host.as_str(), 0u16).to_socket_addrs() {
            Ok(addrs) => {
                for a in addrs {
                    let ip = canonicalize(&a.ip().to_string())?;
                    let from = found.entry(ip).or_default();
                    if !from.contains(&"dns") {
                        from.push("dns");
                    }
                }
                None
            }
            Err(e) => Some(format!("{host}: {e}")),
        };
        let mut from_traffic = Vec::new();
        if let Ok(logs) = LogsDb::open(&self.paths.logs_db) {
            from_traffic.extend(logs.ips_for_host(&host)?);
        }
        for (path, format) in &self.paths.access_logs {
            for line in traffic::access_tail(path, format, traffic::TAIL_BYTES) {
                if line.host.as_deref().is_some_and(|h| host_matches(h, &host)) {
                    from_traffic.push(line.ip);
                }
            }
        }
        for raw_ip in from_traffic {
            // Non-IP strings in traffic cannot be banned meaningfully; leave them out.
            let Ok(ip) = canonicalize(&raw_ip) else { continue };
            let from = found.entry(ip).or_default();
            if !from.contains(&"traffic") {
                from.push("traffic");
            }
        }
        let protection = self.protection()?;
        let candidates = found
            .into_iter()
            .map(|(ip, from)| HostCandidate {
                ip: ip.to_string(),
                from,
                protected: protection.check(ip).map(|k| k.to_string()),
            })
            .collect();
        Ok(HostPreview { host, candidates, dns_error })
    }

    /// Bans each of `ips` (the ones the trader confirmed) once, with the reason
    /// `Host ban: <host> - <reason>`. Protected, invalid and already-banned addresses are skipped,
    /// each with the reason.
    pub fn ban_host(
        &self,
        host: &str,
        reason: &str,
        duration: &str,
        ips: &[String],
        now: Timestamp,
    ) -> DeskResult<HostBanResult> {
        let host = match canonicalize(host) {
            Ok(ip) => ip.to_string(),
            Err(_) => normalize_host(host)?,
        };
        let length = parse_duration(duration)?;
        if ips.is_empty() {
            return Err(DeskError::invalid("choose at least one address to ban"));
        }
        let reason = match reason.trim() {
            "" => format!("Host ban: {host}"),
            r => format!("Host ban: {host} - {r}"),
        };
        let protection = self.protection()?;
        let mut logs = self.logs()?;
        let state = self.state()?;
        let mut seen = std::collections::HashSet::new();
        let mut result = HostBanResult { banned: Vec::new(), skipped: Vec::new() };
        for raw in ips {
            let ip = match canonicalize(raw) {
                Ok(ip) => ip,
                Err(e) => {
                    result.skipped.push(Skipped { ip: display_raw(raw), why: e.to_string() });
                    continue;
                }
            };
            if !seen.insert(ip) {
                continue;
            }
            match actions::ban(&mut logs, &state, &protection, &ip.to_string(), length, Some(&reason), Actor::Gui, now)
            {
                Ok(done) => result.banned.push(done),
                Err(e) => result.skipped.push(Skipped { ip: ip.to_string(), why: e.to_string() }),
            }
        }
        Ok(result)
    }
}
