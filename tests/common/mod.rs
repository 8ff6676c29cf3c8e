//! Helpers shared by the test modules.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use warden::time::{parse_db_time, Timestamp};

pub mod lapi;
pub mod receiver;
pub mod smtp;

/// The reference fixtures, written by OpenAlgo's own code.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/fixtures").join(name)
}

/// A writable copy of a fixture in `dir` (the fixtures themselves are never written).
pub fn copy_fixture(name: &str, dir: &Path) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(fixture(name), &dst).unwrap_or_else(|e| panic!("copying fixture {name}: {e}"));
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o644)).expect("chmod fixture copy");
    dst
}

/// A fresh logs.db in OpenAlgo's schema.
pub fn fresh_logs_db(dir: &Path) -> PathBuf {
    let p = dir.join("logs.db");
    warden::store::logs_db::create_openalgo_schema(&p).expect("create logs.db");
    p
}

/// A time from `logs.db` spelling, for readable tests.
pub fn t(s: &str) -> Timestamp {
    parse_db_time(s).unwrap_or_else(|| panic!("bad test time {s}"))
}

/// Waits until `f` returns `Some`, polling every 20 ms, failing after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Raw SQL access for assertions, independent of Warden's decoding.
pub fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("open raw connection")
}

/// OpenAlgo's `login_attempts` table in `openalgo.db` (spec §2; no fixture holds it), created at
/// `path`.
pub fn create_login_attempts(path: &Path) {
    raw(path)
        .execute_batch(
            "CREATE TABLE login_attempts (id INTEGER NOT NULL, username VARCHAR(255) NOT NULL, \
             ip_address VARCHAR(45), device_info VARCHAR(500), status VARCHAR(20) NOT NULL, \
             login_type VARCHAR(20), broker VARCHAR(20), failure_reason VARCHAR(255), timestamp DATETIME, \
             PRIMARY KEY (id));",
        )
        .expect("login_attempts");
}
