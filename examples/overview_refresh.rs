//! What one overview refresh costs at 100 and at 10 000 requests a minute: from the monitor's
//! counters (what the desktop app does while its monitor runs) against reading the last hour of
//! the logs (what it did before, and still does without a monitor). Both in the same run.
//!
//! ```sh
//! cargo run --release --example overview_refresh [-- RUNS]
//! ```
//!
//! Each workspace has an nginx access log with an hour of requests at the given rate, and
//! `traffic_logs` with the same requests, as OpenAlgo writes them. The monitor reads both once,
//! then the overview is timed `RUNS` times (default 50) each way; the median is printed.

use std::io::Write;
use std::time::Instant;

use chrono::TimeDelta;
use warden::config::{Config, Paths};
use warden::dashboard::Desk;
use warden::monitor::Monitor;
use warden::time::Timestamp;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn workspace(dir: &std::path::Path, per_minute: usize, now: Timestamp) -> Desk {
    let logs_db = dir.join("logs.db");
    warden::store::logs_db::create_openalgo_schema(&logs_db).expect("logs.db");
    let log = dir.join("access.log");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&log).expect("access.log"));
    let conn = rusqlite::Connection::open(&logs_db).expect("open");
    conn.execute_batch("BEGIN").expect("begin");
    let mut insert = conn
        .prepare(
            "INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) \
             VALUES (?1, ?2, 'GET', ?3, ?4, 1.0, 'openalgo.example')",
        )
        .expect("prepare");
    let start = now - TimeDelta::minutes(60);
    let total = per_minute * 60;
    for i in 0..total {
        let at = start + TimeDelta::milliseconds((i as i64) * 3_600_000 / total as i64);
        let status = [200, 200, 200, 404, 403, 500, 302][i % 7];
        let ip = format!("203.0.{}.{}", (i / 256) % 256, i % 256);
        writeln!(
            out,
            "{ip} - - [{}] \"GET /p/{} HTTP/1.1\" {status} 512 \"-\" \"Mozilla/5.0\"",
            at.format("%d/%b/%Y:%H:%M:%S +0000"),
            i % 5000
        )
        .expect("write");
        insert
            .execute(rusqlite::params![warden::time::format_db_time(at), ip, format!("/p/{}", i % 5000), status])
            .expect("insert");
    }
    drop(insert);
    conn.execute_batch("COMMIT").expect("commit");
    out.flush().expect("flush");
    let paths = Paths {
        logs_db,
        openalgo_db: None,
        state_db: dir.join("state.db"),
        access_logs: vec![(log, "combined".into())],
    };
    Desk { cfg: Config::default(), paths, config_path: None, demo: None }
}

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let now = warden::time::now();
    let mut rows = Vec::new();
    for per_minute in [100, 10_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let desk = workspace(dir.path(), per_minute, now);
        let mut monitor = Monitor::open(&desk.cfg, &desk.paths).expect("monitor");
        let pulse = monitor.share_pulse();
        monitor.tick(now);
        desk.seed_pulse(&pulse, now);
        let time = |f: &dyn Fn()| {
            median(
                (0..runs)
                    .map(|_| {
                        let t = Instant::now();
                        f();
                        t.elapsed().as_secs_f64() * 1000.0
                    })
                    .collect(),
            )
        };
        let counters = time(&|| {
            let p = pulse.lock().expect("pulse").clone();
            std::hint::black_box(desk.overview_with(now, Some(&p)).expect("overview"));
        });
        let reading = time(&|| {
            std::hint::black_box(desk.overview(now).expect("overview"));
        });
        println!(
            "{per_minute:>6} requests/min: from the counters {counters:.2} ms, reading the logs {reading:.2} ms (median of {runs})"
        );
        rows.push((counters, reading));
    }
    let (c, r) = (rows[1].0 / rows[0].0, rows[1].1 / rows[0].1);
    println!("10 000 vs 100 requests/min: from the counters {c:.2}x, reading the logs {r:.2}x");
}
