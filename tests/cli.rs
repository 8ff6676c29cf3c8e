//! The `warden` command line, run as a real process against real files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{copy_fixture, fresh_logs_db, raw};

struct Ws {
    dir: tempfile::TempDir,
    logs: PathBuf,
    state: PathBuf,
}

fn ws_with(fixture: Option<&str>) -> Ws {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = match fixture {
        Some(name) => copy_fixture(name, dir.path()),
        None => fresh_logs_db(dir.path()),
    };
    let state = dir.path().join("state/warden.db");
    Ws { dir, logs, state }
}

fn warden(ws: &Ws, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--logs-db")
        .arg(&ws.logs)
        .arg("--state-db")
        .arg(&ws.state)
        .args(args)
        // No user configuration leaks into the tests.
        .env("XDG_CONFIG_HOME", ws.dir.path().join("xdg"))
        .output()
        .expect("run warden")
}

fn ok_json(ws: &Ws, args: &[&str]) -> Value {
    let out = warden(ws, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn fails(ws: &Ws, args: &[&str]) -> String {
    let out = warden(ws, args);
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error, got: {err}");
    err
}

fn ips(v: &Value) -> Vec<String> {
    v.as_array().expect("array").iter().map(|b| b["ip"].as_str().expect("ip").to_string()).collect()
}

#[test]
fn bans_json_lists_the_fixtures_bans_in_force_with_the_contract_fields() {
    let ws = ws_with(Some("logs.db"));
    let bans = ok_json(&ws, &["bans", "--json"]);
    let list = bans.as_array().expect("array");
    // The fixture was written on 2026-11-21; by any later date only the permanent bans are left.
    let permanent: Vec<&Value> = list.iter().filter(|b| b["permanent"] == true).collect();
    assert!(permanent
        .iter()
        .any(|b| b["ip"] == "192.0.2.45" && b["expires_at"].is_null() && b["created_by"] == "manual"));
    let b = list.iter().find(|b| b["ip"] == "198.51.100.77").expect("escalated permanent ban listed");
    assert_eq!(b["ban_count"], 3);
    assert_eq!(b["banned_at"], "2026-11-21T22:53:35.831997Z", "RFC 3339 UTC");
    for key in ["ip", "reason", "banned_at", "expires_at", "permanent", "ban_count", "created_by"] {
        assert!(b.get(key).is_some(), "field {key} present");
    }
    assert!(!ips(&bans).contains(&"198.51.100.200".to_string()), "an expired ban is not in force");
}

#[test]
fn status_and_trackers_json_follow_the_contract() {
    let ws = ws_with(None);
    let c = raw(&ws.logs);
    let now = warden::time::format_db_time(warden::time::now());
    c.execute(
        "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) VALUES ('203.0.113.5', 17, ?1, ?1, '[\"/.env\", \"<img src=x onerror=alert(1)>\"]')",
        [&now],
    )
    .expect("tracker");
    c.execute(
        "INSERT INTO invalid_api_key_tracker (ip_address, attempt_count, first_attempt_at, last_attempt_at, api_keys_tried) VALUES ('198.51.100.8', 2, ?1, ?1, '[\"9bbd3f6dcb453c66\"]')",
        [&now],
    )
    .expect("tracker");
    // 17 of 20 is near the threshold (80%) and suspicious (a quarter or more); 2 of 10 is neither.
    let status = ok_json(&ws, &["status", "--json"]);
    assert_eq!(
        status,
        serde_json::json!({"total_bans": 0, "permanent_bans": 0, "temporary_bans": 0, "suspicious_ips": 1, "near_threshold": 1})
    );
    let trackers = ok_json(&ws, &["trackers", "--json"]);
    let t = trackers.as_array().expect("array");
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0]["ip"].as_str(), t[0]["kind"].as_str(), t[0]["count"].as_u64(), t[0]["threshold"].as_u64()),
        (Some("203.0.113.5"), Some("404"), Some(17), Some(20))
    );
    assert_eq!(t[0]["paths"][1], "<img src=x onerror=alert(1)>", "paths are data, passed through unchanged in JSON");
    assert_eq!(t[0]["source"], "openalgo");
    assert!(t[0].get("key_hashes").is_none());
    assert_eq!((t[1]["kind"].as_str(), t[1]["key_hashes"][0].as_str()), (Some("api"), Some("9bbd3f6dcb453c66")));
    assert!(t[0]["first_at"].as_str().is_some_and(|s| s.ends_with('Z')));
}

#[test]
fn manual_ban_unban_and_audit_round_trip() {
    let ws = ws_with(Some("logs.db"));
    let out = warden(&ws, &["ban", "2001:DB8::DEAD:1", "--for", "1w", "--reason", "Credential stuffing"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let row: (String, i64, String, Option<String>) = raw(&ws.logs)
        .query_row("SELECT created_by, is_permanent, ban_reason, expires_at FROM ip_bans WHERE ip_address = '2001:db8::dead:1'", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("canonical row");
    assert_eq!((row.0.as_str(), row.1, row.2.as_str()), ("warden:manual", 0, "Credential stuffing"));
    assert!(row.3.is_some());
    let typed: i64 = raw(&ws.logs)
        .query_row("SELECT COUNT(*) FROM ip_bans WHERE ip_address = '2001:DB8::DEAD:1'", [], |r| r.get(0))
        .expect("raw row");
    assert_eq!(typed, 1, "the spelling as typed is banned too");
    assert!(ips(&ok_json(&ws, &["bans", "--json"])).contains(&"2001:db8::dead:1".to_string()));

    let out = warden(&ws, &["unban", "2001:db8::dead:1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let left: i64 = raw(&ws.logs)
        .query_row(
            "SELECT COUNT(*) FROM ip_bans WHERE ip_address LIKE '2001:%dead%' OR ip_address LIKE '2001:%DEAD%'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(left, 0, "both spellings gone");
    let err = fails(&ws, &["unban", "2001:db8::dead:1"]);
    assert!(err.contains("not banned"), "{err}");

    let audit = ok_json(&ws, &["audit", "--json"]);
    let a = audit.as_array().expect("array");
    assert_eq!(a.len(), 2, "{audit}");
    assert_eq!((a[0]["action"].as_str(), a[0]["actor"].as_str()), (Some("unban"), Some("cli")));
    assert_eq!((a[1]["action"].as_str(), a[1]["reason"].as_str()), (Some("ban"), Some("Credential stuffing")));
    let mode = std::fs::metadata(&ws.state).expect("state exists").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "state database is private");
}

#[test]
fn a_ban_for_permanent_and_a_custom_number_of_hours() {
    let ws = ws_with(None);
    assert!(warden(&ws, &["ban", "203.0.113.90", "--for", "permanent"]).status.success());
    assert!(warden(&ws, &["ban", "203.0.113.91", "--for", "72h"]).status.success());
    let rows: Vec<(String, i64, Option<String>, Option<String>)> = {
        let c = raw(&ws.logs);
        let mut s = c
            .prepare("SELECT ip_address, is_permanent, expires_at, banned_at FROM ip_bans ORDER BY ip_address")
            .expect("prep");
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("q")
            .map(|r| r.expect("row"))
            .collect()
    };
    assert_eq!((rows[0].1, rows[0].2.is_none()), (1, true));
    let at = warden::time::parse_db_time(rows[1].3.as_deref().expect("banned_at")).expect("parse");
    let until = warden::time::parse_db_time(rows[1].2.as_deref().expect("expires")).expect("parse");
    assert_eq!(until - at, chrono::Duration::hours(72));
}

#[test]
fn refuses_protected_and_invalid_addresses_with_one_clear_line() {
    let ws = ws_with(None);
    // A range is accepted (as a deny policy) but refused just the same when it holds a protected one.
    for ip in ["127.0.0.1", "::ffff:127.0.0.1", "192.168.1.10", "::1", "10.0.0.0/8"] {
        let err = fails(&ws, &["ban", ip]);
        assert!(err.contains("refusing to ban") && err.contains("lock you out"), "{ip}: {err}");
    }
    for ip in ["not-an-ip", "", "1.2.3.4:80"] {
        let err = fails(&ws, &["ban", ip]);
        assert!(err.contains("is not an IP address"), "{ip}: {err}");
    }
    let err = fails(&ws, &["ban", "203.0.113.1", "--for", "forever-ish"]);
    assert!(err.contains("ban duration"), "{err}");
    let count: i64 = raw(&ws.logs).query_row("SELECT COUNT(*) FROM ip_bans", [], |r| r.get(0)).expect("count");
    assert_eq!(count, 0, "nothing written");
}

#[test]
fn refuses_to_ban_the_address_of_the_trader_s_ssh_session_or_openalgo_sign_in() {
    let ws = ws_with(None);
    // OpenAlgo's openalgo.db beside logs.db, with a sign-in from 203.0.113.88 (IST, naive).
    let oa = ws.logs.with_file_name("openalgo.db");
    let ist = (chrono::Utc::now() + chrono::Duration::minutes(330)).format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    crate::common::create_login_attempts(&oa);
    raw(&oa)
        .execute(
            "INSERT INTO login_attempts (username, ip_address, status, timestamp) VALUES ('trader', '203.0.113.88', 'success', ?1)",
            [&ist],
        )
        .expect("sign-in");
    let ban = |ip: &str| {
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["--logs-db", ws.logs.to_str().expect("utf8"), "--state-db", ws.state.to_str().expect("utf8")])
            .args(["ban", ip])
            .env("XDG_CONFIG_HOME", ws.dir.path().join("xdg"))
            .env("SSH_CONNECTION", "203.0.113.77 52144 198.51.100.2 22")
            .output()
            .expect("run warden")
    };
    let out = ban("203.0.113.77");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("Warden runs in your SSH session from it"), "{err}");
    let out = ban("203.0.113.88");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("you signed in to OpenAlgo from it"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let count: i64 = raw(&ws.logs).query_row("SELECT COUNT(*) FROM ip_bans", [], |r| r.get(0)).expect("count");
    assert_eq!(count, 0, "nothing written");
    assert!(ban("203.0.113.89").status.success(), "a stranger can still be banned");
}

#[test]
fn clears_openalgos_trackers() {
    let ws = ws_with(Some("logs.db"));
    assert!(warden(&ws, &["clear-404", "2001:DB8:1::77"]).status.success(), "case-insensitive IPv6 match");
    assert!(warden(&ws, &["clear-api", "198.51.100.31"]).status.success());
    let n404: i64 = raw(&ws.logs)
        .query_row("SELECT COUNT(*) FROM error_404_tracker WHERE ip_address = '2001:db8:1::77'", [], |r| r.get(0))
        .expect("q");
    let napi: i64 = raw(&ws.logs)
        .query_row("SELECT COUNT(*) FROM invalid_api_key_tracker WHERE ip_address = '198.51.100.31'", [], |r| r.get(0))
        .expect("q");
    assert_eq!((n404, napi), (0, 0));
    let err = fails(&ws, &["clear-api", "198.51.100.31"]);
    assert!(err.contains("no invalid API key tracker entry"), "{err}");
}

#[test]
fn usage_errors_are_one_line_with_exit_code_1() {
    let ws = ws_with(None);
    let out = warden(&ws, &["ban"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("<IP>") && err.contains("warden --help"), "{err}");
    assert_eq!(warden(&ws, &["frobnicate"]).status.code(), Some(1));
    assert!(warden(&ws, &["--help"]).status.success());
}

#[test]
fn a_missing_logs_db_and_a_bad_config_say_what_to_do() {
    let ws = ws_with(None);
    let missing = Ws {
        dir: tempfile::tempdir().expect("tempdir"),
        logs: PathBuf::from("/nonexistent/db/logs.db"),
        state: ws.state.clone(),
    };
    let err = fails(&missing, &["status"]);
    assert!(err.contains("was not found") && err.contains("--logs-db"), "{err}");
    let cfg = ws.dir.path().join("bad.toml");
    std::fs::write(&cfg, "[rules]\nnot_found_threshold = 0\n").expect("write");
    let err = fails(&ws, &["--config", cfg.to_str().expect("utf8"), "status"]);
    assert!(err.contains("rules.not_found_threshold must be 1 to 10000"), "{err}");
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[test]
fn the_demo_detects_warns_and_bans_within_its_first_minute() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ws_dir = dir.path().join("demo");
    // Ten times faster than real time: nine seconds here are the demo's first 90 s.
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["demo", "--json", "--seconds", "9", "--speed", "10", "--dir"])
        .arg(&ws_dir)
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .output()
        .expect("run demo");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let notices = json_lines(&out);
    let kinds = |k: &str| notices.iter().filter(|n| n["kind"] == k).cloned().collect::<Vec<_>>();
    let banned = kinds("banned");
    assert!(banned.iter().any(|b| b["ip"] == "203.0.113.7" && b["rule"] == "404"), "scanner banned: {notices:?}");
    assert!(banned.iter().any(|b| b["ip"] == "192.0.2.45" && b["rule"] == "api"), "key-sprayer banned: {notices:?}");
    assert!(kinds("near_threshold").iter().any(|n| n["ip"] == "203.0.113.7"), "warned before the ban");
    assert!(kinds("protected").iter().any(|n| n["ip"] == "127.0.0.1"), "local health check never banned");
    assert!(!kinds("not_an_ip").is_empty(), "spoofed header value reported");
    assert!(!banned.iter().any(|b| b["ip"] == "127.0.0.1" || b["ip"] == "198.51.100.10"), "users never banned");
    assert!(
        banned.iter().any(|b| b["ip"] == "198.51.100.200" && b["source"] == "proxy"),
        "the scanner OpenAlgo sees as '' is banned from nginx's access log: {notices:?}"
    );
    assert!(kinds("burst").iter().any(|b| b["scope"] == "/auth/login"), "password guesser over 5 per minute");
    // The bans are real rows that OpenAlgo would enforce.
    let logs = ws_dir.join("logs.db");
    let n: i64 = raw(&logs)
        .query_row("SELECT COUNT(*) FROM ip_bans WHERE created_by LIKE 'warden:%'", [], |r| r.get(0))
        .expect("count");
    assert!(n >= 2, "{n} ban rows");
    assert!(Path::new(&logs).exists());
}

#[test]
fn config_init_writes_a_private_file_that_loads_and_never_overwrites() {
    let ws = ws_with(None);
    let file = ws.dir.path().join("conf/warden.toml");
    let out = warden(&ws, &["config", "--init", file.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::metadata(&file).expect("written").permissions().mode() & 0o777, 0o600);
    let cfg = warden::config::Config::load(Some(&file)).expect("the written file loads");
    assert_eq!(cfg, warden::config::Config::default());
    let err = fails(&ws, &["config", "--init", file.to_str().expect("utf8")]);
    assert!(err.contains("never overwrites"), "{err}");
    let shown = warden(&ws, &["--config", file.to_str().expect("utf8"), "config"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("not_found_threshold = 20") && text.contains(ws.logs.to_str().expect("utf8")), "{text}");
}

#[test]
fn the_configuration_shown_in_the_guide_is_valid_and_is_the_default() {
    let guide = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md")).expect("guide");
    let section = guide.split("## Configuration").nth(1).expect("a Configuration section");
    let block = section.split("```toml").nth(1).and_then(|b| b.split("```").next()).expect("a toml block");
    let cfg = warden::config::Config::parse(block, "docs/guide.md").unwrap_or_else(|e| panic!("guide config: {e}"));
    assert_eq!(cfg, warden::config::Config::default(), "the guide documents the defaults");
}

#[test]
fn trackers_and_status_include_the_access_log_counters_the_monitor_saved() {
    let ws = ws_with(None);
    let log = ws.dir.path().join("access.log");
    let now = warden::time::now();
    let lines: String = (0..17)
        .map(|i| {
            let at = now - chrono::Duration::seconds(60 - i);
            format!(
                "203.0.113.44 - - [{}] \"GET /probe-{i} HTTP/1.1\" 404 1 \"-\" \"-\"\n",
                at.format("%d/%b/%Y:%H:%M:%S +0000")
            )
        })
        .collect();
    std::fs::write(&log, lines).expect("write log");
    let out = warden(&ws, &["--access-log", log.to_str().expect("utf8"), "watch", "--json", "--seconds", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let trackers = ok_json(&ws, &["trackers", "--json"]);
    let t = trackers.as_array().expect("array");
    let proxy: Vec<&Value> = t.iter().filter(|t| t["source"] == "proxy").collect();
    assert_eq!(proxy.len(), 1, "{trackers}");
    assert_eq!(
        (proxy[0]["ip"].as_str(), proxy[0]["count"].as_u64(), proxy[0]["kind"].as_str()),
        (Some("203.0.113.44"), Some(17), Some("404"))
    );
    assert_eq!(proxy[0]["paths"].as_array().map(Vec::len), Some(17));
    assert_eq!(ok_json(&ws, &["status", "--json"])["near_threshold"], 1);
}

#[test]
fn the_audit_log_names_the_os_user_even_without_user_variables() {
    let ws = ws_with(None);
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["--logs-db", ws.logs.to_str().unwrap(), "--state-db", ws.state.to_str().unwrap()])
        .args(["ban", "203.0.113.77", "--reason", "probe"])
        .env("XDG_CONFIG_HOME", ws.dir.path().join("xdg"))
        .env_remove("USER")
        .env_remove("LOGNAME")
        .output()
        .expect("run warden");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let user: Option<String> =
        rusqlite::Connection::open(&ws.state).unwrap().query_row("SELECT user FROM audit", [], |r| r.get(0)).unwrap();
    let uid = real_uid();
    let expected = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2) == Some(&uid.as_str())).then(|| f[0].to_string())
        })
        .unwrap_or(format!("uid {uid}"));
    assert_eq!(user.as_deref(), Some(expected.as_str()));
}

/// This process's real uid, from /proc.
fn real_uid() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:").map(|r| r.split_whitespace().next().unwrap().to_string()))
        .unwrap()
}

/// `warden`, run as an unprivileged user when the tests run as root (root reads and writes any
/// file, so a permission test needs someone else), else as ourselves.
fn warden_unprivileged() -> Command {
    if real_uid() != "0" {
        return Command::new(env!("CARGO_BIN_EXE_warden"));
    }
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", env!("CARGO_BIN_EXE_warden")]);
    c
}

#[test]
fn an_unreadable_access_log_is_reported_once_and_logs_db_is_still_watched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let logs = fresh_logs_db(dir.path());
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o666)).unwrap();
    let access = dir.path().join("access.log");
    std::fs::write(&access, "203.0.113.1 - - [22/Nov/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n")
        .unwrap();
    std::fs::set_permissions(&access, std::fs::Permissions::from_mode(0o000)).unwrap();
    let cfg = dir.path().join("warden.toml");
    std::fs::write(&cfg, "poll_seconds = 1\n").unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let child = warden_unprivileged()
        .args(["--config", cfg.to_str().unwrap(), "--logs-db", logs.to_str().unwrap()])
        .args(["--state-db", dir.path().join("state.db").to_str().unwrap()])
        .args(["--access-log", access.to_str().unwrap(), "watch", "--json", "--seconds", "5"])
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run warden");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    raw(&logs)
        .execute(
            "INSERT INTO error_404_tracker (ip_address, error_count, first_error_at, last_error_at, paths_attempted) \
             VALUES ('203.0.113.9', 20, datetime('now'), datetime('now'), '[]')",
            [],
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "watch ends cleanly");
    let notices: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let failing: Vec<&serde_json::Value> = notices
        .iter()
        .filter(|n| n["kind"] == "source" && n["name"] == "access log" && n["health"]["state"] == "failing")
        .collect();
    assert_eq!(failing.len(), 1, "reported once: {notices:?}");
    assert!(failing[0]["health"]["detail"].as_str().unwrap().contains("may not read"), "{}", failing[0]);
    assert!(
        notices.iter().any(|n| n["kind"] == "banned" && n["ip"] == "203.0.113.9"),
        "logs.db is still watched and acted on: {notices:?}"
    );
}

#[test]
fn a_read_only_logs_db_gives_one_clear_line_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let logs = fresh_logs_db(dir.path());
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = warden_unprivileged()
        .args(["--logs-db", logs.to_str().unwrap()])
        .args(["--state-db", dir.path().join("state.db").to_str().unwrap()])
        .args(["ban", "203.0.113.5"])
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .output()
        .expect("run warden");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(logs.to_str().unwrap()), "names the file: {err}");
    assert!(err.to_lowercase().contains("read-only") || err.contains("permission"), "says why: {err}");
    let rows: i64 = raw(&logs).query_row("SELECT COUNT(*) FROM ip_bans", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 0);
}

/// `warden check`: exit code 3 when something fails, 0 when nothing does, 1 when it cannot run;
/// the JSON has every field of the contract; `status` prints the one-line summary.
#[test]
fn check_exits_3_on_a_failure_0_on_a_clean_server_and_1_on_a_bad_option() {
    let ws = ws_with(None);
    let oa = ws.dir.path().join("openalgo");
    std::fs::create_dir_all(oa.join("db")).unwrap();
    std::fs::set_permissions(oa.join("db"), std::fs::Permissions::from_mode(0o750)).unwrap();
    let vhost = ws.dir.path().join("openalgo.conf");
    std::fs::write(
        &vhost,
        "server_tokens off;\nserver { listen 443 ssl; server_name a.example; add_header Strict-Transport-Security max-age=63072000 always;\n\
         location / { proxy_pass http://unix:/var/python/openalgo/openalgo.sock; proxy_set_header CF-Connecting-IP \"\";\n\
         proxy_set_header True-Client-IP \"\"; } }\n",
    )
    .unwrap();
    let env = oa.join(".env");
    let write_env = |debug: &str| {
        std::fs::write(
            &env,
            format!(
                "APP_KEY = '9f2c4e1ab7d35c60e8f14a92b3c7d5e6f01a2b3c4d5e6f708192a3b4c5d6e7f8'\n\
                 API_KEY_PEPPER = '4b8e2f61c9a03d75e1b6f4a8c2d9e07f3a5b1c6d8e2f4a7b9c0d1e3f5a6b8c9d'\n\
                 FLASK_DEBUG = '{debug}'\nTRUST_PROXY_HEADERS = 'TRUE'\nHOST_SERVER = 'https://a.example'\n\
                 FLASK_PORT = '1'\nWEBSOCKET_PORT = '2'\nZMQ_PORT = '3'\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let args = ["check", "--openalgo-dir", oa.to_str().unwrap(), "--nginx-config", vhost.to_str().unwrap()];
    write_env("True");
    let out = warden(&ws, &args);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stdout));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("FAIL  env.flask_debug"), "failures first: {text}");
    assert!(text.contains(&format!("fix: In {} set FLASK_DEBUG = 'False'", env.display())), "{text}");
    write_env("False");
    let out = warden(&ws, &[&args[..], &["--json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["fail"], 0, "{v}");
    for f in v["findings"].as_array().unwrap() {
        for key in ["id", "title", "status", "why", "fix", "evidence", "reason"] {
            assert!(f.get(key).is_some(), "{key} missing in {f}");
        }
        assert!(["pass", "warn", "fail", "unknown"].contains(&f["status"].as_str().unwrap()), "{f}");
    }
    assert!(!String::from_utf8_lossy(&out.stdout).contains("9f2c4e1ab7d35c60e8f1"), "APP_KEY shown unmasked");
    let err = fails(&ws, &["check", "--openalgo-dir", ws.dir.path().join("nope").to_str().unwrap()]);
    assert!(err.contains("is not a folder"), "{err}");
    let out = warden(&ws, &["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("server checklist:"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn watch_runs_the_checklist_again_when_env_changes_and_says_what_now_fails() {
    let dir = tempfile::tempdir().unwrap();
    let oa = dir.path().join("openalgo");
    std::fs::create_dir_all(oa.join("db")).unwrap();
    let logs = fresh_logs_db(&oa.join("db"));
    let env = oa.join(".env");
    std::fs::write(&env, "FLASK_DEBUG = 'False'\n").unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = dir.path().join("warden.toml");
    std::fs::write(&cfg, "poll_seconds = 1\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["--config", cfg.to_str().unwrap(), "--logs-db", logs.to_str().unwrap()])
        .args(["--state-db", dir.path().join("state.db").to_str().unwrap(), "watch", "--seconds", "9"])
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run warden");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    std::fs::write(&env, "FLASK_DEBUG = 'True'\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warden: server checklist:"), "the start-up summary: {err}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("CHECKLIST")).collect();
    assert_eq!(lines.len(), 1, "said once: {text}");
    assert!(lines[0].contains("now failing: Debug mode"), "{}", lines[0]);
    assert!(lines[0].contains(&format!("In {} set FLASK_DEBUG = 'False'", env.display())), "{}", lines[0]);
}

#[test]
fn policies_are_added_listed_and_removed_canonically_and_a_deny_over_a_protected_address_is_refused() {
    let ws = ws_with(None);
    let out = warden(&ws, &["policy", "add", "deny", "203.0.113.77/24", "--ttl", "2h", "--reason", "scanner <farm>"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("deny 203.0.113.0/24: until "));
    assert!(warden(&ws, &["policy", "add", "allow", "2001:DB8:0:0::7"]).status.success());
    assert!(warden(&ws, &["policy", "add", "deny", "::ffff:198.51.100.9"]).status.success());
    // The same value again replaces the entry.
    assert!(warden(&ws, &["policy", "add", "deny", "198.51.100.9", "--ttl", "30m"]).status.success());
    let v = ok_json(&ws, &["policy", "list", "--json"]);
    let rows = v.as_array().unwrap();
    let values: Vec<&str> = rows.iter().map(|p| p["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["198.51.100.9", "2001:db8::7", "203.0.113.0/24"]);
    for p in rows {
        for key in ["value", "policy", "ttl_seconds", "expires_at", "created_at", "reason", "created_by"] {
            assert!(p.get(key).is_some(), "{key} missing in {p}");
        }
        assert_eq!(p["created_by"], "cli");
    }
    assert_eq!(rows[0]["ttl_seconds"], 1800);
    assert_eq!(rows[1]["policy"], "allow");
    assert!(rows[1]["expires_at"].is_null() && rows[1]["ttl_seconds"].is_null());
    assert_eq!(rows[2]["reason"], "scanner <farm>");
    let text = String::from_utf8_lossy(&warden(&ws, &["policy", "list"]).stdout).to_string();
    assert!(text.contains("203.0.113.0/24") && text.contains("1h 59m") && text.contains("until removed"), "{text}");

    // Refused, each with one line that says why, and nothing written.
    for (args, why) in [
        (vec!["policy", "add", "deny", "10.0.0.0/8"], "private network"),
        (vec!["policy", "add", "deny", "127.0.0.1"], "loopback"),
        (vec!["policy", "add", "deny", "2001:db8::/64"], "allow-list (2001:db8::7/128)"),
        (vec!["policy", "add", "deny", "0.0.0.0/0"], "covers every address"),
        (vec!["policy", "add", "deny", "203.0.113.0/33"], "not an IP address or a CIDR"),
        (vec!["policy", "add", "deny", "203.0.113.9", "--ttl", "-5"], "negative"),
        (vec!["policy", "add", "deny", "203.0.113.9", "--ttl", "0"], "zero"),
        (vec!["policy", "add", "deny", "203.0.113.9", "--ttl", "20000d"], "ten years"),
        (vec!["policy", "add", "maybe", "203.0.113.9"], "use allow or deny"),
        (vec!["policy", "rm", "192.0.2.1"], "no policy for 192.0.2.1"),
        (vec!["ban", "192.168.0.0/16"], "private network"),
    ] {
        let err = fails(&ws, &args);
        assert!(err.contains(why), "{args:?}: {err}");
    }
    assert_eq!(ok_json(&ws, &["policy", "list", "--json"]).as_array().unwrap().len(), 3, "nothing half-applied");

    // A range banned by hand is a deny policy with the ban's length.
    let out = warden(&ws, &["ban", "198.51.100.0/25", "--for", "48h", "--reason", "botnet"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = ok_json(&ws, &["policy", "list", "--json"]);
    let range = v.as_array().unwrap().iter().find(|p| p["value"] == "198.51.100.0/25").expect("the range");
    assert_eq!((range["policy"].as_str(), range["ttl_seconds"].as_u64()), (Some("deny"), Some(172_800)));
    let out = warden(&ws, &["policy", "rm", "203.0.113.5/24"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let audit = ok_json(&ws, &["audit", "--json"]);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["policy-rm", "policy-add", "policy-add", "policy-add", "policy-add", "policy-add"]);
}
