//! Enforcement, as a property: no sequence of bans, policies, mode changes and changes of the
//! trader's own addresses ever makes nginx's file or the nft table refuse loopback, the trader's
//! own addresses, or the allow entries: checked on the text each sink is given, read back as
//! nginx and nftables would match it.

use std::net::IpAddr;

use ipnet::IpNet;
use proptest::prelude::*;
use warden::config::NftEnforce;
use warden::ip::{OwnAddress, Protection};
use warden::policy::{Access, Desired, Policy};

/// nginx's `geo`: the longest matching range's value, else the default.
fn geo_refuses(text: &str, ip: IpAddr) -> bool {
    let mut default = "0".to_string();
    let mut best: Option<(u8, String)> = None;
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (key, value) = line.trim_end_matches(';').split_once(' ').expect("two words");
        if key == "default" {
            default = value.to_string();
            continue;
        }
        let net: IpNet = key.parse().expect("a range");
        if net.contains(&ip) && best.as_ref().is_none_or(|(len, _)| net.prefix_len() > *len) {
            best = Some((net.prefix_len(), value.to_string()));
        }
    }
    best.map_or(default, |(_, v)| v) == "1"
}

/// nftables: in a ban set of its family, or (allow-only) not in the allow set.
fn nft_refuses(script: &str, ip: IpAddr) -> bool {
    let mut sets: std::collections::HashMap<&str, Vec<IpNet>> = Default::default();
    for line in script.lines().filter(|l| l.starts_with("add element")) {
        let mut words = line.split_whitespace();
        let set = words.nth(4).expect("set");
        let inner = &line[line.find('{').unwrap() + 1..line.rfind('}').unwrap()];
        for e in inner.split(',') {
            let e = e.trim().split(" timeout").next().unwrap();
            let net: IpNet = e.parse().or_else(|_| e.parse::<IpAddr>().map(IpNet::from)).expect("element");
            sets.entry(set).or_default().push(net);
        }
    }
    let has = |set: &str| sets.get(set).is_some_and(|v| v.iter().any(|n| n.contains(&ip)));
    let (bans, allow) = if ip.is_ipv4() { (["ban4", "ban4n"], "allow4") } else { (["ban6", "ban6n"], "allow6") };
    let allow_only = script.contains("saddr != @allow4");
    bans.iter().any(|s| has(s)) || (allow_only && !has(allow))
}

const POOL: [&str; 12] = [
    "127.0.0.1",
    "::1",
    "10.1.2.3",
    "192.168.1.20",
    "203.0.113.50",
    "203.0.113.51",
    "198.51.100.7",
    "198.51.100.200",
    "2001:db8::50",
    "2001:db8::99",
    "::ffff:203.0.113.50",
    "100.64.0.9",
];

#[derive(Debug, Clone)]
enum Op {
    Ban(usize, bool),
    Policy(Access, usize, u8),
    Mode(bool),
    Own(Vec<usize>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..POOL.len(), any::<bool>()).prop_map(|(i, perm)| Op::Ban(i, perm)),
        (prop_oneof![Just(Access::Allow), Just(Access::Deny)], 0..POOL.len(), 0u8..=128)
            .prop_map(|(a, i, len)| Op::Policy(a, i, len)),
        any::<bool>().prop_map(Op::Mode),
        proptest::collection::vec(0..POOL.len(), 0..3).prop_map(Op::Own),
    ]
}

fn net(i: usize, len: u8) -> Option<IpNet> {
    let ip: IpAddr = warden::ip::canonicalize(POOL[i]).ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    IpNet::new(ip, 1 + len % max).ok().map(|n| n.trunc())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]
    #[test]
    fn no_sequence_makes_a_sink_refuse_loopback_the_traders_addresses_or_the_allowed(
        ops in proptest::collection::vec(op(), 1..25)
    ) {
        let now = warden::time::parse_db_time("2026-12-04 10:00:00").unwrap();
        let mut bans: Vec<(IpAddr, Option<warden::time::Timestamp>)> = Vec::new();
        let mut policies: Vec<Policy> = Vec::new();
        let mut allow_only = false;
        let mut own: Vec<IpAddr> = Vec::new();
        let config_allow = vec!["198.51.100.7".to_string()];
        for op in ops {
            match op {
                Op::Ban(i, perm) => {
                    let ip = warden::ip::canonicalize(POOL[i]).unwrap();
                    bans.push((ip, (!perm).then(|| now + chrono::Duration::hours(1))));
                }
                Op::Policy(access, i, len) => {
                    if let Some(value) = net(i, len).filter(|n| n.prefix_len() > 0) {
                        policies.retain(|p| p.value != value);
                        policies.push(Policy {
                            value, policy: access, ttl_seconds: None, expires_at: None, created_at: now,
                            reason: String::new(), created_by: "cli".into(),
                        });
                    }
                }
                Op::Mode(on) => allow_only = on,
                Op::Own(list) => own = list.iter().map(|&i| warden::ip::canonicalize(POOL[i]).unwrap()).collect(),
            }
            let protection = Protection::new(&config_allow).unwrap()
                .with_own(own.iter().map(|&ip| OwnAddress { ip, why: "test".into() }).collect());
            let (desired, _) = Desired::build(bans.clone(), &policies, allow_only, &protection, now);
            let geo = warden::enforce::nginx::render(&desired);
            let nft = warden::enforce::nft::full_script(&NftEnforce::default(), &desired, now);
            let allowed: Vec<IpAddr> = policies.iter().filter(|p| p.policy == Access::Allow).map(|p| p.value.addr()).collect();
            let mut probes: Vec<IpAddr> = ["127.0.0.1", "127.9.9.9", "::1", "198.51.100.7"].iter().map(|s| s.parse().unwrap()).collect();
            probes.extend(own.iter().copied());
            probes.extend(allowed);
            for ip in probes {
                prop_assert!(!geo_refuses(&geo, ip), "nginx refuses {} with\n{}", ip, geo);
                prop_assert!(!nft_refuses(&nft, ip), "nft refuses {} with\n{}", ip, nft);
            }
        }
    }
}
