//! The kernel: an nftables table `inet <table>` that Warden owns.
//!
//! Four sets hold what is refused: single addresses (`ban4`, `ban6`) and ranges (`ban4n`,
//! `ban6n`, interval sets). Each element carries its own timeout, so a ban still ends in the
//! kernel when Warden is not running; a permanent one has none. One chain, hooked on input, drops
//! TCP from those sources to the configured ports only (80 and 443 by default; never SSH). In
//! allow-list-only mode two more sets (`allow4`, `allow6`) hold the admitted ranges, loopback
//! always among them, and the chain drops every other source on those ports.
//!
//! The whole table is written in one `nft -f -` batch (add, delete, define: atomic, and the same
//! whether or not the table exists) at the first apply, when the mode changes, and when the table
//! is gone (Debian's `nftables.service` starts with `flush ruleset`). Otherwise only the
//! difference is sent, also as one batch: an element to remove is first added with a short
//! timeout so that the delete never fails on an element whose timeout already ended it.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::command::run;
use super::Sink;
use crate::config::NftEnforce;
use crate::policy::{DenyEntry, Desired};
use crate::time::Timestamp;

/// How long one `nft` run may take.
const LIMIT: Duration = Duration::from_secs(30);
/// Elements per `add element` line.
const CHUNK: usize = 1000;

/// The set an entry goes in.
fn set_of(net: &IpNet) -> &'static str {
    match (net.addr(), net.prefix_len() == net.max_prefix_len()) {
        (IpAddr::V4(_), true) => "ban4",
        (IpAddr::V4(_), false) => "ban4n",
        (IpAddr::V6(_), true) => "ban6",
        (IpAddr::V6(_), false) => "ban6n",
    }
}

/// An element as nft reads it: `addr` or `addr/len`.
fn elem(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// ` timeout Ns` for an entry that ends, rounded up (at least 1 s); nothing for a permanent one.
fn timeout(until: Option<Timestamp>, now: Timestamp) -> String {
    match until {
        None => String::new(),
        Some(t) => {
            let ms = (t - now).num_milliseconds().max(1);
            format!(" timeout {}s", (ms + 999) / 1000)
        }
    }
}

/// The batch that (re)creates the whole table for `desired` at `now`.
pub fn full_script(cfg: &NftEnforce, desired: &Desired, now: Timestamp) -> String {
    let t = &cfg.table;
    let ports = ports(cfg);
    let mut s = format!("add table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n");
    s.push_str("  set ban4 { type ipv4_addr; flags timeout; }\n");
    s.push_str("  set ban6 { type ipv6_addr; flags timeout; }\n");
    s.push_str("  set ban4n { type ipv4_addr; flags interval,timeout; }\n");
    s.push_str("  set ban6n { type ipv6_addr; flags interval,timeout; }\n");
    if desired.allow_only.is_some() {
        s.push_str("  set allow4 { type ipv4_addr; flags interval; }\n");
        s.push_str("  set allow6 { type ipv6_addr; flags interval; }\n");
    }
    s.push_str("  chain input {\n    type filter hook input priority -5; policy accept;\n");
    for (family, set) in [("ip", "ban4"), ("ip", "ban4n"), ("ip6", "ban6"), ("ip6", "ban6n")] {
        s.push_str(&format!("    {family} saddr @{set} tcp dport {ports} drop\n"));
    }
    if desired.allow_only.is_some() {
        s.push_str(&format!("    ip saddr != @allow4 tcp dport {ports} drop\n"));
        s.push_str(&format!("    ip6 saddr != @allow6 tcp dport {ports} drop\n"));
    }
    s.push_str("  }\n}\n");
    let mut by_set: [(&str, Vec<String>); 4] =
        [("ban4", Vec::new()), ("ban4n", Vec::new()), ("ban6", Vec::new()), ("ban6n", Vec::new())];
    for d in &desired.deny {
        let set = set_of(&d.net);
        if let Some((_, v)) = by_set.iter_mut().find(|(n, _)| *n == set) {
            v.push(format!("{}{}", elem(&d.net), timeout(d.until, now)));
        }
    }
    for (set, items) in &by_set {
        add_lines(&mut s, t, set, items);
    }
    if let Some(admitted) = &desired.allow_only {
        let (v4, v6): (Vec<&IpNet>, Vec<&IpNet>) = admitted.iter().partition(|n| n.addr().is_ipv4());
        add_lines(&mut s, t, "allow4", &v4.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        add_lines(&mut s, t, "allow6", &v6.iter().map(|n| n.to_string()).collect::<Vec<_>>());
    }
    s
}

fn add_lines(s: &mut String, table: &str, set: &str, items: &[String]) {
    for chunk in items.chunks(CHUNK) {
        s.push_str(&format!("add element inet {table} {set} {{ {} }}\n", chunk.join(", ")));
    }
}

fn ports(cfg: &NftEnforce) -> String {
    let list: Vec<String> = cfg.ports.iter().map(u16::to_string).collect();
    format!("{{ {} }}", list.join(", "))
}

/// The batch that takes the table from `old` to `new` (same mode), or `None` when nothing changes.
pub fn delta_script(cfg: &NftEnforce, old: &Desired, new: &Desired, now: Timestamp) -> Option<String> {
    let t = &cfg.table;
    let key = |d: &DenyEntry| (d.net, d.until);
    let old_set: std::collections::HashSet<_> = old.deny.iter().map(key).collect();
    let new_set: std::collections::HashSet<_> = new.deny.iter().map(key).collect();
    let mut s = String::new();
    // Removals first: a range that replaces narrower ones must not overlap them when added.
    for d in old.deny.iter().filter(|d| !new_set.contains(&key(d))) {
        let (set, e) = (set_of(&d.net), elem(&d.net));
        s.push_str(&format!(
            "add element inet {t} {set} {{ {e} timeout 1s }}\ndelete element inet {t} {set} {{ {e} }}\n"
        ));
    }
    for d in new.deny.iter().filter(|d| !old_set.contains(&key(d))) {
        let (set, e) = (set_of(&d.net), elem(&d.net));
        s.push_str(&format!("add element inet {t} {set} {{ {e}{} }}\n", timeout(d.until, now)));
    }
    (!s.is_empty()).then_some(s)
}

/// The nftables sink.
#[derive(Debug)]
pub struct NftSink {
    cfg: NftEnforce,
    /// What the table holds, as Warden last wrote it.
    applied: Option<Desired>,
}

impl NftSink {
    /// The sink for `cfg`.
    pub fn new(cfg: NftEnforce) -> Self {
        Self { cfg, applied: None }
    }

    fn nft(&self, script: &str) -> Result<(), String> {
        let mut argv = self.cfg.command.clone();
        argv.extend(["-f".to_string(), "-".to_string()]);
        run(&argv, Some(script.as_bytes()), LIMIT).map(|_| ())
    }

    /// Whether the table exists (`nft list tables`).
    pub fn table_exists(&self) -> Result<bool, String> {
        let mut argv = self.cfg.command.clone();
        argv.extend(["list".to_string(), "tables".to_string()]);
        let out = run(&argv, None, LIMIT)?;
        let want = format!("table inet {}", self.cfg.table);
        Ok(out.lines().any(|l| l.trim() == want))
    }
}

impl Sink for NftSink {
    fn name(&self) -> &'static str {
        "nftables"
    }

    fn apply(&mut self, desired: &Desired, now: Timestamp) -> Result<(), String> {
        match &self.applied {
            Some(old) if old.allow_only == desired.allow_only => {
                if let Some(script) = delta_script(&self.cfg, old, desired, now) {
                    if self.nft(&script).is_err() {
                        // The table may have gone, or an element changed behind Warden's back:
                        // write it whole, once, before giving up.
                        self.applied = None;
                        self.nft(&full_script(&self.cfg, desired, now))
                            .map_err(|e| format!("nft refused the ban list: {e}"))?;
                    }
                }
            }
            _ => {
                self.applied = None;
                self.nft(&full_script(&self.cfg, desired, now))
                    .map_err(|e| format!("nft refused the ban list: {e}"))?;
            }
        }
        self.applied = Some(desired.clone());
        Ok(())
    }

    fn drifted(&mut self) -> bool {
        if self.applied.is_none() {
            return false;
        }
        // A table that cannot even be listed counts as gone: the next apply says why. Gone, it
        // is written whole.
        let gone = !self.table_exists().unwrap_or(false);
        if gone {
            self.applied = None;
        }
        gone
    }

    fn due(&self) -> Option<Instant> {
        None
    }

    fn run_due(&mut self) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_value;

    fn t(s: &str) -> Timestamp {
        crate::time::parse_db_time(s).unwrap()
    }

    fn entry(v: &str, until: Option<Timestamp>) -> DenyEntry {
        DenyEntry { net: parse_value(v).unwrap(), until }
    }

    #[test]
    fn the_full_batch_defines_the_table_and_gives_each_element_its_own_timeout() {
        let now = t("2026-12-04 10:00:00");
        let d = Desired {
            deny: vec![
                entry("203.0.113.7", Some(t("2026-12-04 10:00:04.2"))),
                entry("198.51.100.0/24", None),
                entry("2001:db8::/64", Some(t("2026-12-05 10:00:00"))),
            ],
            allow_only: None,
        };
        let s = full_script(&NftEnforce::default(), &d, now);
        assert!(s.starts_with("add table inet warden\ndelete table inet warden\ntable inet warden {"), "{s}");
        assert!(s.contains("ip saddr @ban4 tcp dport { 80, 443 } drop"), "{s}");
        assert!(s.contains("add element inet warden ban4 { 203.0.113.7 timeout 5s }"), "{s}");
        assert!(s.contains("add element inet warden ban4n { 198.51.100.0/24 }"), "permanent: no timeout: {s}");
        assert!(s.contains("add element inet warden ban6n { 2001:db8::/64 timeout 86400s }"), "{s}");
        assert!(!s.contains("allow4"), "{s}");
        let on = Desired { allow_only: Some(crate::policy::loopback().to_vec()), ..d };
        let s = full_script(&NftEnforce::default(), &on, now);
        assert!(s.contains("ip saddr != @allow4 tcp dport { 80, 443 } drop"), "{s}");
        assert!(s.contains("add element inet warden allow4 { 127.0.0.0/8 }"), "{s}");
        assert!(s.contains("add element inet warden allow6 { ::1/128 }"), "{s}");
    }

    #[test]
    fn the_delta_removes_safely_before_it_adds() {
        let now = t("2026-12-04 10:00:00");
        let old = Desired { deny: vec![entry("203.0.113.7", None), entry("203.0.113.8", None)], allow_only: None };
        let new = Desired {
            deny: vec![entry("203.0.113.0/24", Some(t("2026-12-04 11:00:00"))), entry("203.0.113.8", None)],
            allow_only: None,
        };
        let s = delta_script(&NftEnforce::default(), &old, &new, now).unwrap();
        assert_eq!(
            s,
            "add element inet warden ban4 { 203.0.113.7 timeout 1s }\n\
             delete element inet warden ban4 { 203.0.113.7 }\n\
             add element inet warden ban4n { 203.0.113.0/24 timeout 3600s }\n"
        );
        assert!(delta_script(&NftEnforce::default(), &new, &new.clone(), now).is_none());
    }
}
