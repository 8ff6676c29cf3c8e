//! A property test over random addresses: protected addresses are never banned, whatever their
//! spelling, and ordinary public addresses are (so the property cannot pass by banning nothing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::Duration;
use proptest::prelude::*;
use warden::engine::{Engine, Verdict};
use warden::event::{Event, Source, What};
use warden::ip::{canonicalize, Protection};

use crate::common::t;

/// (network, prefix length) of every built-in protected range.
const V4_PROTECTED: [([u8; 4], u8); 7] = [
    ([127, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([172, 16, 0, 0], 12),
    ([192, 168, 0, 0], 16),
    ([169, 254, 0, 0], 16),
    ([100, 64, 0, 0], 10),
    ([0, 0, 0, 0], 8),
];

fn v4_in(net: [u8; 4], len: u8, host: u32) -> Ipv4Addr {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ipv4Addr::from((u32::from_be_bytes(net) & mask) | (host & !mask))
}

fn protected_v4() -> impl Strategy<Value = Ipv4Addr> {
    (0..V4_PROTECTED.len(), any::<u32>()).prop_map(|(i, host)| v4_in(V4_PROTECTED[i].0, V4_PROTECTED[i].1, host))
}

fn protected_v6() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        Just(Ipv6Addr::LOCALHOST),
        any::<u128>().prop_map(|h| Ipv6Addr::from((0xfc00u128 << 112) | (h >> 7))),
        any::<u128>().prop_map(|h| Ipv6Addr::from((0xfe80u128 << 112) | (h >> 10))),
    ]
}

/// The spellings a proxy or OpenAlgo may produce for the same address.
fn spellings(ip: IpAddr, style: u8) -> String {
    match (ip, style % 4) {
        (IpAddr::V4(v4), 0) => v4.to_string(),
        (IpAddr::V4(v4), 1) => format!("::ffff:{v4}"),
        (IpAddr::V4(v4), 2) => format!("::FFFF:{v4}"),
        (IpAddr::V4(v4), _) => format!(" {v4} "),
        (IpAddr::V6(v6), 0) => v6.to_string(),
        (IpAddr::V6(v6), 1) => v6.to_string().to_uppercase(),
        (IpAddr::V6(v6), 2) => {
            let s = v6.segments();
            s.iter().map(|x| format!("{x:04x}")).collect::<Vec<_>>().join(":")
        }
        (IpAddr::V6(v6), _) => format!("[{v6}]"),
    }
}

/// A logs.db shared by the property cases (they only ever fail to write to it).
fn shared_logs_db() -> &'static std::path::Path {
    static DB: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> = std::sync::OnceLock::new();
    &DB.get_or_init(|| {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("logs.db");
        warden::store::logs_db::create_openalgo_schema(&p).expect("schema");
        (d, p)
    })
    .1
}

fn public_v4() -> impl Strategy<Value = Ipv4Addr> {
    // 1.0.0.0 – 99.255.255.255 minus 10/8 and 0/8: public, outside every protected range.
    (1u8..100, any::<[u8; 3]>())
        .prop_filter("not 10/8", |(a, _)| *a != 10)
        .prop_map(|(a, r)| Ipv4Addr::new(a, r[0], r[1], r[2]))
}

/// A manual ban of `raw` (as from the CLI or the GUI) under `protection`.
fn manual_ban(
    protection: &Protection,
    raw: &str,
    now: warden::time::Timestamp,
) -> warden::Result<warden::actions::BanOutcome> {
    let path = shared_logs_db();
    let mut logs = warden::store::LogsDb::open(path).expect("logs.db");
    let state = warden::store::StateDb::open(&path.with_file_name("state.db")).expect("state");
    warden::actions::ban(
        &mut logs,
        &state,
        protection,
        raw,
        warden::engine::BanLength::Permanent,
        None,
        warden::store::state::Actor::Cli,
        now,
    )
}

fn hammer(e: &mut Engine, raw: &str) -> Vec<Verdict> {
    let start = t("2026-11-21 10:00:00");
    let mut out = Vec::new();
    for i in 0..25 {
        let at = start + Duration::seconds(i);
        let ev = Event { at, ip: raw.into(), what: What::NotFound { path: format!("/x{i}") }, source: Source::Proxy };
        out.extend(e.observe(&ev, at));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn protected_addresses_are_never_banned(
        ip in prop_oneof![protected_v4().prop_map(IpAddr::V4), protected_v6().prop_map(IpAddr::V6)],
        style in any::<u8>(),
    ) {
        let raw = spellings(ip, style);
        prop_assert!(canonicalize(&raw).is_ok(), "{raw} should parse");
        let mut e = Engine::new(warden::config::Config::default().own_thresholds(), Protection::default(), 0.8);
        let v = hammer(&mut e, &raw);
        prop_assert!(!v.iter().any(|v| matches!(v, Verdict::Ban(_))), "{raw} was banned: {v:?}");
        prop_assert!(v.iter().any(|v| matches!(v, Verdict::Protected { .. })), "{raw} not reported as protected");

        // The path the monitor runs today: OpenAlgo's own counter far over the threshold.
        let now = t("2026-11-21 12:00:00");
        let reading = warden::engine::TrackerReading { raw_ip: raw.clone(), rule: warden::event::Rule::InvalidApiKey, count: 500, first_at: now };
        let v = e.observe_tracker(&reading, now);
        prop_assert!(!v.iter().any(|v| matches!(v, Verdict::Ban(_))), "{raw} banned from a tracker: {v:?}");

        // And a manual ban, from the CLI or the GUI.
        let r = manual_ban(&Protection::default(), &raw, now);
        prop_assert!(matches!(r, Err(warden::Error::Protected { .. })), "{raw}: manual ban not refused: {r:?}");
    }

    #[test]
    fn allow_listed_addresses_are_never_banned_and_others_are(
        allowed in public_v4(),
        prefix in 8u8..=32,
        other in public_v4(),
        style in any::<u8>(),
    ) {
        let net = format!("{}/{prefix}", v4_in(allowed.octets(), prefix, 0));
        let protection = Protection::new(std::slice::from_ref(&net)).expect("valid CIDR");
        let inside = IpAddr::V4(allowed);
        let mut e = Engine::new(warden::config::Config::default().own_thresholds(), protection.clone(), 0.8);
        let v = hammer(&mut e, &spellings(inside, style));
        prop_assert!(!v.iter().any(|v| matches!(v, Verdict::Ban(_))), "{inside} in {net} was banned");
        let outside = IpAddr::V4(other);
        if protection.check(outside).is_none() {
            let v = hammer(&mut e, &spellings(outside, style));
            prop_assert!(v.iter().any(|v| matches!(v, Verdict::Ban(_))), "public {outside} outside {net} was not banned: {v:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// Attacker-chosen "addresses" and timestamps never panic, and what is shown of them is one
    /// bounded line.
    #[test]
    fn hostile_strings_never_panic_and_display_as_one_bounded_line(s in "\\PC{0,200}|[0-9a-fA-F:.\\[\\]%/ ]{0,60}") {
        let _ = canonicalize(&s);
        let _ = warden::time::parse_db_time(&s);
        let shown = warden::ip::display_raw(&s);
        prop_assert!(!shown.contains('\n') && !shown.contains('\r'));
        prop_assert!(shown.chars().count() <= 81 * 10, "escaped form is bounded");
        if let Ok(ip) = canonicalize(&s) {
            // A canonical form is a fixed point.
            prop_assert_eq!(canonicalize(&ip.to_string()).ok(), Some(ip));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, .. ProptestConfig::default() })]

    /// The quick address parsers of the hot loop agree with the standard library on everything.
    #[test]
    fn quick_address_parsing_agrees_with_the_standard_library(
        s in "[0-9a-fA-F:.]{0,41}",
        v6 in any::<u128>(),
        v4 in any::<u32>(),
        style in any::<u8>(),
    ) {
        let unmap = |ip: IpAddr| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        prop_assert_eq!(canonicalize(&s).ok(), s.parse::<IpAddr>().ok().map(unmap), "{}", s);
        for ip in [IpAddr::V6(Ipv6Addr::from(v6 >> (style % 128))), IpAddr::V4(Ipv4Addr::from(v4))] {
            let written = spellings(ip, style);
            let written = written.trim().trim_start_matches('[').trim_end_matches(']');
            prop_assert_eq!(canonicalize(written).ok(), Some(unmap(ip)), "{}", written);
        }
    }
}

/// OpenAlgo's `login_attempts` table (spec §2), in an `openalgo.db` shared by the property cases.
fn shared_openalgo_db() -> &'static std::path::Path {
    static DB: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> = std::sync::OnceLock::new();
    &DB.get_or_init(|| {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("openalgo.db");
        crate::common::create_login_attempts(&p);
        (d, p)
    })
    .1
}

/// Writes one OpenAlgo sign-in row; `ist` is the naive IST time OpenAlgo stores.
fn sign_in(db: &std::path::Path, raw_ip: &str, status: &str, ist: &str) {
    let c = rusqlite::Connection::open(db).expect("openalgo.db");
    c.execute(
        "INSERT INTO login_attempts (username, ip_address, device_info, status, login_type, timestamp) \
         VALUES ('trader', ?1, 'Mozilla/5.0', ?2, 'password', ?3)",
        rusqlite::params![raw_ip, status, ist],
    )
    .expect("insert");
}

fn public_v6() -> impl Strategy<Value = Ipv6Addr> {
    // 2000::/3, global unicast.
    any::<u128>().prop_map(|h| Ipv6Addr::from((0x2000u128 << 112) | (h >> 3)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    /// The address the trader signed in to OpenAlgo from is never banned, by any rule, under any
    /// thresholds and allow-list, however OpenAlgo spelled it; a stranger under the same
    /// configuration is banned, so the property cannot pass by banning nothing.
    #[test]
    fn the_address_the_trader_uses_is_never_banned(
        trader in prop_oneof![public_v4().prop_map(IpAddr::V4), public_v6().prop_map(IpAddr::V6)],
        stranger in public_v4(),
        style in any::<u8>(),
        threshold_404 in 1u32..=25,
        threshold_api in 1u32..=25,
        allow in proptest::collection::vec(public_v4(), 0..3),
        minutes_ago in 0i64..(29 * 24 * 60),
    ) {
        let db = shared_openalgo_db();
        rusqlite::Connection::open(db).expect("db").execute("DELETE FROM login_attempts", []).expect("clear");
        let now = t("2026-11-21 12:00:00");
        let ist = (now + Duration::minutes(330) - Duration::minutes(minutes_ago)).format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        sign_in(db, &spellings(trader, style), "success", &ist);
        // A failed attempt from the stranger protects nothing.
        sign_in(db, &stranger.to_string(), "failed", &ist);

        let mut cfg = warden::config::Config::default();
        cfg.rules.not_found_threshold = threshold_404;
        cfg.rules.api_threshold = threshold_api;
        cfg.allow = allow.iter().map(|a| format!("{a}/32")).collect();
        let own = warden::source::own::sign_ins(db, now).expect("sign-ins");
        let protection = cfg.protection().expect("valid").with_own(own);
        prop_assert!(
            matches!(protection.check(trader), Some(warden::ip::ProtectedKind::Yours(_)) | Some(warden::ip::ProtectedKind::AllowList(_))),
            "{trader} not protected"
        );

        let mut e = Engine::new(cfg.own_thresholds(), protection.clone(), 0.8);
        for raw in [spellings(trader, style), trader.to_string()] {
            let v = hammer(&mut e, &raw);
            prop_assert!(!v.iter().any(|v| matches!(v, Verdict::Ban(_))), "{raw} was banned: {v:?}");
            let reading = warden::engine::TrackerReading { raw_ip: raw.clone(), rule: warden::event::Rule::InvalidApiKey, count: 500, first_at: now };
            let v = e.observe_tracker(&reading, now);
            prop_assert!(!v.iter().any(|v| matches!(v, Verdict::Ban(_))), "{raw} banned from a tracker: {v:?}");
            let r = manual_ban(&protection, &raw, now);
            prop_assert!(matches!(r, Err(warden::Error::Protected { .. })), "{raw}: manual ban not refused: {r:?}");
        }
        if protection.check(IpAddr::V4(stranger)).is_none() {
            let v = hammer(&mut e, &stranger.to_string());
            prop_assert!(v.iter().any(|v| matches!(v, Verdict::Ban(_))), "stranger {stranger} was not banned: {v:?}");
        }
    }
}

#[test]
fn only_recent_successful_sign_ins_protect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("openalgo.db");
    std::fs::copy(shared_openalgo_db(), &db).expect("copy");
    rusqlite::Connection::open(&db).expect("db").execute("DELETE FROM login_attempts", []).expect("clear");
    // Now is 2026-11-21 12:00 UTC = 17:30 IST.
    sign_in(&db, "203.0.113.1", "success", "2026-11-21 17:29:00.000000");
    sign_in(&db, "2001:DB8::A", "resumed", "2026-11-01 09:00:00");
    sign_in(&db, "203.0.113.2", "failed", "2026-11-21 17:00:00");
    sign_in(&db, "203.0.113.3", "success", "2026-10-01 09:00:00"); // 51 days ago
    sign_in(&db, "not-an-ip", "success", "2026-11-21 17:00:00");
    let own = warden::source::own::sign_ins(&db, t("2026-11-21 12:00:00")).expect("read");
    let got: Vec<(String, String)> = own.iter().map(|a| (a.ip.to_string(), a.why.clone())).collect();
    assert_eq!(
        got,
        vec![
            ("203.0.113.1".into(), "you signed in to OpenAlgo from it on 2026-11-21 17:29 IST".into()),
            ("2001:db8::a".into(), "you signed in to OpenAlgo from it on 2026-11-01 09:00 IST".into()),
        ]
    );
    // No table (an older OpenAlgo, or the settings-only fixture), no file: nothing, no error.
    let bare = crate::common::fixture("openalgo_settings_only.db");
    assert!(warden::source::own::sign_ins(&bare, t("2026-11-21 12:00:00")).expect("no table").is_empty());
    assert!(warden::source::own::sign_ins(&dir.path().join("missing.db"), t("2026-11-21 12:00:00"))
        .expect("missing")
        .is_empty());
}
