//! The threshold rules, on the pure engine with time passed in.

use std::collections::HashMap;

use chrono::Duration;
use warden::config::Config;
use warden::engine::{BanLength, Engine, TrackerReading, Verdict};
use warden::event::{Event, Rule, Source, What};
use warden::ip::Protection;

use crate::common::t;

fn engine() -> Engine {
    let cfg = Config::default();
    Engine::new(cfg.own_thresholds(), cfg.protection().expect("protection"), cfg.near_fraction)
}

fn not_found(ip: &str, at: warden::time::Timestamp, n: u32) -> Event {
    Event { at, ip: ip.into(), what: What::NotFound { path: format!("/probe/{n}") }, source: Source::Proxy }
}

fn bad_key(ip: &str, at: warden::time::Timestamp, n: u32) -> Event {
    Event {
        at,
        ip: ip.into(),
        what: What::InvalidApiKey { key_hash: Some(format!("{n:016x}")) },
        source: Source::Proxy,
    }
}

/// Feeds `n` 404s one second apart from `start`; returns every verdict with its event number.
fn feed(e: &mut Engine, ip: &str, start: warden::time::Timestamp, from: u32, n: u32) -> Vec<(u32, Verdict)> {
    let mut out = Vec::new();
    for i in from..from + n {
        let at = start + Duration::seconds(i64::from(i));
        for v in e.observe(&not_found(ip, at, i), at) {
            out.push((i, v));
        }
    }
    out
}

fn bans(v: &[(u32, Verdict)]) -> Vec<(u32, warden::engine::BanOrder)> {
    v.iter()
        .filter_map(|(i, v)| match v {
            Verdict::Ban(b) => Some((*i, b.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn bans_ip_on_twentieth_404_within_24h_and_not_on_nineteenth() {
    let mut e = engine();
    let start = t("2026-11-21 10:00:00");
    let v = feed(&mut e, "203.0.113.7", start, 1, 19);
    assert!(bans(&v).is_empty(), "19 404s must not ban: {v:?}");
    let v = feed(&mut e, "203.0.113.7", start, 20, 1);
    let b = bans(&v);
    assert_eq!(b.len(), 1, "the 20th 404 bans: {v:?}");
    let (_, order) = &b[0];
    assert_eq!(order.reason, "Exceeded 404 threshold: 20 errors in 24 hours", "OpenAlgo's wording");
    assert_eq!(order.length, BanLength::Hours(24), "first 404 offence is 24 h");
    assert_eq!(order.offence, 1);
    assert_eq!(order.rule.created_by(), "warden:404");
}

#[test]
fn bans_ip_on_tenth_invalid_api_key_for_48h() {
    let mut e = engine();
    let start = t("2026-11-21 10:00:00");
    let mut verdicts = Vec::new();
    for i in 1..=10u32 {
        let at = start + Duration::minutes(i64::from(i));
        verdicts.push((i, e.observe(&bad_key("198.51.100.23", at, i), at)));
    }
    let banned_at: Vec<u32> =
        verdicts.iter().filter(|(_, v)| v.iter().any(|x| matches!(x, Verdict::Ban(_)))).map(|(i, _)| *i).collect();
    assert_eq!(banned_at, vec![10], "only the 10th invalid key bans");
    let Some(Verdict::Ban(order)) = verdicts[9].1.iter().find(|v| matches!(v, Verdict::Ban(_))).cloned() else {
        panic!("no ban order")
    };
    assert_eq!(order.length, BanLength::Hours(48));
    assert_eq!(order.reason, "Exceeded invalid API key threshold: 10 attempts in 24 hours");
}

#[test]
fn window_resets_at_exactly_24h() {
    let ip = "203.0.113.8";
    let start = t("2026-11-21 10:00:00");
    // 19 events inside the window, then one at exactly first + 24 h: a reset, no ban.
    let mut e = engine();
    for i in 0..19 {
        let at = start + Duration::seconds(i);
        assert!(e.observe(&not_found(ip, at, i as u32), at).iter().all(|v| !matches!(v, Verdict::Ban(_))));
    }
    let edge = start + Duration::hours(24);
    let v = e.observe(&not_found(ip, edge, 99), edge);
    assert!(v.iter().all(|x| !matches!(x, Verdict::Ban(_))), "at exactly 24 h the window restarts: {v:?}");
    let w = e.window("203.0.113.8".parse().unwrap(), Rule::NotFound).expect("window");
    assert_eq!((w.count, w.first_at), (1, edge), "the new window starts at the 24 h event");
    // The same 20th event one microsecond earlier is still inside the window and bans.
    let mut e = engine();
    for i in 0..19 {
        let at = start + Duration::seconds(i);
        e.observe(&not_found(ip, at, i as u32), at);
    }
    let just_before = edge - Duration::microseconds(1);
    let v = e.observe(&not_found(ip, just_before, 99), just_before);
    assert!(v.iter().any(|x| matches!(x, Verdict::Ban(_))), "1 µs before 24 h the 20th event bans: {v:?}");
}

#[test]
fn nothing_is_counted_while_banned_and_counter_restarts_after_the_ban() {
    let mut e = engine();
    let ip = "203.0.113.9";
    let start = t("2026-11-21 10:00:00");
    assert_eq!(bans(&feed(&mut e, ip, start, 1, 20)).len(), 1);
    let v = feed(&mut e, ip, start, 21, 30);
    assert!(v.is_empty(), "events while banned produce nothing: {v:?}");
    assert!(e.window(ip.parse().unwrap(), Rule::NotFound).is_none(), "the counter is cleared by the ban");
    // After the 24 h ban, counting starts from zero: 19 more do not ban, the 20th does.
    let later = start + Duration::hours(25);
    assert!(bans(&feed(&mut e, ip, later, 1, 19)).is_empty(), "counter restarted after the ban");
    let b = bans(&feed(&mut e, ip, later, 20, 1));
    assert_eq!(b.len(), 1, "second offence bans again");
    assert_eq!(b[0].1.offence, 2);
    assert_eq!(b[0].1.length, BanLength::Hours(24), "second offence is still temporary (limit 3)");
}

#[test]
fn third_offence_is_permanent_after_expiry_even_in_a_new_engine() {
    let ip = "203.0.113.10";
    let mut start = t("2026-11-21 10:00:00");
    let mut offences: HashMap<std::net::IpAddr, u32> = HashMap::new();
    let mut lengths = Vec::new();
    for _ in 0..3 {
        // A new engine each time, as after a restart, fed only the remembered offence count.
        let mut e = engine();
        e.set_offences(offences.clone());
        let b = bans(&feed(&mut e, ip, start, 1, 20));
        assert_eq!(b.len(), 1);
        lengths.push(b[0].1.length);
        offences.insert(ip.parse().unwrap(), b[0].1.offence);
        start += Duration::hours(30);
    }
    assert_eq!(lengths, vec![BanLength::Hours(24), BanLength::Hours(24), BanLength::Permanent]);
}

#[test]
fn near_threshold_fires_once_per_window() {
    let mut e = engine();
    let ip = "203.0.113.11";
    let start = t("2026-11-21 10:00:00");
    let v = feed(&mut e, ip, start, 1, 19);
    let near: Vec<u32> = v.iter().filter(|(_, v)| matches!(v, Verdict::Near(_))).map(|(i, _)| *i).collect();
    assert_eq!(near, vec![16], "one notice, at 16 of 20 (80%)");
    let Verdict::Near(n) = &v.iter().find(|(i, _)| *i == 16).expect("near").1 else { panic!() };
    assert_eq!((n.count, n.threshold), (16, 20));
    // A new window gives a new notice.
    let next = start + Duration::hours(24);
    let v = feed(&mut e, ip, next, 1, 17);
    assert_eq!(v.iter().filter(|(_, v)| matches!(v, Verdict::Near(_))).count(), 1, "new window, new notice");
    // A notice remembered from a previous run is not repeated.
    let mut e = engine();
    let key = warden::engine::alert_key("near", ip.parse().unwrap(), Rule::NotFound, start);
    e.remember_alert(key, start + Duration::hours(24));
    let v = feed(&mut e, ip, start, 0, 18);
    assert!(v.iter().all(|(_, v)| !matches!(v, Verdict::Near(_))), "remembered notice not repeated: {v:?}");
}

#[test]
fn openalgo_safe_404_paths_are_never_counted() {
    let mut e = engine();
    let start = t("2026-11-21 10:00:00");
    for i in 0..50 {
        let at = start + Duration::seconds(i);
        let ev = Event {
            at,
            ip: "203.0.113.12".into(),
            what: What::NotFound { path: "/favicon.ico".into() },
            source: Source::Proxy,
        };
        assert!(e.observe(&ev, at).is_empty());
    }
    assert!(e.window("203.0.113.12".parse().unwrap(), Rule::NotFound).is_none());
}

#[test]
fn ipv6_spellings_count_as_one_client_and_the_ban_keeps_the_raw_form() {
    let mut e = engine();
    let start = t("2026-11-21 10:00:00");
    let mut v = feed(&mut e, "2001:db8::bad:1", start, 1, 10);
    v.extend(feed(&mut e, "2001:DB8:0:0:0:0:BAD:1", start, 11, 10));
    let b = bans(&v);
    assert_eq!(b.len(), 1, "both spellings add up to 20");
    assert_eq!(b[0].1.ip.to_string(), "2001:db8::bad:1");
    assert_eq!(b[0].1.raw, "2001:DB8:0:0:0:0:BAD:1", "the spelling OpenAlgo saw is kept for its own row");
}

#[test]
fn mapped_ipv4_counts_with_plain_ipv4() {
    let mut e = engine();
    let start = t("2026-11-21 10:00:00");
    let mut v = feed(&mut e, "::ffff:203.0.113.13", start, 1, 10);
    v.extend(feed(&mut e, "203.0.113.13", start, 11, 10));
    assert_eq!(bans(&v).len(), 1);
}

#[test]
fn strings_that_are_not_ips_are_reported_once_and_never_banned() {
    let mut e = engine();
    let start = t("2026-11-21 10:00:00");
    for raw in ["", "not-an-ip", "localhost", "1.2.3.4, 5.6.7.8"] {
        let v = feed(&mut e, raw, start, 1, 40);
        assert!(bans(&v).is_empty(), "{raw:?} must never be banned");
        let reported = v.iter().filter(|(_, v)| matches!(v, Verdict::NotAnIp { .. })).count();
        assert_eq!(reported, 1, "{raw:?} is reported exactly once");
    }
}

#[test]
fn protected_addresses_reaching_a_threshold_are_reported_not_banned() {
    let cfg = Config { allow: vec!["198.51.100.0/24".into()], ..Config::default() };
    let start = t("2026-11-21 10:00:00");
    for ip in [
        "127.0.0.1",
        "::1",
        "::ffff:127.0.0.1",
        "10.1.2.3",
        "172.17.0.1",
        "192.168.1.5",
        "100.64.0.9",
        "fd00::1",
        "fe80::1",
        "198.51.100.77",
    ] {
        // A fresh engine each: `::ffff:127.0.0.1` is the same client as `127.0.0.1`.
        let mut e = Engine::new(cfg.own_thresholds(), cfg.protection().unwrap(), 0.8);
        let v = feed(&mut e, ip, start, 1, 25);
        assert!(bans(&v).is_empty(), "{ip} must not be banned");
        assert_eq!(v.iter().filter(|(_, v)| matches!(v, Verdict::Protected { .. })).count(), 1, "{ip}: one report");
    }
}

fn reading(ip: &str, rule: Rule, count: u32, first_at: &str) -> TrackerReading {
    TrackerReading { raw_ip: ip.into(), rule, count, first_at: t(first_at) }
}

#[test]
fn openalgo_tracker_at_threshold_bans_and_stale_or_banned_ones_do_not() {
    let now = t("2026-11-21 12:00:00");
    let mut e = engine();
    assert!(e
        .observe_tracker(&reading("203.0.113.20", Rule::NotFound, 19, "2026-11-21 11:00:00"), now)
        .iter()
        .all(|v| !matches!(v, Verdict::Ban(_))));
    let v = e.observe_tracker(&reading("203.0.113.20", Rule::NotFound, 20, "2026-11-21 11:00:00"), now);
    assert!(matches!(&v[..], [Verdict::Ban(b)] if b.source == Source::Openalgo), "{v:?}");
    let v = e.observe_tracker(&reading("203.0.113.20", Rule::NotFound, 25, "2026-11-21 11:00:00"), now);
    assert!(v.is_empty(), "already banned: {v:?}");
    let v = e.observe_tracker(&reading("203.0.113.21", Rule::InvalidApiKey, 12, "2026-11-20 11:59:59"), now);
    assert!(v.is_empty(), "a window older than 24 h is stale: OpenAlgo restarts it: {v:?}");
    let v = e.observe_tracker(&reading("203.0.113.22", Rule::InvalidApiKey, 10, "2026-11-21 11:00:00"), now);
    assert!(matches!(&v[..], [Verdict::Ban(b)] if b.length == BanLength::Hours(48)), "{v:?}");
}

#[test]
fn with_openalgo_auto_ban_on_warden_leaves_tracker_bans_to_openalgo() {
    let now = t("2026-11-21 12:00:00");
    let settings = warden::store::SettingsRow {
        auto_ban_enabled: Some(true),
        threshold_404: Some(20),
        ban_duration_404: Some(24),
        ..Default::default()
    };
    let mut e = Engine::new(settings.thresholds(&Config::default().own_thresholds()), Protection::default(), 0.8);
    let v = e.observe_tracker(&reading("203.0.113.30", Rule::NotFound, 20, "2026-11-21 11:00:00"), now);
    assert!(matches!(&v[..], [Verdict::LeftToOpenAlgo { count: 20, .. }]), "{v:?}");
    // Events from Warden's own sources are still Warden's to ban.
    let v = feed(&mut e, "203.0.113.31", now, 1, 20);
    assert_eq!(bans(&v).len(), 1);
}

#[test]
fn the_same_invalid_key_counts_once_per_five_minutes_as_in_openalgo() {
    let mut e = engine();
    let start = t("2026-11-21 10:00:00");
    let ip = "203.0.113.40";
    let key = |at, n: u32| Event {
        at,
        ip: ip.into(),
        what: What::InvalidApiKey { key_hash: Some(format!("{n:016x}")) },
        source: Source::Proxy,
    };
    for s in 0..12 {
        let at = start + Duration::seconds(s * 20);
        e.observe(&key(at, 7), at);
    }
    let w = e.window(ip.parse().unwrap(), Rule::InvalidApiKey).expect("window");
    assert_eq!(w.count, 1, "one key repeated for 4 minutes counts once");
    let at = start + Duration::minutes(5);
    e.observe(&key(at, 7), at);
    assert_eq!(
        e.window(ip.parse().unwrap(), Rule::InvalidApiKey).expect("window").count,
        2,
        "after five minutes it counts again"
    );
}

#[test]
fn a_held_ban_survives_a_sync_so_a_failed_write_cannot_escalate_the_offence() {
    let now = t("2026-11-21 12:00:00");
    let mut e = engine();
    let v = e.observe_tracker(&reading("203.0.113.41", Rule::NotFound, 20, "2026-11-21 11:00:00"), now);
    let Some(Verdict::Ban(order)) = v.into_iter().next() else { panic!("no ban") };
    // The write failed: the monitor holds the ban, then logs.db (without the row) is synced.
    e.hold(order.ip, order.expires_at());
    e.sync_bans(std::iter::empty());
    for count in 21..40 {
        let v = e.observe_tracker(&reading("203.0.113.41", Rule::NotFound, count, "2026-11-21 11:00:00"), now);
        assert!(v.is_empty(), "no second order while the first is held: {v:?}");
    }
    e.release(order.ip);
    e.sync_bans(std::iter::empty());
    let v = e.observe_tracker(&reading("203.0.113.41", Rule::NotFound, 41, "2026-11-21 11:00:00"), now);
    assert!(matches!(&v[..], [Verdict::Ban(_)]), "released and still not in logs.db: ordered again: {v:?}");
}

#[test]
fn a_ban_on_one_spelling_does_not_hide_a_tracker_under_another() {
    let now = t("2026-11-21 12:00:00");
    let mut e = engine();
    e.sync_bans([("2001:db8::bad:3", None, None)]);
    assert!(e.is_banned("2001:db8::bad:3".parse().unwrap(), now));
    let v = e.observe_tracker(&reading("2001:DB8::BAD:3", Rule::NotFound, 20, "2026-11-21 11:00:00"), now);
    assert!(
        matches!(&v[..], [Verdict::Ban(b)] if b.raw == "2001:DB8::BAD:3"),
        "OpenAlgo still counts that spelling: {v:?}"
    );
}

#[test]
fn absurd_times_from_a_file_do_not_overflow() {
    let now = t("2026-11-21 12:00:00");
    let mut e = engine();
    let far = t("9999-12-31 23:59:59");
    let r = TrackerReading { raw_ip: "not-an-ip".into(), rule: Rule::NotFound, count: 5, first_at: far };
    assert!(matches!(&e.observe_tracker(&r, now)[..], [Verdict::NotAnIp { .. }]));
    let r = TrackerReading { raw_ip: "203.0.113.42".into(), rule: Rule::NotFound, count: 20, first_at: far };
    let v = e.observe_tracker(&r, now);
    assert!(matches!(&v[..], [Verdict::Ban(_)]), "{v:?}");
    assert!(warden::time::parse_db_time("+262142-12-31 23:59:59").is_none(), "no sign-prefixed years");
}

#[test]
fn sixty_404s_in_one_second_make_one_ban_not_a_permanent_third() {
    let mut e = engine();
    let at = t("2026-11-21 10:00:00");
    let mut orders = Vec::new();
    for i in 0..60 {
        orders.extend(
            e.observe(&not_found("203.0.113.66", at, i), at).into_iter().filter(|v| matches!(v, Verdict::Ban(_))),
        );
    }
    assert_eq!(orders.len(), 1, "the lines after the ban in its own second are the banned client's: {orders:?}");
    // A ban known only from logs.db (after a restart) does not know which of that second's lines
    // came first: they are judged as before the ban, so the same ban is ordered again, not a
    // second offence.
    let mut fresh = engine();
    fresh.sync_bans([("203.0.113.66", Some(at), Some(at + Duration::hours(24)))]);
    let again: Vec<Verdict> = (0..20).flat_map(|i| fresh.observe(&not_found("203.0.113.66", at, i), at)).collect();
    assert!(
        again.iter().any(|v| matches!(v, Verdict::Ban(o) if o.at == at && o.length == BanLength::Hours(24))),
        "{again:?}"
    );
    let later = at + Duration::seconds(1);
    assert!(fresh.observe(&not_found("203.0.113.66", later, 99), later).is_empty(), "a second later: banned");
}

/// The interner keeps at most 200 000 distinct paths and key hashes. Once the counters that held
/// them are evicted, compaction must free them, or every later offender's paths go unremembered
/// for as long as the process runs.
#[test]
fn once_the_interned_paths_are_full_evicted_ones_make_room_and_live_ones_survive_renumbered() {
    let mut cfg = Config::default();
    cfg.rules.not_found_threshold = 1_000_000; // one address can send every path without a ban
    let mut e = Engine::new(cfg.own_thresholds(), cfg.protection().expect("protection"), cfg.near_fraction);
    let t0 = t("2026-11-21 00:00:00");
    let late = t0 + Duration::hours(23);
    let items =
        |e: &Engine, ip: &str, rule| e.window(ip.parse().expect("ip"), rule).map(|w| w.items).unwrap_or_default();
    let hit = |e: &mut Engine, ip: &str, rule, item: &str, at| {
        e.observe_item(ip.parse().expect("ip"), ip.as_bytes(), rule, Some(item.as_bytes()), at, Source::Proxy, at);
    };
    // One scanner fills the interner with paths, in a window that is over a day later; the
    // first thousand come before the strings that stay, so that those are numbered again.
    let scan = |e: &mut Engine, from, to| {
        for i in from..to {
            hit(e, "203.0.113.9", Rule::NotFound, &format!("/scan/{i}"), t0);
        }
    };
    scan(&mut e, 0, 1_000);
    // Live through the compaction: two paths (held inline), three (in a list), one key hash.
    for p in ["/d1", "/d2"] {
        hit(&mut e, "198.51.100.1", Rule::NotFound, p, late);
    }
    for p in ["/l1", "/l2", "/l3"] {
        hit(&mut e, "198.51.100.2", Rule::NotFound, p, late);
    }
    let at_key = t0 + Duration::hours(25) - Duration::minutes(1);
    hit(&mut e, "198.51.100.3", Rule::InvalidApiKey, "00000000000000aa", at_key);
    scan(&mut e, 1_000, 200_000);
    hit(&mut e, "198.51.100.4", Rule::NotFound, "/too-many", late);
    assert!(items(&e, "198.51.100.4", Rule::NotFound).is_empty(), "the interner is full");

    let now = t0 + Duration::hours(25);
    e.evict(now);
    assert!(e.window("203.0.113.9".parse().expect("ip"), Rule::NotFound).is_none(), "the scanner's window is over");
    hit(&mut e, "198.51.100.5", Rule::NotFound, "/after", now);
    assert_eq!(items(&e, "198.51.100.5", Rule::NotFound), ["/after"], "a new path is remembered again");
    assert_eq!(items(&e, "198.51.100.1", Rule::NotFound), ["/d1", "/d2"]);
    assert_eq!(items(&e, "198.51.100.2", Rule::NotFound), ["/l1", "/l2", "/l3"]);
    // The same key two minutes later still counts once: its five-minute memory was renumbered.
    hit(&mut e, "198.51.100.3", Rule::InvalidApiKey, "00000000000000aa", now + Duration::minutes(1));
    let w = e.window("198.51.100.3".parse().expect("ip"), Rule::InvalidApiKey).expect("window");
    assert_eq!((w.count, w.items), (1, vec!["00000000000000aa".to_string()]));
    // More paths on the live list land after the old ones.
    hit(&mut e, "198.51.100.2", Rule::NotFound, "/l4", now);
    assert_eq!(items(&e, "198.51.100.2", Rule::NotFound), ["/l1", "/l2", "/l3", "/l4"]);
}
