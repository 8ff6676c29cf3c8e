//! Access policies and the state every enforcement point converges on.
//!
//! A [`Policy`] allows or denies one address or one range, for a time (`ttl_seconds`) or until it
//! is removed, as the broker platform's "IP addresses" page does. Allow entries join the addresses
//! that are never banned; deny entries are enforced like bans. The allow-list-only mode admits
//! nothing but loopback and the allowed entries.
//!
//! [`Desired`] is the one state that nginx, nftables and OpenAlgo's `logs.db` are brought to: the
//! bans in force and the deny entries, protected addresses taken out, ranges that cover one
//! another merged, and the mode. It is computed here, with no file and no clock, so that the
//! promise "nothing Warden enforces ever refuses loopback or the trader's own addresses" is a
//! property of one pure function.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::ip::{display_raw, ProtectedKind, Protection};
use crate::time::Timestamp;

/// The longest time to live accepted: ten years.
pub const MAX_TTL_SECONDS: u64 = 10 * 365 * 86_400;

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Never banned; admitted in allow-list-only mode.
    Allow,
    /// Refused wherever Warden enforces.
    Deny,
}

impl Access {
    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Allow => "allow",
            Access::Deny => "deny",
        }
    }
}

impl FromStr for Access {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Ok(Access::Allow),
            "deny" => Ok(Access::Deny),
            _ => Err(Error::InvalidPolicy(format!("'{}' is not a policy: use allow or deny", display_raw(s)))),
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One access policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// The address or range, canonical: host bits cleared, a single address as `/32` or `/128`
    /// (shown without the prefix).
    #[serde(serialize_with = "net_text")]
    pub value: IpNet,
    /// Allow or deny.
    pub policy: Access,
    /// How long it was given to live, in seconds; `None` until removed.
    pub ttl_seconds: Option<u64>,
    /// When it disappears; `None` until removed.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub expires_at: Option<Timestamp>,
    /// When it was made.
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
    /// Why, as the trader wrote it.
    pub reason: String,
    /// `cli` or `gui`.
    pub created_by: String,
}

impl Policy {
    /// Whether it is in force at `now`.
    pub fn live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }
}

fn net_text<S: Serializer>(net: &IpNet, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&text(net))
}

fn nets_text<S: Serializer>(nets: &Option<Vec<IpNet>>, s: S) -> std::result::Result<S::Ok, S::Error> {
    nets.as_ref().map(|n| n.iter().map(text).collect::<Vec<_>>()).serialize(s)
}

/// A range as Warden writes it: a single address without its prefix, a range as `addr/len`.
pub fn text(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// Parses a policy's value: an IPv4 or IPv6 address or a CIDR range, in canonical form (host bits
/// cleared, an IPv4-mapped IPv6 address as IPv4). `/0` and garbage are refused with the reason.
pub fn parse_value(raw: &str) -> Result<IpNet> {
    let s = raw.trim();
    let bad = || {
        Error::InvalidPolicy(format!(
            "'{}' is not an IP address or a CIDR range: give one such as 203.0.113.7, 203.0.113.0/24 or 2001:db8::/64",
            display_raw(raw)
        ))
    };
    let net = match s.split_once('/') {
        Some((addr, len)) => {
            let ip = crate::ip::canonicalize(addr).map_err(|_| bad())?;
            let len: u8 = len.trim().parse().map_err(|_| bad())?;
            // A mapped IPv6 range (::ffff:a.b.c.d/len) is the IPv4 range it maps.
            let (ip, len) = match (addr.trim().contains(':'), ip) {
                (true, IpAddr::V4(_)) if len >= 96 => (ip, len - 96),
                (true, IpAddr::V4(_)) => return Err(bad()),
                _ => (ip, len),
            };
            IpNet::new(ip, len).map_err(|_| bad())?.trunc()
        }
        None => IpNet::from(crate::ip::canonicalize(s).map_err(|_| bad())?),
    };
    if net.prefix_len() == 0 {
        return Err(Error::InvalidPolicy(format!(
            "'{}' covers every address: give a single address or a narrower range",
            display_raw(raw)
        )));
    }
    Ok(net)
}

/// Parses a time to live: seconds (`3600`), or a number with `s`, `m`, `h`, `d` or `w` (`30m`,
/// `24h`, `7d`). Zero, negative and over ten years are refused.
pub fn parse_ttl(raw: &str) -> Result<u64> {
    let t = raw.trim().to_ascii_lowercase();
    let bad = |why: &str| Error::InvalidPolicy(format!("'{}' is not a time to live: {why}", display_raw(raw)));
    if t.starts_with('-') {
        return Err(bad("it is negative; give seconds or 30m, 24h, 7d"));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad("give seconds or 30m, 24h, 7d"))?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad("the unit must be s, m, h, d or w")),
    };
    let secs = n.checked_mul(mult).ok_or_else(|| bad("it is far too long; at most ten years"))?;
    if secs == 0 {
        return Err(bad("it is zero; leave --ttl out for an entry that stays until removed"));
    }
    if secs > MAX_TTL_SECONDS {
        return Err(bad("it is longer than ten years; leave --ttl out for an entry that stays until removed"));
    }
    Ok(secs)
}

/// Why a range must not be denied: it holds or touches an address that is never banned.
pub fn deny_refusal(net: &IpNet, protection: &Protection) -> Option<ProtectedKind> {
    protection.covers(net)
}

/// One range to refuse, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DenyEntry {
    /// The range (a single address as `/32` or `/128`).
    #[serde(serialize_with = "net_text")]
    pub net: IpNet,
    /// When it ends; `None` for never.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub until: Option<Timestamp>,
}

/// Something that was asked for but is not enforced, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The range.
    #[serde(serialize_with = "net_text")]
    pub net: IpNet,
    /// Why it is left out.
    pub why: String,
}

/// The state every enforcement point is brought to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Desired {
    /// Ranges and addresses refused, sorted, none covered by another.
    pub deny: Vec<DenyEntry>,
    /// In allow-list-only mode, the only ranges admitted (loopback, the allow entries and the
    /// addresses the trader is using), sorted; `None` when the mode is off.
    #[serde(serialize_with = "nets_text")]
    pub allow_only: Option<Vec<IpNet>>,
}

/// The loopback ranges, always admitted.
pub fn loopback() -> [IpNet; 2] {
    [IpNet::from_str("127.0.0.0/8").expect("valid"), IpNet::from_str("::1/128").expect("valid")]
}

impl Desired {
    /// The desired state at `now` from the bans in force (canonical address and end), the
    /// policies and the mode. Nothing `protection` covers is ever in `deny`: such entries are
    /// returned as skipped, with the reason. Expired entries are dropped. A range covered by a
    /// wider one is dropped (it comes back when the wider one ends, when this is computed again).
    pub fn build(
        bans: impl IntoIterator<Item = (IpAddr, Option<Timestamp>)>,
        policies: &[Policy],
        allow_only: bool,
        protection: &Protection,
        now: Timestamp,
    ) -> (Desired, Vec<Skipped>) {
        // The live allow entries are never refused, whoever built `protection`.
        let protection = protection.clone().with_policy_allow(allow_nets(policies, now));
        let mut wanted: Vec<DenyEntry> = Vec::new();
        let mut skipped = Vec::new();
        let live = |until: Option<Timestamp>| until.is_none_or(|t| now < t);
        let asked = bans
            .into_iter()
            .filter(|(_, until)| live(*until))
            .map(|(ip, until)| (IpNet::from(unmap(ip)), until))
            .chain(
                policies.iter().filter(|p| p.policy == Access::Deny && p.live(now)).map(|p| (p.value, p.expires_at)),
            );
        for (net, until) in asked {
            match protection.covers(&net) {
                Some(why) => skipped.push(Skipped { net, why: why.to_string() }),
                None => wanted.push(DenyEntry { net, until }),
            }
        }
        // Widest first, then the longest-lasting for the same range, so that covered entries
        // meet their cover first.
        wanted.sort_by(|a, b| {
            a.net.prefix_len().cmp(&b.net.prefix_len()).then(a.net.cmp(&b.net)).then(later_first(a.until, b.until))
        });
        // A range is covered when one of its supernets, at a prefix length already taken, was
        // taken: one set lookup per length in use, so 100 000 bans cost 100 000 lookups, not
        // 100 000 squared comparisons.
        let mut taken: std::collections::HashSet<IpNet> = std::collections::HashSet::with_capacity(wanted.len());
        let mut lengths: std::collections::BTreeSet<(bool, u8)> = std::collections::BTreeSet::new();
        let mut deny: Vec<DenyEntry> = Vec::with_capacity(wanted.len());
        for e in wanted {
            let v4 = e.net.addr().is_ipv4();
            let covered = lengths
                .range((v4, 0)..=(v4, e.net.prefix_len()))
                .any(|&(_, len)| IpNet::new(e.net.addr(), len).is_ok_and(|n| taken.contains(&n.trunc())));
            if !covered {
                taken.insert(e.net);
                lengths.insert((v4, e.net.prefix_len()));
                deny.push(e);
            }
        }
        deny.sort_by_key(|d| d.net);
        let allow_only = allow_only.then(|| {
            // Loopback, the allow entries, and the addresses the trader is using now: the mode
            // must never lock the trader out.
            let mut nets: Vec<IpNet> = loopback().to_vec();
            nets.extend(protection.allow_entries().copied());
            nets.extend(protection.own().iter().map(|o| IpNet::from(unmap(o.ip))));
            nets.sort();
            nets.dedup();
            // An address inside an admitted range says nothing more (127.0.0.1 in 127.0.0.0/8).
            let all = nets.clone();
            nets.retain(|n| !all.iter().any(|m| m != n && m.contains(n)));
            nets
        });
        (Desired { deny, allow_only }, skipped)
    }

    /// When this state next changes by itself: the earliest end of an entry.
    pub fn next_change(&self) -> Option<Timestamp> {
        self.deny.iter().filter_map(|d| d.until).min()
    }
}

/// The allow entries of `policies` in force at `now`.
pub fn allow_nets(policies: &[Policy], now: Timestamp) -> Vec<IpNet> {
    policies.iter().filter(|p| p.policy == Access::Allow && p.live(now)).map(|p| p.value).collect()
}

fn later_first(a: Option<Timestamp>, b: Option<Timestamp>) -> std::cmp::Ordering {
    match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => y.cmp(&x),
    }
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        crate::time::parse_db_time(s).expect("time")
    }

    #[test]
    fn values_are_canonical_and_bad_ones_say_why() {
        let v = |s| parse_value(s).map(|n| text(&n)).unwrap_or_else(|e| format!("ERR {e}"));
        assert_eq!(v("203.0.113.7"), "203.0.113.7");
        assert_eq!(v(" 203.0.113.77/24 "), "203.0.113.0/24");
        assert_eq!(v("2001:DB8::5/64"), "2001:db8::/64");
        assert_eq!(v("::ffff:198.51.100.9"), "198.51.100.9");
        assert_eq!(v("::ffff:198.51.100.9/120"), "198.51.100.0/24");
        assert_eq!(v("198.51.100.9/32"), "198.51.100.9");
        assert!(v("0.0.0.0/0").contains("covers every address"), "{}", v("0.0.0.0/0"));
        assert!(v("::/0").contains("covers every address"));
        for bad in ["203.0.113.0/33", "2001:db8::/129", "999.1.1.1", "10.0.0.0/x", "", "a/8", "1.2.3.4/-1"] {
            assert!(
                v(bad).starts_with("ERR") && v(bad).contains("is not an IP address or a CIDR"),
                "{bad}: {}",
                v(bad)
            );
        }
    }

    #[test]
    fn ttls_take_seconds_and_units_and_refuse_zero_negative_and_absurd() {
        assert_eq!(parse_ttl("3600").unwrap(), 3600);
        assert_eq!(parse_ttl("30m").unwrap(), 1800);
        assert_eq!(parse_ttl("24h").unwrap(), 86_400);
        assert_eq!(parse_ttl("7d").unwrap(), 604_800);
        assert_eq!(parse_ttl("2w").unwrap(), 1_209_600);
        for (bad, why) in [
            ("0", "zero"),
            ("0h", "zero"),
            ("-5", "negative"),
            ("-1h", "negative"),
            ("11000d", "ten years"),
            ("99999999999999999999", "give seconds"),
            ("184467440737095516w", "far too long"),
            ("5y", "unit"),
            ("", "give seconds"),
        ] {
            let e = parse_ttl(bad).expect_err(bad).to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    fn policy(value: &str, access: Access, until: Option<Timestamp>) -> Policy {
        Policy {
            value: parse_value(value).unwrap(),
            policy: access,
            ttl_seconds: None,
            expires_at: until,
            created_at: t("2026-12-01 00:00:00"),
            reason: String::new(),
            created_by: "cli".into(),
        }
    }

    #[test]
    fn the_desired_state_merges_covered_entries_drops_expired_ones_and_never_holds_protected_addresses() {
        let now = t("2026-12-04 10:00:00");
        let protection = Protection::new(&["198.51.100.7".to_string()]).unwrap();
        let bans = vec![
            ("203.0.113.5".parse().unwrap(), Some(t("2026-12-05 10:00:00"))),
            ("203.0.113.6".parse().unwrap(), Some(t("2026-12-03 10:00:00"))), // over
            ("10.0.0.8".parse().unwrap(), None),                              // private
            ("198.51.100.7".parse().unwrap(), None),                          // allowed
            ("::ffff:192.0.2.44".parse().unwrap(), None),
        ];
        let policies = vec![
            policy("203.0.113.0/24", Access::Deny, Some(t("2026-12-04 12:00:00"))),
            policy("198.51.100.0/24", Access::Deny, None), // holds the allowed address
            policy("2001:db8::/64", Access::Deny, None),
            policy("2001:db8::/48", Access::Deny, Some(t("2026-12-04 09:00:00"))), // over
            policy("192.0.2.0/24", Access::Allow, None),
        ];
        let (d, skipped) = Desired::build(bans, &policies, false, &protection, now);
        let deny: Vec<String> = d.deny.iter().map(|e| text(&e.net)).collect();
        assert_eq!(deny, ["203.0.113.0/24", "2001:db8::/64"]);
        assert_eq!(d.next_change(), Some(t("2026-12-04 12:00:00")));
        let skipped: Vec<String> = skipped.iter().map(|s| text(&s.net)).collect();
        assert_eq!(skipped, ["10.0.0.8", "198.51.100.7", "192.0.2.44", "198.51.100.0/24"]);
        assert_eq!(d.allow_only, None);
        let (d, _) = Desired::build(Vec::new(), &policies, true, &protection, now);
        let admitted: Vec<String> = d.allow_only.unwrap().iter().map(text).collect();
        assert_eq!(admitted, ["127.0.0.0/8", "192.0.2.0/24", "198.51.100.7", "::1"]);
    }
}
