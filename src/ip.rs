//! IP addresses as Warden sees them: one canonical form, and the addresses that are never banned.
//!
//! OpenAlgo stores the raw string it resolved (`2001:DB8::BAD:1`, `::ffff:127.0.0.1`, even
//! `not-an-ip`) and protects only three literal strings. Warden instead parses every address,
//! unmaps `::ffff:` forms and compresses IPv6 to lower case, so one client is one key whatever
//! spelling reached the database, and it refuses to ban whole classes of addresses whose ban would
//! lock the trader out (the proxy, the Docker gateway, the LAN).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::Serialize;

use crate::error::{Error, Result};

/// Longest raw string Warden tries to parse; anything longer is not an address.
const MAX_RAW_LEN: usize = 64;

/// A canonical address as one 128-bit integer, cheap to copy, hash and compare in the access-log
/// loop: an IPv6 address's bits, or an IPv4 address in its IPv4-mapped form (`::ffff:a.b.c.d`),
/// which [`canonicalize`] never returns as IPv6, so the two kinds never collide. Two words rather
/// than a `u128`, so that it has a `u64`'s alignment and pads no struct it sits in. The default
/// is the key of `::`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct IpKey([u64; 2]);

impl IpKey {
    /// The key of a canonical address.
    #[inline]
    pub fn of(ip: IpAddr) -> Self {
        let bits = match ip {
            IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => u128::from(v6),
        };
        Self([bits as u64, (bits >> 64) as u64])
    }

    /// The key of [`IpKey::bits`].
    #[inline]
    pub fn from_bits(bits: u128) -> Self {
        Self([bits as u64, (bits >> 64) as u64])
    }

    /// The key as one integer (to hash, or to key a map).
    #[inline]
    pub fn bits(self) -> u128 {
        u128::from(self.0[0]) | (u128::from(self.0[1]) << 64)
    }

    /// The address back: exactly the one [`IpKey::of`] was given, if that was canonical.
    #[inline]
    pub fn ip(self) -> IpAddr {
        let v6 = Ipv6Addr::from(self.bits());
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    }
}

/// Parses a raw address string into its canonical [`IpAddr`].
///
/// Accepts surrounding whitespace, `[v6]` brackets and a `%zone` suffix, and unmaps
/// `::ffff:a.b.c.d` to IPv4. Rejects everything else (empty strings, host names, ports, CIDRs).
pub fn canonicalize(raw: &str) -> Result<IpAddr> {
    if let Some(v4) = fast_ipv4(raw.as_bytes()) {
        return Ok(IpAddr::V4(v4));
    }
    if let Some(v6) = fast_ipv6(raw.as_bytes()) {
        return Ok(match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        });
    }
    let invalid = || Error::InvalidIp { raw: display_raw(raw) };
    let s = raw.trim();
    if s.is_empty() || s.len() > MAX_RAW_LEN {
        return Err(invalid());
    }
    let s = s.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(s);
    let s = match s.split_once('%') {
        Some((addr, zone)) if addr.contains(':') && !zone.is_empty() => addr,
        Some(_) => return Err(invalid()),
        None => s,
    };
    let ip: IpAddr = s.parse().map_err(|_| invalid())?;
    Ok(match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    })
}

/// [`canonicalize`] for bytes straight from a log line: the quick parsers first, the full one
/// (after a UTF-8 check) for anything unusual.
pub fn canonicalize_bytes(raw: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = fast_ipv4(raw) {
        return Some(IpAddr::V4(v4));
    }
    if let Some(v6) = fast_ipv6(raw) {
        return Some(match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        });
    }
    std::str::from_utf8(raw).ok().and_then(|s| canonicalize(s).ok())
}

/// A dotted quad (no leading zeros, as every web server logs it) at the start of `b`: the
/// address and how many bytes it took. The quick path of the access-log hot loop; anything it
/// does not take goes through the full parser.
#[inline]
fn ipv4_prefix(b: &[u8]) -> Option<(Ipv4Addr, usize)> {
    // A 16-byte window, zero-padded (a zero is neither a digit nor a dot): a dotted quad and the
    // byte after it fit, every index below is in range, and the loop has no bounds checks.
    let w: [u8; 16] = match b.first_chunk::<16>() {
        Some(w) => *w,
        None => {
            let mut w = [0u8; 16];
            w[..b.len()].copy_from_slice(b);
            w
        }
    };
    let digit = |i: usize| w[i & 15].wrapping_sub(b'0');
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        // `i` is at most 12 here (three octets of three digits and three dots), so `i + 2`
        // never wraps the mask.
        let (d0, d1, d2) = (digit(i), digit(i + 1), digit(i + 2));
        if d0 > 9 {
            return None;
        }
        let (v, len) = if d1 > 9 {
            (u32::from(d0), 1)
        } else if d0 == 0 {
            return None; // a leading zero: the full parser refuses it too
        } else if d2 > 9 {
            (u32::from(d0) * 10 + u32::from(d1), 2)
        } else {
            (u32::from(d0) * 100 + u32::from(d1) * 10 + u32::from(d2), 3)
        };
        *octet = u8::try_from(v).ok()?;
        i += len;
        if k < 3 {
            if w[i & 15] != b'.' {
                return None;
            }
            i += 1;
        }
    }
    Some((Ipv4Addr::from(octets), i))
}

/// `b` is exactly a dotted quad.
#[inline]
fn fast_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    ipv4_prefix(b).filter(|(_, len)| *len == b.len()).map(|(ip, _)| ip)
}

/// The quick IPv4 parser alone, for callers that keep their own cache for the other forms.
#[inline]
pub fn quick_ipv4(raw: &[u8]) -> Option<IpAddr> {
    fast_ipv4(raw).map(IpAddr::V4)
}

/// Hex digit values, 0xff for anything else: one load per character in the hot loop.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

fn hex(c: u8) -> Option<u32> {
    match HEX[usize::from(c)] {
        0xff => None,
        v => Some(u32::from(v)),
    }
}

/// Plain IPv6 (hex groups, at most one `::`, no embedded IPv4, no zone): the quick path for
/// the hot loop. Anything else returns `None` and goes through the full parser.
fn fast_ipv6(b: &[u8]) -> Option<Ipv6Addr> {
    if b.len() < 2 || b.len() > 39 {
        return None;
    }
    let (mut head, mut tail) = ([0u16; 8], [0u16; 8]);
    let (mut nh, mut nt) = (0usize, 0usize);
    let mut gap = false;
    let mut i = 0;
    if b.starts_with(b"::") {
        gap = true;
        i = 2;
        if i == b.len() {
            return Some(Ipv6Addr::UNSPECIFIED);
        }
    }
    loop {
        let (mut v, mut d) = (0u32, 0);
        while i < b.len() && d < 5 {
            match hex(b[i]) {
                Some(h) => {
                    v = v * 16 + h;
                    d += 1;
                    i += 1;
                }
                None => break,
            }
        }
        if d == 0 || d > 4 {
            return None;
        }
        let (groups, n) = if gap { (&mut tail, &mut nt) } else { (&mut head, &mut nh) };
        if *n == 8 {
            return None;
        }
        groups[*n] = v as u16;
        *n += 1;
        if i == b.len() {
            break;
        }
        if b[i] != b':' {
            return None;
        }
        i += 1;
        if i < b.len() && b[i] == b':' {
            if gap {
                return None;
            }
            gap = true;
            i += 1;
            if i == b.len() {
                break;
            }
        } else if i == b.len() {
            return None;
        }
    }
    let total = nh + nt;
    if (gap && total > 7) || (!gap && total != 8) {
        return None;
    }
    let mut segs = [0u16; 8];
    segs[..nh].copy_from_slice(&head[..nh]);
    segs[8 - nt..].copy_from_slice(&tail[..nt]);
    Some(Ipv6Addr::from(segs))
}

/// A raw string made safe to show in one line of a message: control characters escaped and the
/// length capped, so an attacker-chosen "IP" cannot forge log lines or flood a terminal.
pub fn display_raw(raw: &str) -> String {
    const CAP: usize = 80;
    let mut out: String = raw.chars().take(CAP).flat_map(char::escape_debug).collect();
    if raw.chars().count() > CAP {
        out.push('…');
    }
    out
}

/// Why an address is never banned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtectedKind {
    /// 127.0.0.0/8 or ::1: the machine itself, and nginx talking to OpenAlgo.
    Loopback,
    /// RFC 1918 private IPv4: the LAN, Docker bridges and gateways.
    Private,
    /// 169.254.0.0/16 or fe80::/10.
    LinkLocal,
    /// 100.64.0.0/10, carrier-grade NAT: many customers behind one address.
    Cgnat,
    /// fc00::/7, IPv6 unique-local.
    UniqueLocal,
    /// 0.0.0.0/8, ::, broadcast and multicast: never a real client.
    NotAClient,
    /// On the configured allow-list; the entry is given.
    AllowList(String),
    /// An address the trader is using (an [`OwnAddress`]); how Warden knows is given.
    Yours(String),
}

impl fmt::Display for ProtectedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Loopback => f.write_str("a loopback address (this machine)"),
            Self::Private => f.write_str("a private network address (LAN, Docker or the proxy)"),
            Self::LinkLocal => f.write_str("a link-local address"),
            Self::Cgnat => f.write_str("a carrier-grade NAT address shared by many users"),
            Self::UniqueLocal => f.write_str("an IPv6 unique-local (private) address"),
            Self::NotAClient => f.write_str("not a client address (unspecified, broadcast or multicast)"),
            Self::AllowList(entry) => write!(f, "on your allow-list ({entry})"),
            Self::Yours(why) => write!(f, "an address you use: {why}"),
        }
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<ProtectedKind> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some(ProtectedKind::Loopback)
    } else if ip.is_private() {
        Some(ProtectedKind::Private)
    } else if ip.is_link_local() {
        Some(ProtectedKind::LinkLocal)
    } else if o[0] == 100 && (o[1] & 0xC0) == 64 {
        Some(ProtectedKind::Cgnat)
    } else if o[0] == 0 || ip.is_broadcast() || ip.is_multicast() {
        Some(ProtectedKind::NotAClient)
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<ProtectedKind> {
    let seg = ip.segments();
    if ip.is_loopback() {
        Some(ProtectedKind::Loopback)
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some(ProtectedKind::NotAClient)
    } else if (seg[0] & 0xffc0) == 0xfe80 {
        Some(ProtectedKind::LinkLocal)
    } else if (seg[0] & 0xfe00) == 0xfc00 {
        Some(ProtectedKind::UniqueLocal)
    } else if let Some(v4) = ip.to_ipv4_mapped() {
        v4_kind(v4)
    } else if seg[..6].iter().all(|&s| s == 0) {
        // NOTE: deprecated IPv4-compatible form (::a.b.c.d) – judge the embedded IPv4.
        v4_kind(Ipv4Addr::from(u128::from(ip) as u32))
    } else {
        None
    }
}

/// An address the trader is using, and how Warden knows. The sources find them (sign-ins, SSH
/// sessions, this machine's own interfaces); [`Protection`] never bans them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnAddress {
    /// The canonical address.
    pub ip: IpAddr,
    /// Where it was seen, in words: "you signed in to OpenAlgo from it on 2026-11-21 09:14 IST".
    pub why: String,
}

/// The addresses Warden never bans: built-in ranges plus the user's allow-list.
#[derive(Debug, Clone, Default)]
pub struct Protection {
    allow: Vec<IpNet>,
    /// The allow entries of the access policies (replaced as the policies change).
    policy_allow: Vec<IpNet>,
    /// The trader's own addresses, with how Warden knows each (refreshed while running).
    own: Vec<OwnAddress>,
}

impl Protection {
    /// Builds the protection from allow-list entries (IPs or CIDRs), refusing any that do not parse.
    pub fn new(allow: &[String]) -> Result<Self> {
        let allow = allow.iter().map(|entry| parse_net(entry)).collect::<Result<Vec<_>>>()?;
        Ok(Self { allow, policy_allow: Vec::new(), own: Vec::new() })
    }

    /// This protection, also covering the trader's own addresses.
    pub fn with_own(mut self, own: Vec<OwnAddress>) -> Self {
        self.own = own;
        self
    }

    /// Replaces the trader's own addresses (they change as the trader signs in from elsewhere).
    pub fn set_own(&mut self, own: Vec<OwnAddress>) {
        self.own = own;
    }

    /// The trader's own addresses.
    pub fn own(&self) -> &[OwnAddress] {
        &self.own
    }

    /// Replaces the access policies' allow entries.
    pub fn set_policy_allow(&mut self, nets: impl IntoIterator<Item = IpNet>) {
        self.policy_allow = nets.into_iter().collect();
    }

    /// This protection, also covering the access policies' allow entries.
    pub fn with_policy_allow(mut self, nets: impl IntoIterator<Item = IpNet>) -> Self {
        self.set_policy_allow(nets);
        self
    }

    /// The allow-list entries: the configured ones, then the access policies'.
    pub fn allow_entries(&self) -> impl Iterator<Item = &IpNet> + '_ {
        self.allow.iter().chain(self.policy_allow.iter())
    }

    /// Why a range must never be refused as a whole: it holds, or overlaps, an address or range
    /// that is never banned (loopback, private and the other built-in ranges, an allow-list entry,
    /// an address the trader uses). `None` when every address in it may be banned. A single
    /// address is judged as [`Protection::check`] judges it.
    pub fn covers(&self, net: &IpNet) -> Option<ProtectedKind> {
        if net.prefix_len() == net.max_prefix_len() {
            return self.check(net.addr());
        }
        let overlap = |a: &IpNet, b: &IpNet| a.contains(&b.network()) || b.contains(&a.network());
        BUILTIN
            .iter()
            .filter_map(|(text, kind)| text.parse::<IpNet>().ok().map(|n| (n, kind)))
            .find(|(n, _)| overlap(n, net))
            .map(|(_, kind)| kind.clone())
            .or_else(|| self.allow_entries().find(|a| overlap(a, net)).map(|a| ProtectedKind::AllowList(a.to_string())))
            .or_else(|| self.own.iter().find(|o| net.contains(&o.ip)).map(|o| ProtectedKind::Yours(o.why.clone())))
    }

    /// Why `ip` must never be banned, or `None` when it may be.
    pub fn check(&self, ip: IpAddr) -> Option<ProtectedKind> {
        let builtin = match ip {
            IpAddr::V4(v4) => v4_kind(v4),
            IpAddr::V6(v6) => v6_kind(v6),
        };
        builtin.or_else(|| {
            let unmapped = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
                v4 => v4,
            };
            self.allow_entries()
                .find(|net| net.contains(&unmapped))
                .map(|net| ProtectedKind::AllowList(net.to_string()))
                .or_else(|| self.own.iter().find(|a| a.ip == unmapped).map(|a| ProtectedKind::Yours(a.why.clone())))
        })
    }
}

/// The built-in protected ranges, for judging a whole range ([`Protection::covers`]).
const BUILTIN: [(&str, ProtectedKind); 16] = [
    ("127.0.0.0/8", ProtectedKind::Loopback),
    ("10.0.0.0/8", ProtectedKind::Private),
    ("172.16.0.0/12", ProtectedKind::Private),
    ("192.168.0.0/16", ProtectedKind::Private),
    ("169.254.0.0/16", ProtectedKind::LinkLocal),
    ("100.64.0.0/10", ProtectedKind::Cgnat),
    ("0.0.0.0/8", ProtectedKind::NotAClient),
    ("224.0.0.0/4", ProtectedKind::NotAClient),
    ("255.255.255.255/32", ProtectedKind::NotAClient),
    ("::1/128", ProtectedKind::Loopback),
    ("::/128", ProtectedKind::NotAClient),
    ("ff00::/8", ProtectedKind::NotAClient),
    ("fe80::/10", ProtectedKind::LinkLocal),
    ("fc00::/7", ProtectedKind::UniqueLocal),
    // IPv4 written as IPv6 holds IPv4's loopback too.
    ("::ffff:0:0/96", ProtectedKind::Loopback),
    ("::/96", ProtectedKind::Loopback),
];

/// Parses one allow-list entry: an address (any spelling [`canonicalize`] accepts) or a CIDR.
pub fn parse_net(entry: &str) -> Result<IpNet> {
    let s = entry.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    let ip = canonicalize(s).map_err(|_| Error::Config {
        path: "allow".into(),
        message: format!("'{}' is neither an IP address nor a CIDR range such as 203.0.113.0/24", display_raw(entry)),
    })?;
    Ok(IpNet::from(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        let c = |s| canonicalize(s).map(|ip| ip.to_string()).unwrap_or_else(|_| "ERR".into());
        assert_eq!(c("2001:DB8::BAD:1"), "2001:db8::bad:1");
        assert_eq!(c("2001:0db8:0000:0000:0000:0000:0bad:0001"), "2001:db8::bad:1");
        assert_eq!(c("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(c(" [2001:db8::1] "), "2001:db8::1");
        assert_eq!(c("fe80::1%eth0"), "fe80::1");
        assert_eq!(c("10.0.0.1"), "10.0.0.1");
        assert_eq!(c("0.0.0.0"), "0.0.0.0");
        assert_eq!(c("255.255.255.255"), "255.255.255.255");
        for bad in [
            "",
            "not-an-ip",
            "localhost",
            "1.2.3.4:80",
            "10.0.0.0/8",
            "01.2.3.4",
            "1.2.3.4%x",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1..2.3",
            "1.2.3.",
            "00.1.2.3",
        ] {
            assert_eq!(c(bad), "ERR", "{bad:?} must be rejected");
        }
        // Hostile strings from headers: very long, unicode look-alike digits, control characters.
        for bad in ["1".repeat(1000), "２０３.０.１１３.７".into(), "203.0.113.7\u{202e}".into(), "::ffff:".repeat(200)]
        {
            assert!(canonicalize(&bad).is_err(), "{bad:?} must be rejected");
            assert!(display_raw(&bad).chars().count() <= 81);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4000, .. Default::default() })]
        /// The quick dotted-quad reader agrees with the standard library's parser at every
        /// length up to and past its 16-byte window.
        #[test]
        fn quick_ipv4_agrees_with_std(s in "[0-9.]{0,18}|[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}") {
            let std = s.parse::<Ipv4Addr>().ok();
            proptest::prop_assert_eq!(quick_ipv4(s.as_bytes()), std.map(IpAddr::V4));
        }

        /// A key gives back its address, and two canonical addresses share a key only when they
        /// are the same (IPv4 against the IPv6 that maps it, too).
        #[test]
        fn ip_key_round_trips_and_separates(a in proptest::prelude::any::<u128>(), b in proptest::prelude::any::<u32>()) {
            let canon = |ip: IpAddr| canonicalize(&ip.to_string()).expect("an address");
            let v6 = canon(IpAddr::V6(Ipv6Addr::from(a)));
            let v4 = IpAddr::V4(Ipv4Addr::from(b));
            let mapped = canon(IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped()));
            for ip in [v6, v4, mapped] {
                proptest::prop_assert_eq!(IpKey::of(ip).ip(), ip);
            }
            proptest::prop_assert_eq!(IpKey::of(v4), IpKey::of(mapped));
            proptest::prop_assert_eq!(IpKey::of(v6) == IpKey::of(v4), v6 == v4);
        }
    }

    #[test]
    fn display_raw_escapes_and_caps() {
        assert_eq!(display_raw("a\nb"), "a\\nb");
        assert!(display_raw(&"x".repeat(1000)).chars().count() <= 81);
    }

    #[test]
    fn builtin_protection() {
        let p = Protection::default();
        let k = |s: &str| p.check(canonicalize(s).expect(s));
        assert_eq!(k("127.0.0.2"), Some(ProtectedKind::Loopback));
        assert_eq!(k("::ffff:127.0.0.1"), Some(ProtectedKind::Loopback));
        assert_eq!(k("::1"), Some(ProtectedKind::Loopback));
        assert_eq!(k("172.17.0.1"), Some(ProtectedKind::Private));
        assert_eq!(k("100.100.1.1"), Some(ProtectedKind::Cgnat));
        assert_eq!(k("fd00::5"), Some(ProtectedKind::UniqueLocal));
        assert_eq!(k("fe80::abcd"), Some(ProtectedKind::LinkLocal));
        assert_eq!(k("::127.0.0.1"), Some(ProtectedKind::Loopback));
        assert_eq!(k("203.0.113.7"), None);
        assert_eq!(k("2001:db8::bad:1"), None);
        assert_eq!(k("100.128.0.1"), None, "just outside CGNAT");
    }

    #[test]
    fn allow_list_entries() {
        let p = Protection::new(&["198.51.100.0/24".into(), "2001:DB8::7".into()]).expect("valid");
        assert!(matches!(p.check("198.51.100.99".parse().unwrap()), Some(ProtectedKind::AllowList(_))));
        assert!(matches!(p.check("2001:db8::7".parse().unwrap()), Some(ProtectedKind::AllowList(_))));
        assert_eq!(p.check("198.51.101.1".parse().unwrap()), None);
        assert!(Protection::new(&["nope".into()]).is_err());
    }
}
