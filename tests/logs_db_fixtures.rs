//! Reading OpenAlgo's own databases: every row of both logs.db fixtures, the settings fixture, and
//! hostile values.

use warden::event::Tracker;
use warden::store::logs_db::{BanEffect, LogsDb};
use warden::store::openalgo_settings::OpenAlgoDb;
use warden::time::format_db_time;

use crate::common::{copy_fixture, fixture, fresh_logs_db, raw, t};

fn open_copy(name: &str) -> (tempfile::TempDir, LogsDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = copy_fixture(name, dir.path());
    let db = LogsDb::open(&path).expect("open fixture copy");
    (dir, db)
}

fn fmt(ts: Option<warden::time::Timestamp>) -> String {
    ts.map(format_db_time).unwrap_or_else(|| "NULL".into())
}

/// One decoded ban row as text, every field.
fn ban_line(r: &warden::store::logs_db::BanRow) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{:?}|{}",
        r.id,
        r.ip,
        r.reason.as_deref().unwrap_or("NULL"),
        r.ban_count.map(|c| c.to_string()).unwrap_or_default(),
        fmt(r.banned_at),
        fmt(r.expires_at),
        r.is_permanent,
        r.created_by.as_deref().unwrap_or("NULL")
    )
}

#[test]
fn reads_every_ban_row_of_the_logs_db_fixture() {
    let (_d, db) = open_copy("logs.db");
    let rows = db.bans().expect("read bans");
    let got: Vec<String> = rows.iter().map(ban_line).collect();
    let want = [
        "1|198.51.100.23|Manual ban|1|2026-11-21 22:53:35.000000|2026-11-22 22:53:35.713727|Some(false)|manual",
        "2|192.0.2.45|Port scanning from VPS|1|2026-11-21 22:53:35.000000|NULL|Some(true)|manual",
        "3|2001:db8::bad:1|Credential stuffing|1|2026-11-21 22:53:35.000000|2026-11-28 22:53:35.758970|Some(false)|manual",
        "4|198.51.100.60|Host ban: scanner.example - Banned host: scanner.example|1|2026-11-21 22:53:35.000000|2026-11-22 22:53:35.775511|Some(false)|host_ban",
        "5|198.51.100.77|Manual ban #3|3|2026-11-21 22:53:35.831997|NULL|Some(true)|manual",
        "6|198.51.100.200|Manual ban (old, repeated)|2|2026-11-18 22:53:35.864067|2026-11-19 22:53:35.864067|Some(false)|manual",
        "7|203.0.113.7|Exceeded 404 threshold: 20 errors in 24 hours|1|2026-11-21 22:53:36.000000|2026-11-22 22:53:36.356736|Some(false)|404_detector",
        "8|203.0.113.8|Exceeded invalid API key threshold: 10 attempts in 24 hours|1|2026-11-21 22:53:37.000000|2026-11-23 22:53:37.160254|Some(false)|api_key_detector",
        "9|198.51.100.61|Host ban: evil-mirror.example - Banned host: evil-mirror.example|3|2026-11-21 22:53:41.487897|NULL|Some(true)|host_ban",
        "10|198.51.100.62|Host ban: evil-mirror.example - Banned host: evil-mirror.example|1|2026-11-21 22:53:41.000000|2026-11-22 22:53:41.507823|Some(false)|host_ban",
    ];
    assert_eq!(got, want, "every ip_bans row decoded exactly");
    let now = t("2026-11-22 00:00:00");
    let effects: Vec<BanEffect> = rows.iter().map(|r| r.effect(now)).collect();
    assert_eq!(effects[1], BanEffect::Permanent);
    assert_eq!(effects[5], BanEffect::Expired, "row 6 expired on 2026-11-19");
    assert_eq!(effects[0], BanEffect::Until(t("2026-11-22 22:53:35.713727")));
}

#[test]
fn reads_the_odd_rows_of_the_live_run_fixture_as_openalgo_does() {
    let (_d, db) = open_copy("live_run_logs.db");
    let rows = db.bans().expect("read bans");
    let got: Vec<String> = rows.iter().map(ban_line).collect();
    let want = [
        "1|203.0.113.7|Exceeded 404 threshold: 26 errors in 24 hours|1|2026-11-21 22:56:09.000000|2026-11-22 22:56:09.266052|Some(false)|404_detector",
        "4|198.51.100.61|Host ban: evil-mirror.example - Banned host: evil-mirror.example|3|2026-11-21 22:56:36.906960|NULL|Some(true)|host_ban",
        "5|198.51.100.62|Host ban: evil-mirror.example - Banned host: evil-mirror.example|1|2026-11-21 22:56:36.000000|2026-11-22 22:56:36.910322|Some(false)|host_ban",
        "6|198.51.100.23|Manual ban again|2|2026-11-21 22:56:37.089554|NULL|Some(true)|manual",
        "7|2001:DB8::BAD:1|v6|1|2026-11-21 22:56:37.000000|NULL|Some(true)|manual",
        "8|::ffff:127.0.0.1|Manual ban|1|2026-11-21 22:56:37.000000|2026-11-21 23:56:37.318698|Some(false)|manual",
        "9|198.51.100.40|Manual ban|1|2026-11-21 22:56:37.000000|2026-11-21 22:56:37.395633|Some(false)|manual",
        "10|198.51.100.98|ext: seen before|1|2026-11-21 22:56:47.000000|2026-11-22 22:56:47.000000|Some(false)|manual",
        "11|198.51.100.99|ext: never seen|1|2026-11-21 22:56:47.000000|2026-11-22 22:56:47.000000|Some(false)|manual",
        "12|198.51.100.97|ext: ISO T format|1|2026-11-21 22:56:47.000000|2026-11-22 22:56:47.000000|Some(false)|manual",
        "13|198.51.100.96|ext: +00:00 suffix|1|2026-11-21 22:56:47.000000|2026-11-22 22:56:47.000000|Some(false)|manual",
        "14|198.51.100.93|ext: Z suffix|1|2026-11-21 22:56:47.000000|2026-11-22 22:56:47.000000|Some(false)|manual",
        "15|198.51.100.95|ext: permanent|1|2026-11-21 22:56:47.000000|NULL|Some(true)|manual",
        "16|198.51.100.94|ext: NULL flags|1|2026-11-21 22:56:47.000000|NULL|None|manual",
        "18|198.51.100.91|ext: date only|1|2026-11-21 22:56:47.000000|2026-11-23 00:00:00.000000|Some(false)|manual",
    ];
    assert_eq!(got, want, "every ip_bans row decoded exactly");
    let now = t("2026-11-22 00:00:00");
    let effect = |ip: &str| rows.iter().find(|r| r.ip == ip).unwrap_or_else(|| panic!("{ip} missing")).effect(now);
    assert_eq!(effect("2001:DB8::BAD:1"), BanEffect::Permanent, "raw upper-case spelling kept");
    assert_eq!(effect("198.51.100.97"), BanEffect::Until(t("2026-11-22 22:56:47")), "ISO T spelling");
    assert_eq!(effect("198.51.100.96"), BanEffect::Until(t("2026-11-22 22:56:47")), "+00:00 dropped");
    assert_eq!(effect("198.51.100.93"), BanEffect::Until(t("2026-11-22 22:56:47")), "Z suffix");
    assert_eq!(effect("198.51.100.91"), BanEffect::Until(t("2026-11-23 00:00:00")), "date only is midnight");
    assert_eq!(effect("198.51.100.94"), BanEffect::Ineffective, "NULL flags and NULL expiry: OpenAlgo ignores it");
    assert_eq!(effect("198.51.100.40"), BanEffect::Expired, "zero-hour ban is over at once");
    assert_eq!(effect("::ffff:127.0.0.1"), BanEffect::Expired);
    assert_eq!(effect("198.51.100.95"), BanEffect::Permanent);
}

#[test]
fn reads_every_tracker_row_of_both_fixtures() {
    let (_d, db) = open_copy("logs.db");
    let nf = db.trackers(Tracker::NotFound).expect("404 tracker");
    let got: Vec<(String, u32, usize)> = nf.iter().map(|r| (r.ip.clone(), r.count, r.items.len())).collect();
    assert_eq!(
        got,
        vec![
            ("198.51.100.14".into(), 7, 7),
            ("192.0.2.201".into(), 3, 3),
            ("2001:db8:1::77".into(), 12, 7),
            ("127.0.0.1".into(), 4, 4),
            ("192.0.2.99".into(), 5, 1)
        ]
    );
    assert_eq!(nf[0].items[0], "/wp-login.php");
    assert_eq!(nf[0].first_at, Some(t("2026-11-21 22:53:36")));
    assert_eq!(nf[0].last_at, Some(t("2026-11-21 22:53:36.498264")));
    let api = db.trackers(Tracker::InvalidApiKey).expect("api tracker");
    let got: Vec<(String, u32, usize)> = api.iter().map(|r| (r.ip.clone(), r.count, r.items.len())).collect();
    assert_eq!(
        got,
        vec![
            ("198.51.100.31".into(), 4, 4),
            ("192.0.2.77".into(), 2, 2),
            ("192.0.2.88".into(), 3, 1),
            ("192.0.2.89".into(), 1, 0),
            ("127.0.0.1".into(), 12, 12)
        ]
    );
    assert_eq!(api[0].items[0], "9bbd3f6dcb453c66");
    assert!(api.iter().all(|r| !r.items_malformed && r.first_at.is_some() && r.last_at.is_some()));

    let (_d, db) = open_copy("live_run_logs.db");
    let nf = db.trackers(Tracker::NotFound).expect("404 tracker");
    assert_eq!(nf.iter().map(|r| r.ip.as_str()).collect::<Vec<_>>(), ["2001:DB8::BEEF", "127.0.0.1", "203.0.113.33"]);
    assert_eq!(nf[2].count, 5);
    let api = db.trackers(Tracker::InvalidApiKey).expect("api tracker");
    assert_eq!(
        api.iter().map(|r| (r.ip.as_str(), r.count)).collect::<Vec<_>>(),
        [("203.0.113.7", 12), ("203.0.113.19", 1)]
    );
}

#[test]
fn reads_every_traffic_row_of_both_fixtures() {
    for (name, n) in [("logs.db", 204), ("live_run_logs.db", 123)] {
        let (_d, db) = open_copy(name);
        let rows = db.traffic_after(0, 10_000).expect("traffic");
        assert_eq!(rows.len(), n, "{name}: every traffic row");
        assert_eq!(db.max_traffic_id().expect("max id"), n as i64);
        assert!(
            rows.iter().all(|r| r.at.is_some() && !r.ip.is_empty() && r.status >= 100 && !r.method.is_empty()),
            "{name}: all decoded"
        );
        // Incremental: past a cursor only the newer rows come back.
        let tail = db.traffic_after(n as i64 - 3, 10_000).expect("tail");
        assert_eq!(tail.iter().map(|r| r.id).collect::<Vec<_>>(), vec![n as i64 - 2, n as i64 - 1, n as i64]);
    }
    let (_d, db) = open_copy("live_run_logs.db");
    let last = db.traffic_after(122, 1).expect("last row");
    assert_eq!(
        (last[0].path.as_str(), last[0].status, last[0].host.as_deref()),
        ("/settings-cache-probe-5", 404, Some("127.0.0.1:5055"))
    );
}

#[test]
fn follows_openalgos_settings_fixture() {
    let t = OpenAlgoDb::open(&fixture("openalgo_settings_only.db"))
        .expect("open")
        .read()
        .expect("read")
        .thresholds(&warden::config::Config::default().own_thresholds());
    assert_eq!((t.not_found.threshold, t.api.threshold, t.repeat_offender_limit), (20, 10, 3));
    assert_eq!(t.not_found.ban, warden::engine::BanLength::Hours(24));
    assert_eq!(t.api.ban, warden::engine::BanLength::Hours(48));
    assert_eq!(t.openalgo_auto_ban, Some(true));
}

#[test]
fn hostile_values_are_decoded_without_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = copy_fixture("logs.db", dir.path());
    let c = raw(&path);
    let long = "9".repeat(1000);
    c.execute_batch(&format!(
        "INSERT INTO ip_bans (ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, created_by)
           VALUES (12345, X'00FF', 'many', 'yesterday', 'soon', 'maybe', NULL);
         INSERT INTO ip_bans (ip_address, ban_count, is_permanent) VALUES ('{long}', NULL, NULL);
         INSERT INTO ip_bans (ip_address, is_permanent, expires_at) VALUES ('', 1, NULL);
         INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted)
           VALUES ('not-an-ip', NULL, 'garbage', NULL, '{{not json');
         INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, paths_attempted)
           VALUES (X'C328', '7', '2026-11-21 10:00:00', '[1, \"/ok\", null]');
         INSERT INTO invalid_api_key_tracker (ip_address, attempt_count, api_keys_tried) VALUES ('1.2.3.4', -5, '\"a string\"');
         INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms) VALUES ('x', '', '', '', 99999, 'slow');"
    ))
    .expect("insert hostile rows");
    let db = LogsDb::open(&path).expect("open");
    let bans = db.bans().expect("hostile bans still read");
    assert_eq!(bans.len(), 13);
    let b = &bans[10];
    assert_eq!((b.ip.as_str(), b.ban_count, b.banned_at, b.is_permanent), ("12345", None, None, None));
    assert_eq!(
        b.effect(t("2026-11-22 00:00:00")),
        BanEffect::Ineffective,
        "unparseable expiry is not a ban, as in OpenAlgo"
    );
    let nf = db.trackers(Tracker::NotFound).expect("hostile trackers still read");
    let bad = nf.iter().find(|r| r.ip == "not-an-ip").expect("row");
    assert_eq!(
        (bad.count, bad.first_at, bad.items_malformed),
        (1, None, true),
        "NULL count reads as OpenAlgo's default 1"
    );
    let odd = nf.last().expect("row");
    assert_eq!((odd.ip.as_str(), odd.count, odd.items.clone()), ("\u{fffd}(", 7, vec!["/ok".to_string()]));
    let api = db.trackers(Tracker::InvalidApiKey).expect("api");
    assert_eq!(api.last().map(|r| (r.count, r.items_malformed)), Some((0, true)));
    let traffic = db.traffic_after(204, 10).expect("traffic");
    assert_eq!((traffic[0].status, traffic[0].duration_ms, traffic[0].at), (0, 0.0, None));
}

#[test]
fn missing_schemaless_and_non_database_files_give_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope/logs.db");
    let e = LogsDb::open(&missing).expect_err("missing");
    assert!(matches!(e, warden::Error::LogsDbMissing { .. }) && e.to_string().contains("--logs-db"), "{e}");
    assert!(!missing.exists(), "no stray database is created at a wrong path");

    let empty = dir.path().join("empty.db");
    rusqlite::Connection::open(&empty).expect("create").execute_batch("CREATE TABLE other (x)").expect("table");
    let e = LogsDb::open(&empty).expect_err("schema-less");
    assert!(e.to_string().contains("ip_bans") && e.to_string().contains("OpenAlgo"), "{e}");

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x42u8; 8192]).expect("write junk");
    let e = LogsDb::open(&junk).expect_err("not a database");
    assert!(matches!(e, warden::Error::NotADatabase { .. }), "{e:?}");
}

#[test]
fn a_locked_database_is_reported_as_locked_not_as_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("logs.db");
    let holder = raw(&path);
    holder.execute_batch(warden::store::logs_db::SCHEMA).expect("schema");
    holder.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0)).expect("mode");
    let mut db = LogsDb::open(&path).expect("open");
    db.set_busy_timeout(std::time::Duration::from_millis(200)).expect("timeout");
    // Another program takes an exclusive lock and keeps it (a DB browser with a pending write).
    holder.execute_batch("BEGIN EXCLUSIVE; INSERT INTO ip_bans (ip_address) VALUES ('x');").expect("lock");
    let e = db.bans().expect_err("locked");
    assert!(matches!(e, warden::Error::Locked { .. }), "{e:?}");
    assert!(e.to_string().contains("close any database browser"), "{e}");
    let w = db.write_ban(&warden::store::logs_db::NewBan {
        ips: vec!["203.0.113.1".into()],
        reason: "r".into(),
        length: warden::engine::BanLength::Hours(1),
        at: t("2026-11-21 10:00:00"),
        created_by: "warden:404".into(),
        offence: 1,
    });
    assert!(matches!(w, Err(warden::Error::Locked { .. })), "{w:?}");
    holder.execute_batch("ROLLBACK").expect("release");
    assert_eq!(db.bans().expect("readable again").len(), 0, "works again once the lock is gone");
}

#[test]
fn the_reader_decodes_only_what_changed_since_its_last_poll() {
    use warden::source::openalgo::OpenAlgoSource;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = copy_fixture("logs.db", dir.path());
    let w = raw(&path);
    let trackers: i64 = w
        .query_row(
            "SELECT (SELECT COUNT(*) FROM error_404_tracker) + (SELECT COUNT(*) FROM invalid_api_key_tracker)",
            [],
            |r| r.get(0),
        )
        .expect("count tracker rows");
    let trackers = usize::try_from(trackers).expect("a count");
    // Small tables are scanned at every commit, so polls at one instant each read.
    let now = t("2026-11-22 00:00:00");
    let mut src = OpenAlgoSource::new(&path, None);
    let first = src.poll(now).1.expect("the first poll reads");
    assert_eq!(first.bans.expect("the first poll reads every ban").len(), 10);
    assert_eq!(first.readings.len() + first.unreadable.len(), trackers, "every tracker row at first");

    // A request OpenAlgo only logs: nothing else is decoded.
    w.execute(
        "INSERT INTO traffic_logs (client_ip, method, path, status_code, duration_ms, host) \
         VALUES ('203.0.113.50', 'GET', '/orderbook', 200, 1.5, 'trade.example.com')",
        [],
    )
    .expect("insert traffic");
    let c = src.poll(now).1.expect("a commit is read");
    assert!(c.bans.is_none(), "ip_bans did not change");
    assert!(c.readings.is_empty() && c.unreadable.is_empty(), "no tracker row changed");
    assert_eq!(c.traffic.len(), 1);

    // OpenAlgo bans again in place: same id and row count, a new ban_count and expiry.
    w.execute("UPDATE ip_bans SET ban_count = 2, expires_at = '2026-11-30 00:00:00.000000' WHERE id = 1", [])
        .expect("re-ban in place");
    let bans = src.poll(now).1.expect("a commit is read").bans.expect("an in-place update is a change");
    assert_eq!((bans[0].id, bans[0].ban_count), (1, Some(2)));
    assert_eq!(fmt(bans[0].expires_at), "2026-11-30 00:00:00.000000");

    // One 404 more from one address: that row alone, with its new count.
    w.execute(
        "UPDATE error_404_tracker SET error_count = error_count + 1, last_error_at = '2026-11-22 00:00:00.000000' \
         WHERE id = 1",
        [],
    )
    .expect("track a 404");
    let c = src.poll(now).1.expect("a commit is read");
    assert!(c.bans.is_none());
    let got: Vec<(String, u32)> = c.readings.iter().map(|r| (r.raw_ip.clone(), r.count)).collect();
    assert_eq!(got, [("198.51.100.14".to_string(), 8)]);

    // Only the paths tried changed: nothing for the engine to judge again.
    w.execute("UPDATE error_404_tracker SET paths_attempted = '[\"/.env\"]' WHERE id = 1", []).expect("update paths");
    let c = src.poll(now).1.expect("a commit is read");
    assert!(c.readings.is_empty(), "{:?}", c.readings);

    // A row deleted and a new one under the same address: a new row, read.
    w.execute("DELETE FROM error_404_tracker WHERE id = 1", []).expect("clear");
    w.execute(
        "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) \
         VALUES ('198.51.100.14', 1, '2026-11-22 00:00:01', '2026-11-22 00:00:01', '[]')",
        [],
    )
    .expect("track again");
    let c = src.poll(now).1.expect("a commit is read");
    let got: Vec<(String, u32)> = c.readings.iter().map(|r| (r.raw_ip.clone(), r.count)).collect();
    assert_eq!(got, [("198.51.100.14".to_string(), 1)]);

    // New thresholds: everything is read again.
    src.rescan();
    let c = src.poll(now).1.expect("a rescan reads");
    assert_eq!(c.bans.map(|b| b.len()), Some(10));
    assert_eq!(c.readings.len() + c.unreadable.len(), trackers);
}

#[test]
fn large_tables_are_scanned_at_most_once_per_spacing_while_traffic_is_read_at_every_commit() {
    use warden::source::openalgo::{OpenAlgoSource, SCAN_SPACING_PER_ROW};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fresh_logs_db(dir.path());
    let w = raw(&path);
    // 2 000 old one-attempt rows, as scanners leave them behind.
    w.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
         INSERT INTO invalid_api_key_tracker (ip_address, attempt_count, first_attempt_at, last_attempt_at, api_keys_tried) \
         SELECT '10.1.' || (i / 256) || '.' || (i % 256), 1, '2026-11-01 00:00:00', '2026-11-01 00:00:00', '[]' FROM n",
    )
    .expect("fill the tracker");
    let spacing = SCAN_SPACING_PER_ROW * 2_000;
    let t0 = t("2026-11-22 00:00:00");
    let mut src = OpenAlgoSource::new(&path, None);
    src.read_hot_from([10, 8]);
    assert_eq!(src.poll(t0).1.expect("the first poll reads").readings.len(), 2_000);
    assert_eq!(src.due(), None, "nothing is waiting");

    let traffic = "INSERT INTO traffic_logs (client_ip, method, path, status_code, duration_ms, host) \
                   VALUES ('203.0.113.9', 'GET', '/.env', 404, 1.0, 'trade.example.com')";
    let track = |ip: &str, count: i64| {
        w.execute(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) \
             VALUES (?1, ?2, '2026-11-21 23:59:00', '2026-11-21 23:59:00', '[]')",
            rusqlite::params![ip, count],
        )
        .expect("track");
    };
    let counts = |c: &warden::source::openalgo::Changes| -> Vec<(String, u32)> {
        c.readings.iter().map(|r| (r.raw_ip.clone(), r.count)).collect()
    };
    // A commit inside the spacing: its traffic is read at once, a low count waits.
    track("203.0.113.9", 5);
    w.execute(traffic, []).expect("traffic");
    let c = src.poll(t0 + chrono::Duration::milliseconds(5)).1.expect("a commit is read");
    assert_eq!(c.traffic.len(), 1, "traffic is never held back");
    assert!(c.readings.is_empty() && c.bans.is_none(), "the scan waits for its spacing");
    assert_eq!(src.due(), Some(t0 + spacing), "the monitor is told when to come back");

    // A count that can warn or ban is read at the next commit, spacing or not, and only once.
    track("203.0.113.10", 10);
    w.execute("UPDATE invalid_api_key_tracker SET attempt_count = 8 WHERE id = 7", []).expect("count");
    let c = src.poll(t0 + chrono::Duration::milliseconds(6)).1.expect("a commit is read");
    assert_eq!(counts(&c), [("203.0.113.10".to_string(), 10), ("10.1.0.7".to_string(), 8)]);
    w.execute(traffic, []).expect("traffic");
    let c = src.poll(t0 + chrono::Duration::milliseconds(7)).1.expect("a commit is read");
    assert!(c.readings.is_empty(), "already handed over: {:?}", c.readings);
    assert!(src.poll(t0 + spacing - chrono::Duration::milliseconds(1)).1.is_none(), "not yet");

    // At the due time, with no further commit, the held-back row is read, and only it.
    let c = src.poll(t0 + spacing).1.expect("the held-back scan");
    assert_eq!(counts(&c), [("203.0.113.9".to_string(), 5)]);
    assert!(c.traffic.is_empty());
    assert_eq!(src.due(), None);
    assert!(src.poll(t0 + spacing * 2).1.is_none(), "nothing new, nothing read");

    // A clock stepped back does not hold a scan back for the length of the step.
    w.execute("UPDATE error_404_tracker SET error_count = 6 WHERE ip_address = '203.0.113.9'", []).expect("count");
    let c = src.poll(t0 - chrono::Duration::hours(1)).1.expect("a commit is read");
    assert_eq!(c.readings.iter().map(|r| r.count).collect::<Vec<_>>(), [6]);
}
