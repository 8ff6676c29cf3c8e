//! Access logs through the live monitor and through `warden replay`, with real files on disk.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Duration;
use warden::config::{Config, Paths};
use warden::monitor::{Monitor, Notice};
use warden::time::Timestamp;

use crate::common::{fresh_logs_db, raw};

fn line(ip: &str, at: Timestamp, path: &str, status: u16) -> String {
    format!(
        "{ip} - - [{}] \"GET {path} HTTP/1.1\" {status} 153 \"-\" \"Mozilla/5.0 zgrab/0.x\"\n",
        at.format("%d/%b/%Y:%H:%M:%S +0000")
    )
}

fn append(path: &Path, text: &str) {
    OpenOptions::new().create(true).append(true).open(path).expect("open").write_all(text.as_bytes()).expect("write");
}

fn scan(ip: &str, from: Timestamp, n: i64) -> String {
    (0..n).map(|i| line(ip, from + Duration::seconds(i), &format!("/probe-{i}.php"), 404)).collect()
}

struct Setup {
    dir: tempfile::TempDir,
    log: PathBuf,
    paths: Paths,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = fresh_logs_db(dir.path());
    let log = dir.path().join("access.log");
    let paths = Paths {
        logs_db: logs,
        openalgo_db: None,
        state_db: dir.path().join("state.db"),
        access_logs: vec![(log.clone(), "combined".into())],
    };
    Setup { dir, log, paths }
}

fn banned(n: &[Notice]) -> Vec<String> {
    n.iter().filter_map(|n| if let Notice::Banned { ip, .. } = n { Some(ip.clone()) } else { None }).collect()
}

#[test]
fn bans_a_scanner_that_only_the_access_log_sees() {
    let s = setup();
    let now = warden::time::now();
    append(&s.log, &scan("198.51.100.200", now - Duration::seconds(60), 19));
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    let n = m.tick(now);
    assert!(banned(&n).is_empty(), "19 404s: {n:?}");
    assert!(n.iter().any(|n| matches!(n, Notice::NearThreshold { ip, .. } if ip == "198.51.100.200")), "{n:?}");
    append(&s.log, &line("198.51.100.200", now - Duration::seconds(30), "/.env", 404));
    let n = m.tick(now);
    assert_eq!(banned(&n), ["198.51.100.200"], "{n:?}");
    let row: (String, i64) = raw(&s.paths.logs_db)
        .query_row("SELECT created_by, is_permanent FROM ip_bans WHERE ip_address = '198.51.100.200'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("row in logs.db");
    assert_eq!(row, ("warden:404".into(), 0));
}

#[test]
fn safe_paths_and_banned_clients_are_not_counted() {
    let s = setup();
    let now = warden::time::now();
    // A client already banned (in logs.db) keeps getting OpenAlgo's 403 on /api/v1/: those are
    // not invalid keys, and its 404s do not start a new count.
    raw(&s.paths.logs_db)
        .execute(
            "INSERT INTO ip_bans (ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, created_by) VALUES ('203.0.113.62', 'Manual ban', 1, ?1, NULL, 1, 'manual')",
            [warden::time::format_db_time(now - Duration::hours(1))],
        )
        .expect("ban");
    let mut text = String::new();
    for i in 0..30 {
        text.push_str(&line("203.0.113.60", now - Duration::seconds(100 - i), "/favicon.ico", 404));
        text.push_str(&line("203.0.113.61", now - Duration::seconds(100 - i), "/api/v1/funds", 200));
        text.push_str(&line("203.0.113.62", now - Duration::seconds(100 - i), "/api/v1/placeorder", 403));
        text.push_str(&line("203.0.113.62", now - Duration::seconds(100 - i), "/wp-login.php", 404));
    }
    append(&s.log, &text);
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    let n = m.tick(now);
    assert!(banned(&n).is_empty(), "{n:?}");
    assert!(n.iter().all(|n| !matches!(n, Notice::NearThreshold { .. })), "nothing counted: {n:?}");
}

#[test]
fn a_restart_mid_file_neither_loses_nor_double_counts() {
    let s = setup();
    let now = warden::time::now();
    let start = now - Duration::seconds(120);
    append(&s.log, &scan("203.0.113.70", start, 10));
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    assert!(banned(&m.tick(now)).is_empty());
    drop(m);
    // While stopped: nine more. Counted once each: 19, no ban.
    append(&s.log, &scan("203.0.113.70", start + Duration::seconds(10), 9));
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor again");
    let n = m.tick(now);
    assert!(banned(&n).is_empty(), "19 after a restart (a double count would have banned): {n:?}");
    drop(m);
    append(&s.log, &scan("203.0.113.70", start + Duration::seconds(19), 1));
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor a third time");
    assert_eq!(banned(&m.tick(now)), ["203.0.113.70"], "the 20th, nothing lost across two restarts");
}

#[test]
fn first_start_reads_back_rotated_history_within_the_depth() {
    let s = setup();
    let now = warden::time::now();
    // 15 lines from 30 h ago (beyond the 24 h depth) and 5 from 20 h ago in a compressed
    // rotation…
    let mut old = scan("203.0.113.80", now - Duration::hours(30), 15);
    old.push_str(&scan("203.0.113.80", now - Duration::hours(20), 5));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(old.as_bytes()).expect("gzip");
    std::fs::write(s.dir.path().join("access.log.2.gz"), gz.finish().expect("gzip")).expect("write .gz");
    // …5 recent ones in the previous file, 9 in the current one: 19 within 24 h.
    append(&s.dir.path().join("access.log.1"), &scan("203.0.113.80", now - Duration::hours(2), 5));
    append(&s.log, &scan("203.0.113.80", now - Duration::minutes(30), 9));
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    let n = m.tick(now);
    assert!(
        banned(&n).is_empty(),
        "19 within 24 h (5 of them from the .gz); the 30 h old lines are not counted: {n:?}"
    );
    append(&s.log, &scan("203.0.113.80", now - Duration::minutes(1), 1));
    assert_eq!(banned(&m.tick(now)), ["203.0.113.80"]);
}

#[test]
fn a_ban_from_history_that_has_run_out_is_not_written() {
    let s = setup();
    let now = warden::time::now();
    append(
        &s.dir.path().join("access.log.1"),
        &scan("203.0.113.90", now - Duration::hours(23) - Duration::minutes(59), 20),
    );
    let cfg = Config {
        rules: warden::config::RulesConfig { not_found_ban_hours: 1, ..Default::default() },
        ..Config::default()
    };
    let mut m = Monitor::open(&cfg, &s.paths).expect("monitor");
    let n = m.tick(now);
    assert!(banned(&n).is_empty(), "a 1 h ban from 24 h ago is over: {n:?}");
    let rows: i64 = raw(&s.paths.logs_db).query_row("SELECT COUNT(*) FROM ip_bans", [], |r| r.get(0)).expect("count");
    assert_eq!(rows, 0);
}

fn warden_replay(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "--state-db",
            dir.join("state.db").to_str().expect("utf8"),
            "--logs-db",
            dir.join("logs.db").to_str().expect("utf8"),
        ])
        .arg("replay")
        .args(args)
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .output()
        .expect("run warden replay")
}

#[test]
fn replay_reports_bans_near_misses_top_offenders_and_bad_lines() {
    let s = setup();
    let t0 = warden::time::parse_db_time("2025-01-13 10:00:00").expect("time");
    let mut text = scan("203.0.113.5", t0, 25);
    text.push_str(&scan("198.51.100.9", t0, 17));
    text.push_str("garbage line\n\u{1b}[31mred\n");
    text.push_str(&line("203.0.113.6", t0, "/ok", 200));
    // Half in a gzip file, given first although it is newer: replay orders by time.
    let newer = scan("203.0.113.7", t0 + Duration::hours(1), 3);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(newer.as_bytes()).expect("gzip");
    let gz_path = s.dir.path().join("newer.log.gz");
    std::fs::write(&gz_path, gz.finish().expect("gzip")).expect("write");
    std::fs::write(&s.log, &text).expect("write");
    let out = warden_replay(&["--json", gz_path.to_str().expect("utf8"), s.log.to_str().expect("utf8")], s.dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(r["lines"], 48);
    assert_eq!(r["unparsed"], 2);
    assert!(
        r["unparsed_samples"][1].as_str().is_some_and(|s| s.contains("\\u{1b}[31mred")),
        "escaped: {}",
        r["unparsed_samples"]
    );
    let bans = r["bans"].as_array().expect("bans");
    assert_eq!(bans.len(), 1);
    assert_eq!(
        (bans[0]["ip"].as_str(), bans[0]["rule"].as_str(), bans[0]["at"].as_str()),
        (Some("203.0.113.5"), Some("404"), Some("2025-01-13T10:00:19Z"))
    );
    assert_eq!(bans[0]["expires_at"], "2025-01-14T10:00:19Z");
    let near: Vec<&str> = r["near"].as_array().expect("near").iter().filter_map(|n| n["ip"].as_str()).collect();
    assert_eq!(near, ["203.0.113.5", "198.51.100.9"]);
    // Top offenders count every counted request, including those after the ban.
    let top: Vec<(&str, u64)> = r["top"]
        .as_array()
        .expect("top")
        .iter()
        .map(|t| (t["ip"].as_str().unwrap_or(""), t["total"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(top, [("203.0.113.5", 25), ("198.51.100.9", 17), ("203.0.113.7", 3)]);
    // --apply writes the ban, starting now.
    let out = warden_replay(&["--apply", s.log.to_str().expect("utf8")], s.dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let row: (String, Option<String>) = raw(&s.paths.logs_db)
        .query_row("SELECT created_by, expires_at FROM ip_bans WHERE ip_address = '203.0.113.5'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("applied ban");
    assert_eq!(row.0, "warden:404");
    let until = warden::time::parse_db_time(row.1.as_deref().expect("expiry")).expect("time");
    assert!(until > warden::time::now() + Duration::hours(23), "starts now, not in 2025");
    // Applying the same replay twice more does not make it a repeat offender.
    for _ in 0..2 {
        assert!(warden_replay(&["--apply", s.log.to_str().expect("utf8")], s.dir.path()).status.success());
    }
    let offences: i64 = raw(&s.dir.path().join("state.db"))
        .query_row("SELECT COUNT(*) FROM offences WHERE ip = '203.0.113.5'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(offences, 1);
    let permanent: i64 = raw(&s.paths.logs_db)
        .query_row("SELECT is_permanent FROM ip_bans WHERE ip_address = '203.0.113.5'", [], |r| r.get(0))
        .expect("row");
    assert_eq!(permanent, 0, "still a first offence");
}

#[test]
fn replay_reads_standard_input_and_survives_a_malformed_corpus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/malformed.log")).expect("corpus");
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["--state-db", dir.path().join("s.db").to_str().expect("utf8"), "replay", "--json", "-"])
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(&corpus).expect("feed");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let lines = r["lines"].as_u64().expect("lines");
    let unparsed = r["unparsed"].as_u64().expect("unparsed");
    assert!(lines >= 20 && unparsed >= 10 && unparsed < lines, "{r}");
    for s in r["unparsed_samples"].as_array().expect("samples") {
        let s = s.as_str().expect("text");
        assert!(!s.contains('\n') && !s.contains('\u{1b}') && s.chars().count() < 200, "sample not escaped: {s:?}");
    }
}

#[test]
fn a_ban_written_just_before_a_crash_is_recognised_and_counted_once() {
    let s = setup();
    let now = warden::time::now();
    append(&s.log, &scan("203.0.113.95", now - Duration::seconds(60), 20));
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    assert_eq!(banned(&m.tick(now)), ["203.0.113.95"]);
    drop(m);
    // The crash: the ban reached logs.db, but neither the offence nor the position and counters
    // reached Warden's state.
    raw(&s.paths.state_db)
        .execute_batch("DELETE FROM offences; DELETE FROM cursors; DELETE FROM windows;")
        .expect("forget");
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor after the crash");
    let n = m.tick(now);
    assert!(banned(&n).is_empty(), "the ban is already there, not written twice: {n:?}");
    let offences: i64 = raw(&s.paths.state_db)
        .query_row("SELECT COUNT(*) FROM offences WHERE ip = '203.0.113.95'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(offences, 1, "the offence is recorded once, from the re-read lines");
    let state = warden::store::StateDb::open(&s.paths.state_db).expect("state");
    assert_eq!(state.offence_counts().expect("counts").get(&"203.0.113.95".parse().expect("ip")), Some(&1));
}

#[test]
fn lines_from_an_earlier_minute_do_not_invent_a_burst() {
    let s = setup();
    let now = warden::time::now();
    let t0 = now - Duration::minutes(30);
    let t0 = t0 - Duration::seconds(t0.timestamp().rem_euclid(60)); // on a minute boundary
                                                                    // Two vhost logs interleaved badly: a later minute first, then many older lines.
    let mut text = line("203.0.113.96", t0 + Duration::minutes(5), "/auth/login", 200);
    for i in 0..30 {
        text.push_str(&line("203.0.113.96", t0 + Duration::seconds(i * 10), "/auth/login", 200));
    }
    append(&s.log, &text);
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    let n = m.tick(now);
    assert!(n.iter().all(|n| !matches!(n, Notice::Burst { .. })), "{n:?}");
}

#[test]
fn a_retargeted_symlinked_log_is_still_followed_live_through_notifications() {
    let s = setup();
    let a = s.dir.path().join("a");
    let b = s.dir.path().join("b");
    std::fs::create_dir_all(&a).expect("mkdir");
    std::fs::create_dir_all(&b).expect("mkdir");
    std::fs::write(a.join("access.log"), "").expect("create");
    std::os::unix::fs::symlink(a.join("access.log"), &s.log).expect("symlink");
    // A one-hour poll: only a file-system notification can wake the monitor in time.
    let cfg = Config { poll_seconds: 3600, history_hours: 0, ..Config::default() };
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = Monitor::open(&cfg, &s.paths).expect("monitor").spawn(move |n| {
        let _ = tx.send(n);
    });
    let handle = handle.expect("spawn");
    crate::common::wait_for(std::time::Duration::from_secs(10), "the access log to be read", || {
        rx.try_recv().ok().filter(|n| matches!(n, Notice::Source { name, .. } if name == "access log"))
    });
    // logrotate-like retarget into another directory, then writes there.
    std::fs::write(b.join("access.log"), "").expect("create");
    std::fs::remove_file(&s.log).expect("unlink");
    std::os::unix::fs::symlink(b.join("access.log"), &s.log).expect("symlink");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let now = warden::time::now();
    append(&b.join("access.log"), &scan("203.0.113.97", now - Duration::seconds(30), 20));
    let n = crate::common::wait_for(std::time::Duration::from_secs(10), "a ban from the new target", || {
        rx.try_recv().ok().filter(|n| matches!(n, Notice::Banned { .. }))
    });
    assert!(matches!(n, Notice::Banned { ref ip, .. } if ip == "203.0.113.97"), "{n:?}");
    handle.stop();
}

/// A trader's bot with one working and one stale key (successful calls and 403s, interleaved) and
/// a key sprayer (403s only) on the same API, in one access log.
fn bot_and_sprayer(t0: Timestamp) -> String {
    let mut text = String::new();
    for i in 0..15 {
        let at = t0 + Duration::minutes(i);
        text.push_str(&line("203.0.113.20", at, "/api/v1/placeorder", 200));
        text.push_str(&line("203.0.113.20", at + Duration::seconds(5), "/api/v1/orderbook", 403));
        text.push_str(&line("198.51.100.50", at + Duration::seconds(7), &format!("/api/v1/funds?try={i}"), 403));
    }
    text
}

#[test]
fn a_client_that_also_succeeds_is_reported_as_using_an_old_key_and_a_key_sprayer_is_banned() {
    let s = setup();
    let now = warden::time::now();
    append(&s.log, &bot_and_sprayer(now - Duration::minutes(20)));
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    let n = m.tick(now);
    assert_eq!(banned(&n), ["198.51.100.50"], "{n:?}");
    let stale: Vec<&Notice> = n.iter().filter(|n| matches!(n, Notice::StaleKey { .. })).collect();
    assert_eq!(stale.len(), 1, "{n:?}");
    let Notice::StaleKey { ip, count, threshold, last_ok } = stale[0] else { unreachable!() };
    assert_eq!((ip.as_str(), *count, *threshold), ("203.0.113.20", 10, 10));
    assert!(*last_ok <= now && *last_ok > now - Duration::minutes(20), "{last_ok}");
    assert!(stale[0].to_string().contains("a client of yours keeps using an old API key"), "{}", stale[0]);
    // More retries with the old key: still no ban, and said once per window.
    append(&s.log, &bot_and_sprayer(now - Duration::minutes(4)));
    let n = m.tick(now + Duration::seconds(1));
    assert!(banned(&n).is_empty() && !n.iter().any(|n| matches!(n, Notice::StaleKey { .. })), "{n:?}");
    let rows: i64 = raw(&s.paths.logs_db)
        .query_row("SELECT COUNT(*) FROM ip_bans WHERE ip_address = '203.0.113.20'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 0, "the trader's own bot is never banned for it");

    // Turned off, the same log bans both.
    let off = tempfile::tempdir().expect("tempdir");
    let paths = Paths {
        logs_db: fresh_logs_db(off.path()),
        openalgo_db: None,
        state_db: off.path().join("state.db"),
        access_logs: vec![(off.path().join("access.log"), "combined".into())],
    };
    append(&paths.access_logs[0].0, &bot_and_sprayer(now - Duration::minutes(20)));
    let mut cfg = Config::default();
    cfg.classify.spare_working_keys = false;
    let n = Monitor::open(&cfg, &paths).expect("monitor").tick(now);
    let mut both = banned(&n);
    both.sort();
    assert_eq!(both, ["198.51.100.50", "203.0.113.20"], "{n:?}");

    // Replay judges the same way.
    let t0 = warden::time::parse_db_time("2025-01-13 10:00:00").expect("time");
    std::fs::write(&s.log, bot_and_sprayer(t0)).expect("write");
    let out = warden_replay(&["--json", s.log.to_str().expect("utf8")], s.dir.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    let bans: Vec<&str> = r["bans"].as_array().expect("bans").iter().filter_map(|b| b["ip"].as_str()).collect();
    assert_eq!(bans, ["198.51.100.50"]);
    let notices = r["notices"].to_string();
    assert!(notices.contains("OLD KEY    203.0.113.20"), "{notices}");
}
