//! The addresses the trader is using, so that Warden never bans them.
//!
//! Built-in ranges and the allow-list protect the LAN and the proxy, but the trader's own public
//! address is an ordinary address to every rule: a mistyped API key in a strategy, a browser tab
//! hammering a missing asset, and the trader is locked out of their own server. Warden looks for
//! that address in three places, each cheap and read-only:
//!
//! - OpenAlgo's `login_attempts` table in `openalgo.db`: the addresses of successful sign-ins in
//!   the last [`SIGN_IN_DAYS`] days (a sign-in needs the trader's password, so it is the trader);
//! - the SSH sessions open on this machine (`utmp`), and `SSH_CONNECTION` when Warden itself runs
//!   in one;
//! - this machine's own interface addresses (OpenAlgo calling itself through its public name).
//!
//! The parsers are pure, so the tests feed them real file contents.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use chrono::Duration;
use rusqlite::{Connection, OpenFlags};

use crate::ip::{canonicalize, canonicalize_bytes, OwnAddress};
use crate::time::Timestamp;

/// How far back a successful OpenAlgo sign-in protects its address. Long enough to cover a
/// holiday; short enough that a dynamic address handed to a stranger stops being protected.
pub const SIGN_IN_DAYS: i64 = 30;

/// At most this many sign-in addresses are taken (the most recent), so a huge login table costs
/// nothing.
const MAX_SIGN_INS: usize = 50;

/// Gathers the trader's addresses from every place [this module](self) describes. Sources that
/// are absent (no `openalgo.db`, no `utmp`) simply add nothing: this never fails.
pub fn gather(openalgo_db: Option<&Path>, now: Timestamp) -> Vec<OwnAddress> {
    let mut out = Vec::new();
    if let Some(db) = openalgo_db {
        out.extend(sign_ins(db, now).unwrap_or_default());
    }
    let ssh = std::env::var("SSH_CONNECTION").ok().or_else(|| std::env::var("SSH_CLIENT").ok());
    if let Some(ip) = ssh.as_deref().and_then(parse_ssh_env) {
        out.push(OwnAddress { ip, why: "Warden runs in your SSH session from it".into() });
    }
    for path in ["/run/utmp", "/var/run/utmp"] {
        if let Ok(bytes) = std::fs::read(path) {
            out.extend(
                parse_utmp(&bytes)
                    .into_iter()
                    .map(|ip| OwnAddress { ip, why: "an SSH session to this machine comes from it".into() }),
            );
            break;
        }
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/fib_trie") {
        out.extend(
            parse_fib_trie(&text)
                .into_iter()
                .map(|ip| OwnAddress { ip, why: "it is this machine's own address".into() }),
        );
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/if_inet6") {
        out.extend(
            parse_if_inet6(&text)
                .into_iter()
                .map(|ip| OwnAddress { ip, why: "it is this machine's own address".into() }),
        );
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|a| seen.insert(a.ip));
    out
}

/// Successful sign-ins (`success` or `resumed`) in OpenAlgo's `login_attempts`, newest first,
/// from the last [`SIGN_IN_DAYS`] days. OpenAlgo writes that table's timestamps in IST (spec §2),
/// so the cut-off is computed in IST too. A missing table gives an empty list.
pub fn sign_ins(openalgo_db: &Path, now: Timestamp) -> rusqlite::Result<Vec<OwnAddress>> {
    if !openalgo_db.exists() {
        return Ok(Vec::new());
    }
    let conn =
        Connection::open_with_flags(openalgo_db, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'login_attempts')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(Vec::new());
    }
    let ist = now + Duration::minutes(330);
    let since = (ist - Duration::days(SIGN_IN_DAYS)).format("%Y-%m-%d %H:%M:%S").to_string();
    let mut stmt = conn.prepare(
        "SELECT ip_address, MAX(timestamp) FROM login_attempts \
         WHERE status IN ('success', 'resumed') AND timestamp >= ?1 AND ip_address IS NOT NULL \
         GROUP BY ip_address ORDER BY MAX(timestamp) DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![since, MAX_SIGN_INS as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (raw, at) = row?;
        let Ok(ip) = canonicalize(&raw) else { continue };
        // "2026-11-21 09:14:05.123456" → "2026-11-21 09:14".
        let when = at.as_deref().map(|s| s.get(..16).unwrap_or(s)).unwrap_or("recently");
        out.push(OwnAddress { ip, why: format!("you signed in to OpenAlgo from it on {when} IST") });
    }
    Ok(out)
}

/// The client address in `SSH_CONNECTION` ("client port server port") or `SSH_CLIENT`
/// ("client port port").
pub fn parse_ssh_env(value: &str) -> Option<IpAddr> {
    value.split_whitespace().next().and_then(|s| canonicalize(s).ok())
}

/// Size of one `struct utmp` record on 64-bit Linux (glibc).
const UTMP_RECORD: usize = 384;
/// `ut_type` of a logged-in user.
const USER_PROCESS: i16 = 7;

/// Remote addresses of the sessions logged in now, from the bytes of `/run/utmp`: the host
/// field when it is an address, else the binary `ut_addr_v6`. Local logins (no remote host) and
/// truncated records are skipped.
pub fn parse_utmp(bytes: &[u8]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for rec in bytes.chunks_exact(UTMP_RECORD) {
        let kind = i16::from_ne_bytes([rec[0], rec[1]]);
        if kind != USER_PROCESS {
            continue;
        }
        // ut_host: 256 bytes at offset 76, NUL-padded.
        let host = &rec[76..332];
        let host = &host[..memchr::memchr(0, host).unwrap_or(host.len())];
        if let Some(ip) = canonicalize_bytes(host) {
            out.push(ip);
            continue;
        }
        // ut_addr_v6: four 32-bit words in network order at offset 348; IPv4 uses the first.
        let a = &rec[348..364];
        if a.iter().all(|&b| b == 0) || host.is_empty() {
            continue;
        }
        let ip = if a[4..].iter().all(|&b| b == 0) {
            IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
        } else {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(a);
            IpAddr::V6(Ipv6Addr::from(octets))
        };
        out.push(ip);
    }
    out
}

/// This machine's IPv4 addresses from `/proc/net/fib_trie`: each `|-- a.b.c.d` leaf followed by
/// a `/32 host LOCAL` line.
pub fn parse_fib_trie(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(addr) = t.strip_prefix("|-- ") {
            last = addr.parse().ok();
        } else if t.contains("/32 host LOCAL") {
            if let Some(ip) = last.take() {
                if !out.contains(&IpAddr::V4(ip)) {
                    out.push(IpAddr::V4(ip));
                }
            }
        }
    }
    out
}

/// This machine's IPv6 addresses from `/proc/net/if_inet6`: 32 hex digits first on each line.
pub fn parse_if_inet6(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let hex = line.split_whitespace().next()?;
            (hex.len() == 32).then(|| u128::from_str_radix(hex, 16).ok()).flatten()
        })
        .map(|n| IpAddr::V6(Ipv6Addr::from(n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_env() {
        assert_eq!(parse_ssh_env("203.0.113.9 52144 198.51.100.2 22"), "203.0.113.9".parse().ok());
        assert_eq!(parse_ssh_env("2001:db8::5 52144 22"), "2001:db8::5".parse().ok());
        assert_eq!(parse_ssh_env(""), None);
        assert_eq!(parse_ssh_env("garbage 1 2"), None);
    }

    #[test]
    fn fib_trie_locals_only() {
        let text = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     \
                    |-- 198.51.100.2\n        /32 host LOCAL\n     |-- 198.51.100.255\n        /32 link BROADCAST\n\
                    Local:\n     |-- 127.0.0.1\n        /32 host LOCAL\n     |-- 198.51.100.2\n        /32 host LOCAL\n";
        assert_eq!(parse_fib_trie(text), vec![IpAddr::from([198, 51, 100, 2]), IpAddr::from([127, 0, 0, 1])]);
    }

    #[test]
    fn if_inet6_lines() {
        let text = "20010db8000000000000000000000007 02 40 00 80     eth0\n\
                    00000000000000000000000000000001 01 80 10 80       lo\nbad line\n";
        assert_eq!(parse_if_inet6(text), vec!["2001:db8::7".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]);
    }

    fn utmp_record(kind: i16, host: &str, addr: [u8; 16]) -> Vec<u8> {
        let mut rec = vec![0u8; UTMP_RECORD];
        rec[..2].copy_from_slice(&kind.to_ne_bytes());
        rec[76..76 + host.len()].copy_from_slice(host.as_bytes());
        rec[348..364].copy_from_slice(&addr);
        rec
    }

    #[test]
    fn utmp_sessions() {
        let mut bytes = utmp_record(USER_PROCESS, "203.0.113.9", [0; 16]);
        bytes.extend(utmp_record(
            USER_PROCESS,
            "trader-laptop.example",
            [198, 51, 100, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ));
        bytes.extend(utmp_record(USER_PROCESS, "", [0; 16])); // a local console login
        bytes.extend(utmp_record(8, "192.0.2.1", [0; 16])); // DEAD_PROCESS: a session that ended
        bytes.extend([1, 2, 3]); // a torn last record
        assert_eq!(parse_utmp(&bytes), vec![IpAddr::from([203, 0, 113, 9]), IpAddr::from([198, 51, 100, 7])]);
    }
}
