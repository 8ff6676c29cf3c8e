//! The desktop app's views and actions (`warden::dashboard`), on real files, without Tauri.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use chrono::TimeDelta;
use warden::config::{Config, NotifyConfig, Paths};
use warden::dashboard::alerts::Alerts;
use warden::dashboard::settings::SettingsForm;
use warden::dashboard::traffic::TrafficFilter;
use warden::dashboard::Desk;
use warden::event::{Rule, Source};
use warden::monitor::Notice;
use warden::time::format_db_time;

use crate::common::{fresh_logs_db, raw, t};

const NOW: &str = "2026-11-22 10:30:30.000000";

fn desk(dir: &Path) -> Desk {
    let logs_db = fresh_logs_db(dir);
    let cfg = Config::default();
    let paths = Paths { logs_db, openalgo_db: None, state_db: dir.join("state.db"), access_logs: Vec::new() };
    Desk { cfg, paths, config_path: Some(dir.join("cfg/config.toml")), demo: None }
}

fn request(db: &Path, at: &str, ip: &str, path: &str, status: u16, host: &str) {
    raw(db)
        .execute(
            "INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) \
             VALUES (?1, ?2, 'GET', ?3, ?4, 1.5, ?5)",
            rusqlite::params![at, ip, path, status, host],
        )
        .unwrap();
}

#[test]
fn overview_counts_requests_per_minute_by_status_and_ranks_offenders() {
    let dir = tempfile::tempdir().unwrap();
    let d = desk(dir.path());
    let db = &d.paths.logs_db;
    request(db, "2026-11-22 10:29:05.000000", "203.0.113.7", "/wp-login.php", 404, "x");
    request(db, "2026-11-22 10:29:06.000000", "203.0.113.7", "/api/v1/funds", 403, "x");
    request(db, "2026-11-22 10:30:01.000000", "198.51.100.2", "/", 200, "x");
    request(db, "2026-11-22 10:30:02.000000", "198.51.100.2", "/boom", 500, "x");
    request(db, "2026-11-22 08:00:00.000000", "198.51.100.2", "/old", 200, "x");
    raw(db)
        .execute(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) \
             VALUES ('203.0.113.7', 17, '2026-11-22 10:00:00', '2026-11-22 10:29:05', '[\"/a\"]')",
            [],
        )
        .unwrap();
    let o = d.overview(t(NOW)).unwrap();
    assert_eq!(o.per_minute.len(), 60, "an hour of minutes");
    assert_eq!(o.per_minute_source, "logs.db");
    let last = o.per_minute[59];
    let prev = o.per_minute[58];
    assert_eq!(last.at, t("2026-11-22 10:30:00"), "the newest bucket is the current minute");
    assert_eq!((last.ok, last.errors), (1, 1), "10:30 had a 200 and a 500");
    assert_eq!((prev.not_found, prev.denied), (1, 1), "10:29 had a 404 and a 403");
    let total: u32 = o.per_minute.iter().map(|b| b.ok + b.not_found + b.denied + b.other_4xx + b.errors).sum();
    assert_eq!(total, 4, "the 08:00 request is outside the hour");
    assert_eq!(o.status.near_threshold, 1, "17 of 20 is near at 80 %");
    assert_eq!(o.top[0].ip, "203.0.113.7");
    assert_eq!(o.top[0].not_found, 17);
    assert!(o.warnings.iter().any(|w| w.id == "no_access_log"), "{:?}", o.warnings);
}

#[test]
fn overview_reports_a_missing_logs_db_as_a_source_problem_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = desk(dir.path());
    d.paths.logs_db = dir.path().join("nope/logs.db");
    let o = d.overview(t(NOW)).expect("the overview still loads");
    assert_eq!(o.sources[0].name, "logs.db");
    assert!(matches!(o.sources[0].health, warden::source::openalgo::Health::Missing(_)), "{:?}", o.sources[0]);
    assert!(o.warnings.iter().any(|w| w.id == "source" && w.level == "danger"), "{:?}", o.warnings);
}

#[test]
fn overview_warns_when_openalgo_trusts_no_proxy_headers() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = desk(dir.path());
    let oa_dir = dir.path().join("openalgo/db");
    std::fs::create_dir_all(&oa_dir).unwrap();
    std::fs::copy(crate::common::fixture("openalgo_settings_only.db"), oa_dir.join("openalgo.db")).unwrap();
    std::fs::write(dir.path().join("openalgo/.env"), "FLASK_PORT=5000\nTRUST_PROXY_HEADERS = 'FALSE' # default\n")
        .unwrap();
    d.paths.openalgo_db = Some(oa_dir.join("openalgo.db"));
    let o = d.overview(t(NOW)).unwrap();
    assert_eq!(o.openalgo.as_ref().unwrap().trust_proxy_headers, Some(false));
    assert!(o.warnings.iter().any(|w| w.id == "trust_proxy_headers_off"), "{:?}", o.warnings);
    std::fs::write(dir.path().join("openalgo/.env"), "TRUST_PROXY_HEADERS=TRUE\n").unwrap();
    let o = d.overview(t(NOW)).unwrap();
    assert_eq!(o.openalgo.unwrap().trust_proxy_headers, Some(true));
}

#[test]
fn the_overview_counts_failing_server_checks_after_the_other_dangers() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = desk(dir.path());
    let oa_dir = dir.path().join("openalgo/db");
    std::fs::create_dir_all(&oa_dir).unwrap();
    std::fs::copy(crate::common::fixture("openalgo_settings_only.db"), oa_dir.join("openalgo.db")).unwrap();
    std::fs::write(dir.path().join("openalgo/.env"), "TRUST_PROXY_HEADERS = 'FALSE'\n").unwrap();
    d.paths.openalgo_db = Some(oa_dir.join("openalgo.db"));
    let summary = |fail| warden::check::Summary { fail, warn: 1, unknown: 0, pass: 9 };
    let o = d.overview(t(NOW)).unwrap().with_checklist(summary(0));
    assert_eq!(o.checklist.map(|s| s.pass), Some(9));
    assert!(!o.warnings.iter().any(|w| w.id == "checklist"), "nothing failing, nothing said");
    let o = d.overview(t(NOW)).unwrap().with_checklist(summary(3));
    let levels: Vec<&str> = o.warnings.iter().map(|w| w.level).collect();
    let at = o.warnings.iter().position(|w| w.id == "checklist").expect("warned");
    assert_eq!(o.warnings[at].title, "3 server checks are failing.");
    assert_eq!(o.warnings[at].level, "danger");
    assert!(
        levels[..at].iter().all(|l| *l == "danger")
            && levels[at..].windows(2).all(|w| w[0] == "danger" || w[1] != "danger"),
        "{levels:?}"
    );
    assert!(levels.len() > 1, "the other warnings are kept: {levels:?}");
}

#[test]
fn overview_warns_when_every_request_comes_from_one_private_address() {
    let dir = tempfile::tempdir().unwrap();
    let d = desk(dir.path());
    for i in 0..60 {
        request(&d.paths.logs_db, &format!("2026-11-22 10:{:02}:00", i % 30), "172.17.0.1", "/", 200, "h");
    }
    let o = d.overview(t(NOW)).unwrap();
    assert!(o.warnings.iter().any(|w| w.id == "one_client_ip"), "{:?}", o.warnings);
}

#[test]
fn traffic_filters_by_address_status_and_text_across_logs_db_and_access_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = desk(dir.path());
    request(&d.paths.logs_db, "2026-11-22 10:00:00", "203.0.113.7", "/.env", 404, "evil.example");
    request(&d.paths.logs_db, "2026-11-22 10:00:01", "198.51.100.2", "/", 200, "openalgo.example");
    let log = dir.path().join("access.log");
    std::fs::write(
        &log,
        "203.0.113.7 - - [22/Nov/2026:10:00:02 +0000] \"GET /phpmyadmin HTTP/1.1\" 404 9 \"-\" \"<script>alert(1)</script>\"\n\
         garbage line\n\
         198.51.100.2 - - [22/Nov/2026:10:00:03 +0000] \"GET / HTTP/1.1\" 200 9 \"-\" \"Mozilla\"\n",
    )
    .unwrap();
    d.paths.access_logs = vec![(log, "combined".into())];
    let all = d.traffic(&TrafficFilter { limit: 100, ..Default::default() }).unwrap().rows;
    assert_eq!(all.len(), 4, "two rows from logs.db, two parsed lines from the access log: {all:?}");
    assert_eq!(all[0].path, "/", "newest first");
    assert_eq!(all[0].source, "access.log");
    let mine =
        d.traffic(&TrafficFilter { ip: Some("203.0.113.7".into()), limit: 100, ..Default::default() }).unwrap().rows;
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].user_agent.as_deref(), Some("<script>alert(1)</script>"), "kept as data");
    let nf = d.traffic(&TrafficFilter { status: Some("404".into()), limit: 100, ..Default::default() }).unwrap().rows;
    assert!(nf.iter().all(|r| r.status == 404) && nf.len() == 2);
    let text = d.traffic(&TrafficFilter { text: Some("EVIL".into()), limit: 100, ..Default::default() }).unwrap().rows;
    assert_eq!(text.len(), 1, "matches the Host header without case");
    let err = d.traffic(&TrafficFilter { status: Some("teapot".into()), limit: 10, ..Default::default() }).unwrap_err();
    assert_eq!(err.kind, "invalid_input");
    let limited = d.traffic(&TrafficFilter { limit: 1, ..Default::default() }).unwrap();
    assert_eq!(limited.rows.len(), 1);
    assert!(limited.older.is_some(), "more pages");
}

#[test]
fn traffic_pages_through_the_whole_history_of_every_source_once_each_one_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = desk(dir.path());
    let base = t("2026-11-22 00:00:00");
    let conn = raw(&d.paths.logs_db);
    for i in 0..250i64 {
        conn.execute(
            "INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) \
             VALUES (?1, '203.0.113.1', 'GET', ?2, 200, 1.0, 'h')",
            rusqlite::params![format_db_time(base + TimeDelta::seconds(2 * i)), format!("/db/{i}")],
        )
        .unwrap();
    }
    // 120 000 lines (about 12 MiB): more than one 8 MiB window. The ten oldest hold a needle.
    let log = dir.path().join("access.log");
    let mut text = String::new();
    for i in 0..120_000i64 {
        let at = (base + TimeDelta::seconds(2 * i + 1)).format("%d/%b/%Y:%H:%M:%S +0000");
        let path = if i < 10 { format!("/needle/{i}") } else { format!("/log/{i}") };
        text.push_str(&format!("198.51.100.9 - - [{at}] \"GET {path} HTTP/1.1\" 200 9 \"-\" \"Mozilla/5.0\"\n"));
    }
    std::fs::write(&log, text).unwrap();
    d.paths.access_logs = vec![(log, "combined".into())];

    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = d.traffic(&TrafficFilter { limit: 4_999, before: before.clone(), ..Default::default() }).unwrap();
        assert!(page.rows.len() <= 4_999);
        seen.extend(page.rows.into_iter().map(|r| (r.at, r.path)));
        pages += 1;
        match page.older {
            Some(c) => before = Some(c),
            None => break,
        }
        assert!(pages < 1000, "paging ends");
    }
    assert_eq!(seen.len(), 120_250, "every request once");
    let distinct: std::collections::HashSet<&String> = seen.iter().map(|(_, p)| p).collect();
    assert_eq!(distinct.len(), 120_250, "no request twice");
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first across pages and sources");
    assert_eq!(seen.last().map(|(_, p)| p.as_str()), Some("/db/0"));

    // A filter that only matches the oldest lines, beyond the newest window, still finds them.
    let needle = d.traffic(&TrafficFilter { text: Some("needle".into()), limit: 50, ..Default::default() }).unwrap();
    assert_eq!(needle.rows.len(), 10, "{:?}", needle.rows.iter().map(|r| &r.path).collect::<Vec<_>>());
    assert!(needle.older.is_none());
}

#[test]
fn ip_detail_puts_bans_trackers_audit_and_requests_on_one_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let d = desk(dir.path());
    request(&d.paths.logs_db, "2026-11-22 10:00:00", "203.0.113.7", "/.env", 404, "h");
    d.ban("203.0.113.7", "probing", "48h", t(NOW)).unwrap();
    let detail = d.ip_detail(" 203.0.113.7 ", t(NOW)).unwrap();
    assert_eq!(detail.ip, "203.0.113.7");
    assert_eq!(detail.protected, None);
    assert_eq!(detail.bans.len(), 1);
    assert_eq!(detail.offences, 1);
    let kinds: Vec<&str> = detail.timeline.iter().map(|i| i.kind).collect();
    for k in ["ban", "offence", "audit", "request"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(detail.timeline.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
    let local = d.ip_detail("127.0.0.1", t(NOW)).unwrap();
    assert!(local.protected.is_some(), "loopback says why it is never banned");
    assert_eq!(d.ip_detail("not-an-ip", t(NOW)).unwrap_err().kind, "invalid_input");
}

#[test]
fn manual_ban_offers_exactly_the_four_durations_and_names_each_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let d = desk(dir.path());
    let done = d.ban("198.51.100.9", "", "1w", t(NOW)).unwrap();
    assert_eq!(done.expires_at, Some(t(NOW) + TimeDelta::hours(168)));
    let row: String = raw(&d.paths.logs_db)
        .query_row("SELECT ban_reason FROM ip_bans WHERE ip_address = '198.51.100.9'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(row, "Manual ban", "an empty reason gets OpenAlgo's default");
    assert_eq!(d.ban("198.51.100.10", "x", "72h", t(NOW)).unwrap_err().kind, "invalid_input");
    assert_eq!(d.ban("127.0.0.1", "x", "24h", t(NOW)).unwrap_err().kind, "protected");
    assert_eq!(d.ban("<b>", "x", "24h", t(NOW)).unwrap_err().kind, "invalid_input");
    assert_eq!(d.unban("198.51.100.9", t(NOW)).unwrap(), 1);
    assert_eq!(d.clear("198.51.100.9", "rate", t(NOW)).unwrap_err().kind, "invalid_input");
    let audit = d.audit(10).unwrap();
    assert_eq!(audit.len(), 2, "ban and unban are audited: {audit:?}");
    assert!(audit.iter().all(|a| a.actor == "gui"));
}

#[test]
fn host_ban_shows_distinct_addresses_then_bans_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = desk(dir.path());
    for i in 0..5 {
        request(&d.paths.logs_db, &format!("2026-11-22 10:00:0{i}"), "203.0.113.7", "/", 200, "Evil.Example:443");
    }
    request(&d.paths.logs_db, "2026-11-22 10:00:06", "198.51.100.3", "/", 200, "evil.example");
    request(&d.paths.logs_db, "2026-11-22 10:00:07", "192.168.1.5", "/", 200, "evil.example");
    request(&d.paths.logs_db, "2026-11-22 10:00:08", "198.51.100.4", "/", 200, "notevil.example");
    let p = d.host_preview("evil.example.").unwrap();
    assert_eq!(p.host, "evil.example");
    let ips: Vec<&str> = p.candidates.iter().map(|c| c.ip.as_str()).collect();
    assert_eq!(ips.len(), 3, "distinct addresses with that Host header only: {ips:?}");
    assert!(!ips.contains(&"198.51.100.4"), "a longer name is another host");
    let lan = p.candidates.iter().find(|c| c.ip == "192.168.1.5").unwrap();
    assert!(lan.protected.is_some(), "a private address is shown as protected");
    let all: Vec<String> = p.candidates.iter().map(|c| c.ip.clone()).collect();
    let r = d.ban_host("evil.example", "scanner farm", "24h", &all, t(NOW)).unwrap();
    assert_eq!(r.banned.len(), 2);
    assert_eq!(r.skipped.len(), 1, "{:?}", r.skipped);
    assert!(r.banned.iter().all(|b| b.ban_count == 1 && !b.permanent), "one ban per address, never escalated");
    let reason: String = raw(&d.paths.logs_db)
        .query_row("SELECT ban_reason FROM ip_bans WHERE ip_address = '203.0.113.7'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(reason, "Host ban: evil.example - scanner farm");
    assert_eq!(d.host_preview("bad host!").unwrap_err().kind, "invalid_input");
    let local = d.host_preview("localhost").unwrap();
    assert!(local.candidates.iter().all(|c| c.protected.is_some()), "{local:?}");
}

fn form(d: &Desk) -> SettingsForm {
    d.settings()
}

#[test]
fn settings_put_each_problem_next_to_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = desk(dir.path());
    let mut f = form(&d);
    f.not_found_threshold = 0;
    f.api_ban_hours = -1;
    f.allow = vec!["10.0.0.0/8".into(), "my laptop".into()];
    f.near_fraction = 1.5;
    f.logs_db = "relative/logs.db".into();
    f.thresholds = "both".into();
    let e = d.save_settings(&f).unwrap_err();
    assert_eq!(e.kind, "invalid_settings");
    let fields = e.fields.unwrap();
    for k in ["not_found_threshold", "api_ban_hours", "allow", "near_fraction", "logs_db", "thresholds"] {
        assert!(fields.contains_key(k), "{k} missing from {fields:?}");
    }
    assert!(fields["allow"].contains("my laptop"), "{}", fields["allow"]);
    assert!(!dir.path().join("cfg/config.toml").exists(), "nothing saved");
}

#[test]
fn settings_save_with_mode_0600_and_come_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let d = desk(dir.path());
    let mut f = form(&d);
    f.not_found_threshold = 30;
    f.allow = vec!["203.0.113.0/24".into()];
    f.notify_near = false;
    f.access_logs = vec![warden::dashboard::settings::AccessLogSetting {
        path: "/var/log/nginx/access.log".into(),
        format: "".into(),
    }];
    let next = d.save_settings(&f).unwrap();
    let path = dir.path().join("cfg/config.toml");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let loaded = Config::load(Some(&path)).unwrap();
    assert_eq!(loaded.rules.not_found_threshold, 30);
    assert_eq!(loaded.notify, NotifyConfig { near: false, ..NotifyConfig::default() });
    assert_eq!(loaded.access_log[0].format, "combined", "an empty format means combined");
    assert_eq!(next.paths.state_db, d.paths.state_db, "the state database never moves");
    assert_eq!(next.settings().not_found_threshold, 30);
}

fn banned(ip: &str, at: &str) -> Notice {
    Notice::Banned {
        ip: ip.into(),
        rows: vec![ip.into()],
        rule: Rule::NotFound,
        reason: "r".into(),
        count: 20,
        threshold: 20,
        offence: 1,
        ban_count: 1,
        permanent: false,
        expires_at: Some(t(at) + TimeDelta::hours(24)),
        source: Source::Proxy,
        at: t(at),
    }
}

#[test]
fn alerts_say_the_count_and_coalesce_a_storm_into_one_summary() {
    let mut a = Alerts::new(NotifyConfig::default());
    let near = Notice::NearThreshold {
        ip: "203.0.113.7".into(),
        rule: Rule::NotFound,
        count: 16,
        threshold: 20,
        source: Source::Proxy,
        window_start: t(NOW),
    };
    let n = a.on_notice(&near, t(NOW)).unwrap();
    assert_eq!(n.body, "203.0.113.7: 16 of 20 404s in 24 h");
    let mut sent = Vec::new();
    for i in 0..12 {
        let at = format_db_time(t(NOW) + TimeDelta::seconds(i));
        sent.extend(a.on_notice(&banned(&format!("198.51.100.{i}"), &at), t(&at)));
    }
    assert_eq!(sent.len(), 3, "the first three go out one by one");
    assert_eq!(sent[0].title, "Banned 198.51.100.0");
    assert_eq!(sent[0].body, "20 of 20 404s in 24 h; banned for 24 h");
    assert!(a.flush(t(NOW) + TimeDelta::seconds(30)).is_empty(), "no summary before the minute ends");
    let summary = a.flush(t(NOW) + TimeDelta::seconds(61));
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].title, "12 IPs banned in the last minute");
    assert!(summary[0].body.contains("and 4 more"), "{}", summary[0].body);
    assert!(a.flush(t(NOW) + TimeDelta::seconds(200)).is_empty(), "said once");
    let later = format_db_time(t(NOW) + TimeDelta::seconds(300));
    assert!(a.on_notice(&banned("198.51.100.99", &later), t(&later)).is_some(), "a new minute starts afresh");
}

#[test]
fn alerts_follow_the_notification_settings() {
    let mut a = Alerts::new(NotifyConfig { banned: false, sources: false, ..NotifyConfig::default() });
    assert!(a.on_notice(&banned("198.51.100.1", NOW), t(NOW)).is_none());
    let failing = Notice::Source {
        name: "logs.db".into(),
        path: "/x".into(),
        health: warden::source::openalgo::Health::Locked("locked".into()),
    };
    assert!(a.on_notice(&failing, t(NOW)).is_none());
    a.set_notify(NotifyConfig::default());
    let ok = Notice::Source { name: "logs.db".into(), path: "/x".into(), health: warden::source::openalgo::Health::Ok };
    let mut b = Alerts::new(NotifyConfig::default());
    assert!(b.on_notice(&ok, t(NOW)).is_none(), "a source that is fine at start-up is no news");
    assert_eq!(b.on_notice(&failing, t(NOW)).unwrap().title, "Warden cannot read logs.db");
    assert!(b.on_notice(&failing, t(NOW)).is_none(), "said once while it stays failing");
    assert_eq!(b.on_notice(&ok, t(NOW)).unwrap().title, "logs.db is readable again");
}

#[test]
fn tracker_rows_say_which_addresses_are_banned_and_which_can_never_be() {
    let dir = tempfile::tempdir().unwrap();
    let d = desk(dir.path());
    let c = raw(&d.paths.logs_db);
    for (ip, n) in [("127.0.0.1", 22), ("203.0.113.7", 5), ("", 3), ("198.51.100.1", 4)] {
        c.execute(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) \
             VALUES (?1, ?2, '2026-11-22 10:00:00', '2026-11-22 10:01:00', '[]')",
            rusqlite::params![ip, n],
        )
        .unwrap();
    }
    d.ban("198.51.100.1", "", "24h", t(NOW)).unwrap();
    let rows = d.tracker_rows(t(NOW)).unwrap();
    let get = |ip: &str| rows.iter().find(|r| r.view.ip == ip).unwrap();
    assert!(get("127.0.0.1").protected.as_deref().unwrap().contains("loopback"), "{:?}", get("127.0.0.1"));
    assert!(get("").protected.is_some(), "an empty address is never offered a ban");
    assert_eq!(get("203.0.113.7").protected, None);
    assert!(!get("203.0.113.7").banned);
    assert!(get("198.51.100.1").banned);
    let json = serde_json::to_value(get("203.0.113.7")).unwrap();
    assert_eq!(json["count"], 5, "the entry's fields are flattened: {json}");
    let top = d.overview(t(NOW)).unwrap().top;
    assert!(top.iter().find(|o| o.ip == "127.0.0.1").unwrap().protected.is_some());
}

#[test]
fn the_chart_counts_the_whole_last_hour_of_a_busy_access_log_and_nothing_older() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = desk(dir.path());
    let log = dir.path().join("access.log");
    let line = |at: &str, status: u16| {
        format!("203.0.113.7 - - [{at}] \"GET /some/fairly/long/path/to/fill/the/line HTTP/1.1\" {status} 512 \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"\n")
    };
    let mut text = String::new();
    for _ in 0..5_000 {
        text.push_str(&line("22/Nov/2026:08:00:00 +0000", 200)); // two hours before NOW
    }
    // 15 000 requests in the last hour: more than the first 1 MiB read holds.
    for i in 0..15_000 {
        text.push_str(&line(&format!("22/Nov/2026:10:{:02}:00 +0000", i % 30), if i % 3 == 0 { 404 } else { 200 }));
    }
    assert!(text.len() > 2 << 20, "the recent part alone exceeds the first read");
    std::fs::write(&log, text).unwrap();
    d.paths.access_logs = vec![(log, "combined".into())];
    let o = d.overview(t(NOW)).unwrap();
    assert_eq!(o.per_minute_source, "access log");
    let total: u32 = o.per_minute.iter().map(|b| b.ok + b.not_found + b.denied + b.other_4xx + b.errors).sum();
    assert_eq!(total, 15_000, "every request of the last hour, none older");
    assert_eq!(o.per_minute.iter().map(|b| b.not_found).sum::<u32>(), 5_000);
}

/// The overview's chart and its one-address warning from a running monitor's counters are the
/// same as read from the logs: after the monitor's first round, after new requests, and after a
/// restart, when the monitor resumes past what it read and the hour before comes from the seed.
#[test]
fn the_chart_from_the_monitors_counters_matches_the_chart_read_from_the_logs_across_a_restart() {
    use warden::monitor::Monitor;
    let dir = tempfile::tempdir().unwrap();
    let mut d = desk(dir.path());
    let log = dir.path().join("access.log");
    let line =
        |ip: &str, at: &str, status: u16| format!("{ip} - - [{at}] \"GET /x HTTP/1.1\" {status} 5 \"-\" \"ua\"\n");
    let mut text = String::new();
    // 90 minutes, in time order, half of them before the chart's hour: one scanner with 15 404s
    // (suspicious, not yet near), 30 addresses with two or three each, and others' 200s, 403s and
    // 500s.
    for i in 0..300 {
        let minute = i * 90 / 300;
        let ip = if i % 4 == 1 && i < 60 { "198.51.100.9".to_string() } else { format!("203.0.113.{}", i % 30) };
        let at = format!("22/Nov/2026:{:02}:{:02}:00 +0000", 9 + minute / 60, minute % 60);
        text.push_str(&line(&ip, &at, [200, 404, 403, 500][i % 4]));
    }
    std::fs::write(&log, &text).unwrap();
    d.paths.access_logs = vec![(log.clone(), "combined".into())];
    for i in 0..60 {
        request(&d.paths.logs_db, &format!("2026-11-22 10:{:02}:00", i % 30), "172.17.0.1", "/", 200, "h");
    }
    // The totals read from the logs come from the counters the saving thread wrote to the state,
    // which lag the monitor's own until it stops: they are compared once it has.
    let same = |pulse: &warden::monitor::SharedPulse, now: &str, what: &str, totals: bool| {
        let live = d.overview_with(t(now), Some(&pulse.lock().unwrap().clone())).unwrap();
        let read = d.overview(t(now)).unwrap();
        assert_eq!(live.per_minute_source, read.per_minute_source, "{what}");
        assert_eq!(live.per_minute, read.per_minute, "{what}: the chart");
        assert_eq!(live.warnings, read.warnings, "{what}: the warnings");
        if totals {
            assert_eq!(live.status, read.status, "{what}: the stat cards");
            assert_eq!(live.top, read.top, "{what}: the top offenders");
        }
        live
    };
    let cfg = Config::default();
    let mut m = Monitor::open(&cfg, &d.paths).unwrap();
    let pulse = m.share_pulse();
    m.tick(t(NOW));
    d.seed_pulse(&pulse, t(NOW));
    let o = same(&pulse, NOW, "after the first round", false);
    assert_eq!(o.per_minute_source, "access log");
    assert!(o.per_minute.iter().map(|b| b.not_found).sum::<u32>() > 0);
    assert!(o.warnings.iter().any(|w| w.id == "one_client_ip"), "{:?}", o.warnings);

    let mut more = String::new();
    for s in 0..20 {
        more.push_str(&line("192.0.2.44", &format!("22/Nov/2026:10:31:{s:02} +0000"), 404));
    }
    std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(more.as_bytes()).unwrap();
    for s in 0..5 {
        request(&d.paths.logs_db, &format!("2026-11-22 10:31:{s:02}"), "172.17.0.1", "/", 200, "h");
    }
    m.tick(t("2026-11-22 10:31:40"));
    let o = same(&pulse, "2026-11-22 10:31:40", "after new requests", false);
    assert_eq!(o.per_minute[59].not_found, 20, "the new minute's 404s, counted once");
    drop(m);
    let stopped = d.overview_with(t("2026-11-22 10:31:40"), Some(&pulse.lock().unwrap().clone())).unwrap();
    let read = d.overview(t("2026-11-22 10:31:40")).unwrap();
    assert_eq!((&stopped.status, &stopped.top), (&read.status, &read.top), "the totals from the counters");
    assert!(stopped.status.suspicious_ips == 1 && stopped.status.total_bans == 1, "{:?}", stopped.status);
    assert_eq!(stopped.top.len(), 10, "the scanner and nine with a few 404s each: {:?}", stopped.top);
    assert!(pulse.lock().unwrap().windows.is_some(), "the monitor published its counters");

    let mut m = Monitor::open(&cfg, &d.paths).unwrap();
    let pulse = m.share_pulse();
    m.tick(t("2026-11-22 10:32:00"));
    assert!(pulse.lock().unwrap().access.first_minute().is_none(), "the restarted monitor resumed past every line");
    d.seed_pulse(&pulse, t("2026-11-22 10:32:00"));
    same(&pulse, "2026-11-22 10:32:00", "after a restart", true);
}

#[test]
fn a_failing_enforcement_point_and_its_recovery_each_alert_once() {
    let sink = |state, error: Option<&str>| Notice::Sink {
        name: "nginx".into(),
        state,
        entries: 3,
        error: error.map(String::from),
    };
    let mut a = Alerts::new(NotifyConfig::default());
    use warden::enforce::SinkState::{Failing, Working};
    assert!(a.on_notice(&sink(Working, None), t(NOW)).is_none(), "working at start is no news");
    let down = a.on_notice(&sink(Failing, Some("nginx's check refused the new ban list")), t(NOW)).expect("alert");
    assert_eq!(down.title, "Bans are not reaching nginx");
    assert!(down.body.contains("check refused"), "{}", down.body);
    assert!(a.on_notice(&sink(Failing, Some("again")), t(NOW)).is_none(), "once while it stays failing");
    assert_eq!(a.on_notice(&sink(Working, None), t(NOW)).expect("recovery").title, "Bans reach nginx again");
    let mut off = Alerts::new(NotifyConfig { sources: false, ..NotifyConfig::default() });
    assert!(off.on_notice(&sink(Failing, Some("x")), t(NOW)).is_none(), "follows notify.sources");
}
