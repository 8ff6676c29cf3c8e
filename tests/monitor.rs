//! The monitor on real files: OpenAlgo's trackers in a real logs.db, written by a second
//! connection as OpenAlgo writes them, and Warden's state file across restarts.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use warden::config::{Config, Paths, ThresholdSource};
use warden::demo::openalgo::OpenAlgoEmulator;
use warden::event::Rule;
use warden::monitor::{Monitor, MonitorHandle, Notice};
use warden::time::Timestamp;

use crate::common::{fresh_logs_db, raw, t, wait_for};

struct Setup {
    _dir: tempfile::TempDir,
    logs: PathBuf,
    paths: Paths,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = fresh_logs_db(dir.path());
    let paths = Paths {
        logs_db: logs.clone(),
        openalgo_db: None,
        state_db: dir.path().join("state/warden.db"),
        access_logs: vec![],
    };
    Setup { _dir: dir, logs, paths }
}

/// `n` 404s from `ip`, one second apart from `start`, through OpenAlgo's own tracking logic.
fn scan(logs: &Path, ip: &str, start: Timestamp, n: i64) -> Timestamp {
    let mut emu = OpenAlgoEmulator::open(logs).expect("emulator");
    let mut at = start;
    for i in 0..n {
        at = start + Duration::seconds(i);
        emu.track_404(ip, &format!("/wp-{i}.php"), at).expect("track");
    }
    at
}

fn banned(notices: &[Notice]) -> Vec<(String, bool, u32)> {
    notices
        .iter()
        .filter_map(|n| match n {
            Notice::Banned { ip, permanent, offence, .. } => Some((ip.clone(), *permanent, *offence)),
            _ => None,
        })
        .collect()
}

fn near(notices: &[Notice]) -> usize {
    notices.iter().filter(|n| matches!(n, Notice::NearThreshold { .. })).count()
}

/// Makes writes to `ip_bans` fail (as on a full disk or a read-only file) while reads still work,
/// or lifts that again.
fn refuse_ban_writes(logs: &Path, refuse: bool) {
    let sql = if refuse {
        "CREATE TRIGGER refuse BEFORE INSERT ON ip_bans BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;"
    } else {
        "DROP TRIGGER refuse"
    };
    raw(logs).execute_batch(sql).expect("trigger");
}

fn tracker_rows(logs: &Path, ip: &str) -> i64 {
    raw(logs)
        .query_row("SELECT COUNT(*) FROM error_404_tracker WHERE ip_address = ?1", [ip], |r| r.get(0))
        .expect("count")
}

/// A live monitor on its own thread with a one-hour fallback poll, so that only a file
/// notification or a held-back scan's due time wakes it in time; returned once it has read
/// logs.db for the first time.
fn spawn_live(s: &Setup) -> (MonitorHandle, mpsc::Receiver<Notice>) {
    let cfg = Config { poll_seconds: 3600, ..Config::default() };
    let (tx, rx) = mpsc::channel();
    let handle = Monitor::open(&cfg, &s.paths)
        .expect("monitor")
        .spawn(move |n| {
            let _ = tx.send(n);
        })
        .expect("spawn");
    wait_for(StdDuration::from_secs(30), "the monitor's first read of logs.db", || {
        rx.try_recv().ok().filter(|n| matches!(n, Notice::Source { .. }))
    });
    (handle, rx)
}

#[test]
fn bans_when_openalgos_tracker_reaches_the_threshold_and_clears_the_tracker() {
    let s = setup();
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    let start = t("2026-11-21 10:00:00");
    let at = scan(&s.logs, "203.0.113.7", start, 15);
    assert!(banned(&m.tick(at)).is_empty());
    let at = scan(&s.logs, "203.0.113.7", at + Duration::seconds(1), 4);
    let n = m.tick(at);
    assert_eq!(near(&n), 1, "19 of 20 is near: {n:?}");
    assert!(banned(&n).is_empty(), "19 404s do not ban");
    let at = scan(&s.logs, "203.0.113.7", at + Duration::seconds(1), 1);
    let n = m.tick(at);
    assert_eq!(banned(&n), vec![("203.0.113.7".into(), false, 1)], "{n:?}");
    assert_eq!(tracker_rows(&s.logs, "203.0.113.7"), 0, "tracker cleared after the ban, as OpenAlgo does");
    let emu = OpenAlgoEmulator::open(&s.logs).expect("emulator");
    assert!(emu.is_ip_banned("203.0.113.7", at + Duration::hours(23)).expect("check"), "OpenAlgo enforces it");
    assert!(!emu.is_ip_banned("203.0.113.7", at + Duration::hours(24)).expect("check"), "for 24 h");
}

#[test]
fn third_offence_is_permanent_after_openalgo_deleted_the_expired_rows() {
    let s = setup();
    let mut start = t("2026-11-21 10:00:00");
    let mut got = Vec::new();
    for round in 0..3 {
        // A fresh monitor each round: only the state file remembers.
        let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
        let at = scan(&s.logs, "198.51.100.9", start, 20);
        let b = banned(&m.tick(at));
        assert_eq!(b.len(), 1, "round {round}: {b:?}");
        got.push((b[0].1, b[0].2));
        start = at + Duration::hours(49);
        // OpenAlgo's next request from that IP deletes the expired row: history gone from logs.db.
        let emu = OpenAlgoEmulator::open(&s.logs).expect("emulator");
        let still = emu.is_ip_banned("198.51.100.9", start).expect("check");
        assert_eq!(still, round == 2, "round {round}: only the third ban outlives the wait");
    }
    assert_eq!(got, vec![(false, 1), (false, 2), (true, 3)]);
    let row: (Option<String>, i64) = raw(&s.logs)
        .query_row("SELECT expires_at, is_permanent FROM ip_bans WHERE ip_address = '198.51.100.9'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("row");
    assert_eq!(row, (None, 1));
}

#[test]
fn near_threshold_fires_once_even_across_a_restart() {
    let s = setup();
    let start = t("2026-11-21 10:00:00");
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    let at = scan(&s.logs, "203.0.113.40", start, 16);
    assert_eq!(near(&m.tick(at)), 1, "16 of 20");
    let mut emu = OpenAlgoEmulator::open(&s.logs).expect("emulator");
    emu.track_404("203.0.113.40", "/more", at + Duration::seconds(1)).expect("track");
    let n = m.tick(at + Duration::seconds(1));
    assert_eq!(near(&n), 0, "17 of 20 in the same window: no second notice: {n:?}");
    drop(m);
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor again");
    emu.track_404("203.0.113.40", "/again", at + Duration::seconds(2)).expect("track");
    let n = m.tick(at + Duration::seconds(2));
    assert_eq!(near(&n), 0, "18 of 20 after a restart: the notice was already given: {n:?}");
}

#[test]
fn a_missing_logs_db_is_reported_and_picked_up_when_it_appears() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("db/logs.db");
    let paths =
        Paths { logs_db: logs.clone(), openalgo_db: None, state_db: dir.path().join("state.db"), access_logs: vec![] };
    let mut m = Monitor::open(&Config::default(), &paths).expect("monitor opens without logs.db");
    let now = t("2026-11-21 10:00:00");
    let n = m.tick(now);
    assert!(
        n.iter().any(|n| matches!(n, Notice::Source { health: warden::source::openalgo::Health::Missing(_), .. })),
        "{n:?}"
    );
    assert!(m.tick(now).iter().all(|n| !matches!(n, Notice::Source { .. })), "reported once, not every tick");
    std::fs::create_dir_all(logs.parent().unwrap()).expect("mkdir");
    warden::store::logs_db::create_openalgo_schema(&logs).expect("create");
    let at = scan(&logs, "203.0.113.60", now, 20);
    let n = m.tick(at);
    assert!(
        n.iter().any(|n| matches!(n, Notice::Source { health: warden::source::openalgo::Health::Ok, .. })),
        "{n:?}"
    );
    assert_eq!(banned(&n).len(), 1);
}

#[test]
fn follows_openalgos_thresholds_and_rereads_them_when_they_change() {
    let s = setup();
    let oa = s._dir.path().join("openalgo.db");
    let c = raw(&oa);
    c.execute_batch(
        "CREATE TABLE settings (id INTEGER NOT NULL, security_auto_ban_enabled BOOLEAN, security_404_threshold INTEGER,
           security_404_ban_duration INTEGER, security_api_threshold INTEGER, security_api_ban_duration INTEGER,
           security_repeat_offender_limit INTEGER, PRIMARY KEY (id));
         INSERT INTO settings VALUES (1, 0, 5, 0, 3, 12, 2);",
    )
    .expect("settings");
    let cfg = Config { thresholds: ThresholdSource::Openalgo, ..Config::default() };
    let paths = Paths { openalgo_db: Some(oa.clone()), ..s.paths.clone() };
    let mut m = Monitor::open(&cfg, &paths).expect("monitor");
    let start = t("2026-11-21 10:00:00");
    let at = scan(&s.logs, "203.0.113.70", start, 5);
    let n = m.tick(at);
    assert!(n.iter().any(|n| matches!(n, Notice::Thresholds { from, .. } if from == "openalgo")), "{n:?}");
    assert_eq!(banned(&n), vec![("203.0.113.70".into(), true, 1)], "threshold 5, duration 0 = permanent: {n:?}");
    c.execute("UPDATE settings SET security_404_threshold = 8, security_404_ban_duration = 24", []).expect("update");
    let at = scan(&s.logs, "203.0.113.71", at, 7);
    let n = m.tick(at);
    assert!(
        n.iter().any(|n| matches!(n, Notice::Thresholds { thresholds, .. } if thresholds.not_found.threshold == 8)),
        "{n:?}"
    );
    assert!(banned(&n).is_empty(), "7 of 8 does not ban");
    let at = scan(&s.logs, "203.0.113.71", at + Duration::seconds(1), 1);
    assert_eq!(banned(&m.tick(at)), vec![("203.0.113.71".into(), false, 1)]);
}

#[test]
fn protected_and_non_ip_tracker_rows_are_reported_never_banned() {
    let s = setup();
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    let start = t("2026-11-21 10:00:00");
    for ip in ["127.0.0.1", "::ffff:127.0.0.1", "172.17.0.1", "not-an-ip", ""] {
        scan(&s.logs, ip, start, 25);
    }
    let n = m.tick(start + Duration::seconds(30));
    assert!(banned(&n).is_empty(), "{n:?}");
    // `::ffff:127.0.0.1` is the same client as `127.0.0.1`: one report for the two rows.
    assert_eq!(n.iter().filter(|n| matches!(n, Notice::Protected { .. })).count(), 2, "{n:?}");
    assert_eq!(n.iter().filter(|n| matches!(n, Notice::NotAnIp { .. })).count(), 2, "{n:?}");
    let bans: i64 = raw(&s.logs).query_row("SELECT COUNT(*) FROM ip_bans", [], |r| r.get(0)).expect("count");
    assert_eq!(bans, 0);
}

#[test]
fn the_live_monitor_bans_within_moments_of_a_write_through_file_notifications() {
    let s = setup();
    // Only a file-system notification can wake the monitor in time.
    let (handle, rx) = spawn_live(&s);
    let now = warden::time::now();
    scan(&s.logs, "203.0.113.80", now - Duration::seconds(30), 20);
    let notice = wait_for(StdDuration::from_secs(10), "a ban notice", || {
        rx.try_recv().ok().filter(|n| matches!(n, Notice::Banned { .. }))
    });
    assert!(
        matches!(notice, Notice::Banned { ref ip, rule: Rule::NotFound, .. } if ip == "203.0.113.80"),
        "{notice:?}"
    );
    handle.stop();
}

#[test]
fn a_commit_held_back_by_the_scan_spacing_is_read_when_due_with_nothing_else_waking_the_monitor() {
    let s = setup();
    // 20 000 old rows (months of scanners): scans are 0.2 s apart.
    raw(&s.logs)
        .execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
             INSERT INTO invalid_api_key_tracker (ip_address, attempt_count, first_attempt_at, last_attempt_at, \
             api_keys_tried) SELECT '10.' || (i / 65536) || '.' || (i / 256 % 256) || '.' || (i % 256), 1, \
             '2025-11-01 00:00:00', '2025-11-01 00:00:00', '[]' FROM n",
        )
        .expect("fill the tracker");
    let (handle, rx) = spawn_live(&s);
    // One commit right after that scan, with nothing after it, of a row whose count (1) is too
    // low to be read between full scans: only the due time brings it in (the fallback poll is an
    // hour away). A name where an address belongs is reported whatever its count.
    let now = warden::time::now();
    let committed = std::time::Instant::now();
    raw(&s.logs)
        .execute(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) \
             VALUES ('scanner.example', 1, ?1, ?1, '[]')",
            [warden::time::format_db_time(now - Duration::seconds(30))],
        )
        .expect("track");
    let notice = wait_for(StdDuration::from_secs(10), "the held-back row's report", || {
        rx.try_recv().ok().filter(|n| matches!(n, Notice::NotAnIp { .. }))
    });
    assert!(matches!(notice, Notice::NotAnIp { ref raw, .. } if raw == "scanner.example"), "{notice:?}");
    // NOTE: Warden's own logs.db checkpointer also wakes the monitor, CHECKPOINT_EVERY (5 s)
    // after it started; the due time is 0.2 s after the first scan.
    let took = committed.elapsed();
    assert!(took < StdDuration::from_millis(2_500), "the held-back row came {took:?} after its commit");
    handle.stop();
}

#[test]
fn a_ban_that_cannot_be_written_is_announced_once_held_and_written_later() {
    let s = setup();
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    // Writes to ip_bans fail (as on a full disk or a read-only file); reads still work.
    refuse_ban_writes(&s.logs, true);
    let start = t("2026-11-21 10:00:00");
    let at = scan(&s.logs, "203.0.113.90", start, 20);
    let n = m.tick(at);
    assert_eq!(n.iter().filter(|n| matches!(n, Notice::BanPending { .. })).count(), 1, "{n:?}");
    assert!(banned(&n).is_empty());
    // OpenAlgo keeps counting; no new order, no new notice, no escalation.
    let mut at = at;
    for i in 0..5 {
        at = scan(&s.logs, "203.0.113.90", at + Duration::seconds(1), 1);
        let n = m.tick(at);
        assert!(n.iter().all(|n| !matches!(n, Notice::BanPending { .. } | Notice::Banned { .. })), "retry {i}: {n:?}");
    }
    refuse_ban_writes(&s.logs, false);
    let n = m.tick(at + Duration::seconds(1));
    assert_eq!(banned(&n), vec![("203.0.113.90".into(), false, 1)], "written once possible, still offence 1: {n:?}");
}

#[test]
fn a_tracker_under_another_spelling_of_a_banned_client_gets_its_own_row() {
    let s = setup();
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    let start = t("2026-11-21 10:00:00");
    raw(&s.logs)
        .execute(
            "INSERT INTO ip_bans (ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, created_by) VALUES ('2001:db8::bad:9', 'Manual ban', 1, ?1, NULL, 1, 'manual')",
            [warden::time::format_db_time(start)],
        )
        .expect("ban");
    // OpenAlgo matches exact strings: a client sending the upper-case form is not blocked.
    let at = scan(&s.logs, "2001:DB8::BAD:9", start, 20);
    let n = m.tick(at);
    assert_eq!(banned(&n).len(), 1, "{n:?}");
    let emu = OpenAlgoEmulator::open(&s.logs).expect("emulator");
    assert!(emu.is_ip_banned("2001:DB8::BAD:9", at).expect("check"), "the spelling OpenAlgo sees is now banned");
    let row: (i64, Option<String>) = raw(&s.logs)
        .query_row("SELECT is_permanent, expires_at FROM ip_bans WHERE ip_address = '2001:db8::bad:9'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("row");
    assert_eq!(row, (1, None), "the permanent manual ban was not shortened");
}

#[test]
fn openalgos_own_auto_ban_of_a_repeat_offender_is_made_permanent() {
    let s = setup();
    let start = t("2026-11-21 10:00:00");
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    m.tick(start);
    let insert = |at: warden::time::Timestamp| {
        let c = raw(&s.logs);
        c.execute("DELETE FROM ip_bans WHERE ip_address = '198.51.100.30'", []).expect("lazy delete");
        c.execute(
            "INSERT INTO ip_bans (ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, created_by) VALUES ('198.51.100.30', 'Exceeded 404 threshold: 20 errors in 24 hours', 1, ?1, ?2, 0, '404_detector')",
            [warden::time::format_db_time(at), warden::time::format_db_time(at + Duration::hours(24))],
        )
        .expect("OpenAlgo's auto-ban");
    };
    let mut at = start;
    for round in 1..=3 {
        at += Duration::hours(30);
        insert(at);
        let n = m.tick(at + Duration::seconds(1));
        let row: (i64, Option<String>, String) = raw(&s.logs)
            .query_row(
                "SELECT is_permanent, expires_at, ban_reason FROM ip_bans WHERE ip_address = '198.51.100.30'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("row");
        if round < 3 {
            assert_eq!(row.0, 0, "round {round}: OpenAlgo's temporary ban stays temporary: {n:?}");
        } else {
            assert_eq!((row.0, row.1), (1, None), "third offence made permanent: {n:?}");
            assert!(row.2.contains("repeat offender: offence 3"), "{}", row.2);
        }
    }
}

#[test]
fn hostile_tracker_rows_are_reported_and_never_crash_the_monitor() {
    let s = setup();
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    raw(&s.logs)
        .execute_batch(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) VALUES
               ('not-an-ip', 50, '+262142-12-31 23:59:59', NULL, 'x'),
               ('203.0.113.99', 'lots', 'yesterday', 'tomorrow', NULL),
               (X'FFFE', 99, '9999-12-31 23:59:59', NULL, '[]');
             INSERT INTO invalid_api_key_tracker (ip_address, attempt_count, first_attempt_at) VALUES ('', -3, '2026-11-21 10:00:00');",
        )
        .expect("hostile rows");
    let n = m.tick(t("2026-11-21 10:00:05"));
    assert_eq!(n.iter().filter(|n| matches!(n, Notice::Unreadable { .. })).count(), 2, "{n:?}");
    assert!(banned(&n).is_empty(), "{n:?}");
}

#[test]
fn a_ban_still_pending_at_a_stop_is_written_after_the_restart() {
    let s = setup();
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    refuse_ban_writes(&s.logs, true);
    let start = t("2026-11-21 10:00:00");
    let at = scan(&s.logs, "203.0.113.91", start, 20);
    let n = m.tick(at);
    assert_eq!(n.iter().filter(|n| matches!(n, Notice::BanPending { .. })).count(), 1, "{n:?}");
    drop(m);
    // OpenAlgo went on counting and deleted nothing; the tracker row is gone only after a ban.
    refuse_ban_writes(&s.logs, false);
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor after the stop");
    let n = m.tick(at + Duration::seconds(5));
    assert_eq!(banned(&n), vec![("203.0.113.91".into(), false, 1)], "written after the restart, once: {n:?}");
    let left: i64 =
        raw(&s.paths.state_db).query_row("SELECT COUNT(*) FROM pending_bans", [], |r| r.get(0)).expect("count");
    assert_eq!(left, 0, "no longer pending");
}

#[test]
fn the_address_the_trader_signed_in_from_is_never_banned_once_the_monitor_sees_the_sign_in() {
    let s = setup();
    let oa = s.logs.with_file_name("openalgo.db");
    crate::common::create_login_attempts(&oa);
    let paths = Paths { openalgo_db: Some(oa.clone()), ..s.paths.clone() };
    let mut m = Monitor::open(&Config::default(), &paths).expect("monitor");
    let start = t("2026-11-21 10:00:00");
    assert!(banned(&m.tick(start)).is_empty());
    // The trader signs in (OpenAlgo stores IST), then a strategy of theirs and a scanner both
    // produce 25 404s.
    raw(&oa)
        .execute(
            "INSERT INTO login_attempts (username, ip_address, status, login_type, timestamp) \
             VALUES ('trader', '203.0.113.50', 'success', 'password', '2026-11-21 15:30:05.000000')",
            [],
        )
        .expect("sign-in");
    scan(&s.logs, "203.0.113.50", start + Duration::seconds(1), 25);
    scan(&s.logs, "203.0.113.51", start + Duration::seconds(1), 25);
    let n = m.tick(start + Duration::seconds(30));
    assert_eq!(banned(&n), vec![("203.0.113.51".into(), false, 1)], "{n:?}");
    let why = n
        .iter()
        .find_map(|n| match n {
            Notice::Protected { ip, why, .. } if ip == "203.0.113.50" => Some(why.clone()),
            _ => None,
        })
        .expect("the trader's address is reported as protected");
    assert_eq!(why, "an address you use: you signed in to OpenAlgo from it on 2026-11-21 15:30 IST");
    let bans: i64 = raw(&s.logs)
        .query_row("SELECT COUNT(*) FROM ip_bans WHERE ip_address = '203.0.113.50'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(bans, 0);
}

#[test]
fn offences_recorded_beside_a_running_monitor_are_taken_over_and_its_own_saves_are_not_mistaken_for_them() {
    let s = setup();
    let now = t("2026-11-22T10:00:00Z");
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    m.tick(now);
    let ip: std::net::IpAddr = "198.51.100.44".parse().expect("ip");
    assert_eq!(m.engine().offences(ip), 0);
    // The CLI, in another process, records two offences (what `warden ban` leaves behind).
    let cli = warden::store::StateDb::open(&s.paths.state_db).expect("state");
    for (i, at) in ["2026-11-20T10:00:00Z", "2026-11-21T10:00:00Z"].into_iter().enumerate() {
        let offence = warden::store::state::Offence {
            ip: ip.to_string(),
            rule: "manual".into(),
            at: t(at),
            until: Some(t(at) + Duration::hours(24)),
            source: "cli".into(),
            reason: Some(format!("offence {i}")),
        };
        assert!(cli.record_offence(&offence).expect("record"));
    }
    let before = cli.offences_version().expect("version");
    m.tick(now + Duration::seconds(1));
    assert_eq!(m.engine().offences(ip), 2, "the monitor did not take over the offences the CLI recorded");
    // The monitor's saving thread commits through a connection of its own; those commits change
    // no offence, so they must not read as one.
    let saver = warden::store::saver::Saver::start(&s.paths.state_db, StdDuration::from_secs(3600)).expect("saver");
    saver.submit("access:/x", "{}".into(), vec![(ip, Rule::NotFound, None)]);
    saver.flush().expect("save");
    assert_eq!(cli.offences_version().expect("version"), before, "a save of positions read as changed offences");
    cli.raise_ban_count(&ip.to_string(), 5).expect("ban count");
    assert_ne!(cli.offences_version().expect("version"), before, "a raised ban count went unnoticed");
    m.tick(now + Duration::seconds(2));
    assert_eq!(m.engine().offences(ip), 5);
}

/// The desktop app at rest: its dashboard reads logs.db through connections of its own, and a
/// connection closes the `-wal` as a writer would (SQLite opens it read-write), which wakes the
/// monitor. Such a round must not ask the UI to refresh, or each dashboard refresh asks for the
/// next one; a real write still must.
#[test]
fn reading_logs_db_beside_a_live_monitor_asks_the_ui_for_no_refresh_and_a_write_does() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let s = setup();
    raw(&s.logs).execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").expect("checkpoint");
    let cfg = Config { poll_seconds: 3600, ..Config::default() };
    // Rounds after which the app would refresh.
    let woken = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let counter = woken.clone();
    let handle = Monitor::open(&cfg, &s.paths)
        .expect("monitor")
        .spawn_with_rounds(
            move |n| {
                let _ = tx.send(n);
            },
            move |w| {
                if w {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            },
        )
        .expect("spawn");
    wait_for(StdDuration::from_secs(30), "the monitor's first read of logs.db", || {
        rx.try_recv().ok().filter(|n| matches!(n, Notice::Source { .. }))
    });
    std::thread::sleep(StdDuration::from_millis(500));
    let before = woken.load(Ordering::SeqCst);
    let desk = warden::dashboard::Desk { cfg: cfg.clone(), paths: s.paths.clone(), config_path: None, demo: None };
    for _ in 0..5 {
        desk.overview(warden::time::now()).expect("overview");
        desk.bans(warden::time::now()).expect("bans");
        std::thread::sleep(StdDuration::from_millis(100));
    }
    std::thread::sleep(StdDuration::from_millis(1500));
    assert_eq!(woken.load(Ordering::SeqCst), before, "dashboard reads asked the UI to refresh");
    scan(&s.logs, "203.0.113.81", warden::time::now(), 1);
    wait_for(StdDuration::from_secs(10), "a refresh after a real write", || {
        (woken.load(Ordering::SeqCst) > before).then_some(())
    });
    handle.stop();
}

#[test]
fn the_checklist_runs_again_when_env_changes_and_a_check_that_starts_failing_alerts() {
    use std::os::unix::fs::PermissionsExt;
    use warden::check::recheck::{Rechecker, LOOK_EVERY};
    use warden::config::NotifyConfig;
    use warden::dashboard::alerts::Alerts;

    let dir = tempfile::tempdir().expect("tempdir");
    let oa = dir.path().join("openalgo");
    std::fs::create_dir_all(oa.join("db")).expect("db");
    let logs = fresh_logs_db(&oa.join("db"));
    let env = oa.join(".env");
    std::fs::write(&env, "FLASK_DEBUG = 'False'\n").expect("env");
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let paths =
        Paths { logs_db: logs, openalgo_db: None, state_db: dir.path().join("state/warden.db"), access_logs: vec![] };
    let at = warden::check::facts::Where {
        logs_db: Some(paths.logs_db.clone()),
        // This machine's own nginx and sockets stay out of it.
        nginx_config: vec![dir.path().join("no-nginx.conf")],
        proc_net: Some(dir.path().join("no-proc")),
        ..Default::default()
    };
    let t0 = t("2026-11-21 10:00:00");
    let mut m = Monitor::open(&Config::default(), &paths).expect("monitor");
    let shared = m.watch_checklist(Rechecker::new(at, t0));
    let fails = |shared: &warden::monitor::SharedChecklist| {
        let r = shared.lock().unwrap().clone().expect("published");
        (r.summary.fail, r.get("env.flask_debug").map(|f| f.status))
    };
    let (before, debug) = fails(&shared);
    assert_eq!(debug, Some(warden::check::Status::Pass));
    let checklist = |notices: Vec<Notice>| {
        notices.into_iter().find_map(|n| match n {
            Notice::Checklist(c) => Some(c),
            _ => None,
        })
    };
    assert!(checklist(m.tick(t0 + Duration::seconds(1))).is_none(), "nothing changed");

    std::fs::write(&env, "FLASK_DEBUG = 'True'\n").expect("env");
    assert!(checklist(m.tick(t0 + Duration::seconds(2))).is_none(), "looked at most every {LOOK_EVERY}");
    let change = checklist(m.tick(t0 + Duration::seconds(7))).expect("the change is seen at the next look");
    let ids: Vec<&str> = change.newly_failing.iter().map(|f| f.id).collect();
    assert_eq!(ids, ["env.flask_debug"]);
    assert!(change.newly_failing[0].fix.contains(&env.display().to_string()), "{:?}", change.newly_failing[0].fix);
    assert_eq!(fails(&shared), (before + 1, Some(warden::check::Status::Fail)), "the dashboard's copy follows");
    let line = Notice::Checklist(change.clone()).to_string();
    assert!(line.starts_with("CHECKLIST") && line.contains("now failing: Debug mode"), "{line}");

    let alert = Alerts::new(NotifyConfig::default()).on_notice(&Notice::Checklist(change.clone()), t0).expect("alert");
    assert_eq!(alert.title, "Server check failing: Debug mode");
    assert!(alert.body.contains("FLASK_DEBUG"), "{}", alert.body);
    let off = NotifyConfig { checklist: false, ..NotifyConfig::default() };
    assert!(Alerts::new(off).on_notice(&Notice::Checklist(change), t0).is_none(), "turned off in Settings");

    assert!(checklist(m.tick(t0 + Duration::seconds(20))).is_none(), "nothing changed since");
    std::fs::write(&env, "FLASK_DEBUG = 'False'\n").expect("env");
    let fixed = checklist(m.tick(t0 + Duration::seconds(30))).expect("fixed");
    assert!(fixed.newly_failing.is_empty());
    assert_eq!(fixed.fixed.iter().map(|f| f.id).collect::<Vec<_>>(), ["env.flask_debug"]);
    assert!(
        Alerts::new(NotifyConfig::default()).on_notice(&Notice::Checklist(fixed), t0).is_none(),
        "a fix is no alarm"
    );
}

#[test]
fn three_banned_addresses_of_one_ipv6_64_make_the_whole_64_denied_and_the_setting_turns_it_off() {
    for (after, want) in [(3u32, true), (0, false)] {
        let s = setup();
        let cfg = Config {
            rules: warden::config::RulesConfig { ipv6_prefix_after: after, ..Default::default() },
            ..Config::default()
        };
        let mut m = Monitor::open(&cfg, &s.paths).expect("monitor");
        let start = warden::time::now() - Duration::minutes(30);
        let mut notices = Vec::new();
        for (i, ip) in ["2001:db8:5:6::1", "2001:db8:5:6:aaaa::2", "2001:db8:5:6::3"].iter().enumerate() {
            let at = scan(&s.logs, ip, start + Duration::minutes(i as i64 * 5), 20);
            notices.extend(m.tick(at + Duration::seconds(1)));
        }
        assert_eq!(banned(&notices).len(), 3, "{notices:?}");
        let denied: Vec<String> = notices
            .iter()
            .filter_map(|n| match n {
                Notice::RangeDenied { range, banned, .. } => Some(format!("{range} {banned}")),
                _ => None,
            })
            .collect();
        let state = warden::store::state::StateDb::open(&s.paths.state_db).unwrap();
        let policies = state.policies(warden::time::now()).unwrap();
        if want {
            assert_eq!(denied, ["2001:db8:5:6::/64 3"]);
            assert_eq!(policies.len(), 1);
            assert_eq!((policies[0].created_by.as_str(), policies[0].policy), ("warden", warden::policy::Access::Deny));
            assert!(policies[0].expires_at.is_some(), "as long as the longest ban, not for ever");
        } else {
            assert!(denied.is_empty() && policies.is_empty(), "{denied:?} {policies:?}");
        }
    }
}

#[test]
fn a_ban_lifted_by_another_program_is_seen_and_the_address_can_be_banned_again() {
    let s = setup();
    let mut m = Monitor::open(&Config::default(), &s.paths).expect("monitor");
    let now = warden::time::now();
    scan(&s.logs, "203.0.113.90", now - Duration::seconds(60), 20);
    wait_for(StdDuration::from_secs(10), "the ban", || {
        m.tick(warden::time::now()).into_iter().find(|n| matches!(n, Notice::Banned { .. }))
    });
    // The trader lifts it (OpenAlgo's dashboard or `warden unban`): nothing else changes in ip_bans.
    raw(&s.logs).execute("DELETE FROM ip_bans WHERE ip_address = '203.0.113.90'", []).expect("unban");
    wait_for(StdDuration::from_secs(10), "the lift seen", || {
        let _ = m.tick(warden::time::now());
        m.engine().bans_in_force(warden::time::now()).is_empty().then_some(())
    });
    // It scans again: banned again, not ignored as if still banned.
    scan(&s.logs, "203.0.113.90", warden::time::now() - Duration::seconds(30), 20);
    wait_for(StdDuration::from_secs(10), "the second ban", || {
        m.tick(warden::time::now()).into_iter().find(|n| matches!(n, Notice::Banned { .. }))
    });
}
