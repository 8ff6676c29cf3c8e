//! Writing bans into logs.db exactly as spec §9 says, read back by OpenAlgo's own rules.

use chrono::Duration;
use warden::demo::openalgo::OpenAlgoEmulator;
use warden::engine::BanLength;
use warden::store::logs_db::{BanWrite, LogsDb, NewBan};

use crate::common::{copy_fixture, fresh_logs_db, raw, t};

fn ban(ips: &[&str], length: BanLength, at: &str, offence: u32) -> NewBan {
    NewBan {
        ips: ips.iter().map(|s| s.to_string()).collect(),
        reason: "Exceeded 404 threshold: 20 errors in 24 hours".into(),
        length,
        at: t(at),
        created_by: "warden:404".into(),
        offence,
    }
}

type RawRow =
    (String, Option<String>, Option<i64>, Option<String>, Option<String>, Option<i64>, Option<String>, String, String);

fn raw_row(path: &std::path::Path, ip: &str) -> RawRow {
    raw(path)
        .query_row(
            "SELECT ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, created_by, typeof(is_permanent), typeof(banned_at) FROM ip_bans WHERE ip_address = ?1",
            [ip],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?)),
        )
        .unwrap_or_else(|e| panic!("row for {ip}: {e}"))
}

#[test]
fn a_temporary_ban_sets_every_column_in_openalgos_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = copy_fixture("logs.db", dir.path());
    let mut db = LogsDb::open(&path).expect("open");
    let w = db.write_ban(&ban(&["203.0.113.50"], BanLength::Hours(24), "2026-11-21 23:00:00.5", 1)).expect("write");
    assert_eq!(w, BanWrite::Written { ban_count: 1 });
    let row = raw_row(&path, "203.0.113.50");
    assert_eq!(row.1.as_deref(), Some("Exceeded 404 threshold: 20 errors in 24 hours"));
    assert_eq!(row.2, Some(1));
    assert_eq!(row.3.as_deref(), Some("2026-11-21 23:00:00.500000"), "UTC, space separator, microseconds");
    assert_eq!(row.4.as_deref(), Some("2026-11-22 23:00:00.500000"));
    assert_eq!(row.5, Some(0));
    assert_eq!(row.6.as_deref(), Some("warden:404"));
    assert_eq!((row.7.as_str(), row.8.as_str()), ("integer", "text"), "is_permanent is an integer 0/1, times are text");
    let mode: String = raw(&path).query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
    assert_eq!(mode, "wal", "journal mode untouched");
}

#[test]
fn a_permanent_ban_has_no_expiry_and_is_permanent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fresh_logs_db(dir.path());
    let mut db = LogsDb::open(&path).expect("open");
    db.write_ban(&ban(&["203.0.113.51"], BanLength::Permanent, "2026-11-21 23:00:00", 3)).expect("write");
    let row = raw_row(&path, "203.0.113.51");
    assert_eq!((row.4, row.5, row.2), (None, Some(1), Some(3)), "expires NULL, is_permanent 1, ban_count = offence");
}

#[test]
fn bans_are_read_back_by_openalgos_rules_and_expire_as_openalgo_expires_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = copy_fixture("live_run_logs.db", dir.path());
    let mut db = LogsDb::open(&path).expect("open");
    let at = "2026-11-21 23:00:00";
    db.write_ban(&ban(&["2001:db8::bad:2", "2001:DB8::BAD:2"], BanLength::Hours(24), at, 1)).expect("write");
    db.write_ban(&ban(&["203.0.113.52"], BanLength::Permanent, at, 3)).expect("write");
    let emu = OpenAlgoEmulator::open(&path).expect("emulator");
    let during = t(at) + Duration::hours(23);
    assert!(emu.is_ip_banned("2001:DB8::BAD:2", during).expect("check"), "the raw spelling OpenAlgo sees is banned");
    assert!(emu.is_ip_banned("2001:db8::bad:2", during).expect("check"), "and the canonical one");
    assert!(emu.is_ip_banned("203.0.113.52", during + Duration::days(3650)).expect("check"), "permanent stays");
    let after = t(at) + Duration::hours(24);
    assert!(!emu.is_ip_banned("2001:db8::bad:2", after).expect("check"), "expired at exactly expires_at");
    let left: i64 = raw(&path)
        .query_row("SELECT COUNT(*) FROM ip_bans WHERE ip_address = '2001:db8::bad:2'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(left, 0, "OpenAlgo's lazy delete removed the expired row");
}

#[test]
fn upsert_on_an_expired_row_increments_ban_count_and_never_shortens_a_stronger_ban() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = copy_fixture("logs.db", dir.path());
    let mut db = LogsDb::open(&path).expect("open");
    // 198.51.100.200: expired 2026-11-19 with ban_count 2, not yet deleted by OpenAlgo.
    let w = db.write_ban(&ban(&["198.51.100.200"], BanLength::Hours(24), "2026-11-21 23:00:00", 1)).expect("write");
    assert_eq!(w, BanWrite::Written { ban_count: 3 }, "old ban_count + 1");
    let ids: i64 = raw(&path)
        .query_row("SELECT COUNT(*) FROM ip_bans WHERE ip_address = '198.51.100.200'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(ids, 1, "an upsert, not a second row");
    // 192.0.2.45 is permanently banned by hand: a 24 h ban must not downgrade it.
    let w = db.write_ban(&ban(&["192.0.2.45"], BanLength::Hours(24), "2026-11-21 23:00:00", 1)).expect("write");
    assert_eq!(w, BanWrite::AlreadyStronger);
    let row = raw_row(&path, "192.0.2.45");
    assert_eq!((row.5, row.6.as_deref()), (Some(1), Some("manual")), "OpenAlgo's permanent manual ban untouched");
    // 2001:db8::bad:1 is banned until 2026-11-28: a 24 h ban from now is shorter.
    let w = db.write_ban(&ban(&["2001:db8::bad:1"], BanLength::Hours(24), "2026-11-21 23:00:00", 1)).expect("write");
    assert_eq!(w, BanWrite::AlreadyStronger);
    // A longer one replaces it.
    let w = db.write_ban(&ban(&["2001:db8::bad:1"], BanLength::Permanent, "2026-11-21 23:00:00", 3)).expect("write");
    assert_eq!(w, BanWrite::Written { ban_count: 3 });
}

#[test]
fn unban_and_clear_remove_every_spelling_of_an_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = copy_fixture("live_run_logs.db", dir.path());
    let mut db = LogsDb::open(&path).expect("open");
    assert_eq!(db.unban("2001:db8::bad:1").expect("unban"), 1, "the stored upper-case row matches");
    assert_eq!(db.clear_tracker(warden::event::Tracker::NotFound, "2001:db8::beef").expect("clear"), 1);
    assert_eq!(db.unban("203.0.113.250").expect("unban"), 0);
}

#[test]
fn a_database_in_rollback_journal_mode_keeps_its_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("logs.db");
    let c = raw(&path);
    c.execute_batch(warden::store::logs_db::SCHEMA).expect("schema");
    c.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get::<_, String>(0)).expect("mode");
    drop(c);
    let mut db = LogsDb::open(&path).expect("open");
    db.write_ban(&ban(&["203.0.113.53"], BanLength::Hours(24), "2026-11-21 23:00:00", 1)).expect("write");
    let mode: String = raw(&path).query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
    assert_eq!(mode, "delete");
}

#[test]
fn openalgos_text_comparison_purge_keeps_the_ban_until_its_expiry_and_not_a_microsecond_longer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fresh_logs_db(dir.path());
    let mut db = LogsDb::open(&path).expect("open");
    db.write_ban(&ban(&["203.0.113.54"], BanLength::Hours(24), "2026-11-21 23:00:00.5", 1)).expect("write");
    db.write_ban(&ban(&["203.0.113.55"], BanLength::Permanent, "2026-11-21 23:00:00.5", 3)).expect("write");
    let emu = OpenAlgoEmulator::open(&path).expect("emulator");
    let expiry = t("2026-11-22 23:00:00.5");
    assert_eq!(emu.purge_expired_bans(expiry - Duration::microseconds(1)).expect("purge"), 0, "still in force");
    assert_eq!(emu.purge_expired_bans(expiry).expect("purge"), 0, "expires_at < now is strict");
    assert_eq!(emu.purge_expired_bans(expiry + Duration::microseconds(1)).expect("purge"), 1, "gone right after");
    let left: i64 = raw(&path).query_row("SELECT COUNT(*) FROM ip_bans", [], |r| r.get(0)).expect("count");
    assert_eq!(left, 1, "the permanent ban is never purged");
}

#[test]
fn a_ban_written_over_an_expired_row_survives_openalgos_lazy_delete_of_that_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fresh_logs_db(dir.path());
    let mut db = LogsDb::open(&path).expect("open");
    db.write_ban(&ban(&["203.0.113.60"], BanLength::Hours(24), "2026-11-19 10:00:00", 1)).expect("first ban");
    // OpenAlgo, on a request two days later: loads the row, sees it expired, and deletes it by
    // the id it loaded (SQLAlchemy's `DELETE ... WHERE id = ?`) – with Warden's new ban landing
    // between the two steps.
    let openalgo = raw(&path);
    let stale_id: i64 =
        openalgo.query_row("SELECT id FROM ip_bans WHERE ip_address = '203.0.113.60'", [], |r| r.get(0)).expect("load");
    let w = db.write_ban(&ban(&["203.0.113.60"], BanLength::Hours(24), "2026-11-21 10:00:00", 2)).expect("second ban");
    assert_eq!(w, BanWrite::Written { ban_count: 2 });
    let deleted = openalgo.execute("DELETE FROM ip_bans WHERE id = ?1", [stale_id]).expect("lazy delete");
    assert_eq!(deleted, 0, "the stale delete matches nothing");
    let row = raw_row(&path, "203.0.113.60");
    assert_eq!((row.2, row.4.as_deref()), (Some(2), Some("2026-11-22 10:00:00.000000")), "the new ban is in force");
    // The row keeps OpenAlgo's shape, and OpenAlgo's own next insert still gets a fresh id.
    openalgo
        .execute("INSERT INTO ip_bans (ip_address, ban_reason, ban_count, banned_at, is_permanent, created_by) VALUES ('198.51.100.9', 'x', 1, '2026-11-21 10:00:00', 1, 'manual')", [])
        .expect("OpenAlgo's insert");
}

/// From the WAL index (`logs.db-shm`, native byte order): the frames in the log (`mxFrame`, at
/// byte 16) and how many of them were copied back into the database (`nBackfill`, at byte 96).
fn wal_frames(path: &std::path::Path) -> (u32, u32) {
    let shm = std::fs::read(format!("{}-shm", path.display())).expect("read the WAL index");
    let at = |i: usize| u32::from_ne_bytes(shm[i..i + 4].try_into().expect("four bytes"));
    (at(16), at(96))
}

#[test]
fn a_ban_leaves_copying_openalgos_log_back_to_the_background_checkpointer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fresh_logs_db(dir.path());
    let w = raw(&path);
    w.pragma_update(None, "wal_autocheckpoint", 0).expect("pragma");
    // OpenAlgo's traffic, past the 1 000 pages at which a commit checkpoints by default.
    let grow = || {
        w.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) \
             INSERT INTO traffic_logs (client_ip, method, path, status_code, duration_ms) \
             SELECT '203.0.113.' || (i % 250), 'GET', '/' || hex(randomblob(200)), 200, 1.0 FROM n",
        )
        .expect("traffic");
        let (frames, _) = wal_frames(&path);
        assert!(frames > 1_000, "the log holds {frames} frames");
    };

    // SQLite's default: the ban's own commit copies the log back, on the caller's thread.
    grow();
    let mut db = LogsDb::open(&path).expect("open");
    db.write_ban(&ban(&["203.0.113.60"], BanLength::Hours(24), "2026-11-21 23:00:00", 1)).expect("write");
    assert!(wal_frames(&path).1 > 0, "a default commit checkpoints");

    // Left to the background: the ban commits, nothing is copied back until the checkpointer runs.
    grow();
    db.leave_checkpoints_to_background().expect("pragma");
    db.write_ban(&ban(&["203.0.113.61"], BanLength::Hours(24), "2026-11-21 23:00:00", 1)).expect("write");
    let (frames, copied) = wal_frames(&path);
    assert_eq!(copied, 0, "the ban's commit copied {copied} of {frames} frames back");
    assert_eq!(raw_row(&path, "203.0.113.61").2, Some(1), "the ban is there");
    let _checkpointer =
        warden::store::wal::WalCheckpointer::start(&path, std::time::Duration::from_millis(20), u64::MAX)
            .expect("checkpointer");
    crate::common::wait_for(std::time::Duration::from_secs(10), "the checkpointer to copy the log back", || {
        let (frames, copied) = wal_frames(&path);
        (copied == frames).then_some(())
    });
}
