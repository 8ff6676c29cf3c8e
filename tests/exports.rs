//! Exports for a SIEM on real sockets and files: metrics scraped over HTTP and checked by
//! Prometheus's own `promtool`, the JSON-lines file across a logrotate-style move, and syslog
//! received over UDP and TCP.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration as StdDuration;

use chrono::Duration;
use warden::config::{Config, Paths};
use warden::monitor::{Monitor, Notice};

use crate::common::{fresh_logs_db, wait_for};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn setup(dir: &Path, export: &str) -> (Config, Paths) {
    fresh_logs_db(dir);
    let cfg = Config::parse(&format!("[export]\n{export}\n"), "test").unwrap();
    let paths = Paths {
        logs_db: dir.join("logs.db"),
        openalgo_db: None,
        state_db: dir.join("state/warden.db"),
        access_logs: vec![],
    };
    (cfg, paths)
}

fn ban(m: &mut Monitor, logs: &Path, ip: &str) -> Notice {
    let mut emu = warden::demo::openalgo::OpenAlgoEmulator::open(logs).unwrap();
    let now = warden::time::now();
    for i in 0..20 {
        emu.track_404(ip, &format!("/x{i}"), now - Duration::seconds(30 - i)).unwrap();
    }
    wait_for(StdDuration::from_secs(10), "the ban", || {
        m.tick(warden::time::now()).into_iter().find(|n| matches!(n, Notice::Banned { .. }))
    })
}

fn get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

#[test]
fn metrics_count_bans_and_sources_and_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (cfg, paths) = setup(dir.path(), &format!("metrics = \"127.0.0.1:{port}\""));
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    ban(&mut m, &paths.logs_db, "203.0.113.9");
    let (head, body) = get(port, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(body.contains("warden_bans_total{rule=\"404\",origin=\"warden\",source=\"openalgo\"} 1\n"), "{body}");
    assert!(
        body.contains(&format!("warden_source_up{{source=\"logs.db\",path=\"{}\"}} 1\n", paths.logs_db.display())),
        "{body}"
    );
    assert!(body.contains("warden_ban_latency_seconds_count 1\n"), "{body}");
    assert!(body.contains("warden_notices_total{kind=\"banned\"} 1\n"), "{body}");
    assert!(!body.contains("203.0.113.9"), "no address in any label");
    let (head, _) = get(port, "/");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed: scripts/test.sh installs it");
    promtool.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}");

    // A second Warden on the same port gets one clear error.
    let e = Monitor::open(&cfg, &paths).unwrap_err().to_string();
    assert!(e.contains(&format!("serving metrics on 127.0.0.1:{port}")), "{e}");
}

#[test]
fn the_event_file_gets_one_json_object_per_notice_and_a_new_file_after_logrotate_moves_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log/events.jsonl");
    let (cfg, paths) = setup(dir.path(), &format!("json_lines = \"{}\"", file.display()));
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    ban(&mut m, &paths.logs_db, "203.0.113.20");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let first = std::fs::read_to_string(&file).unwrap();
    let objects: Vec<serde_json::Value> = first.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let banned = objects.iter().find(|o| o["kind"] == "banned").expect("a banned object");
    assert_eq!(banned["ip"], "203.0.113.20");
    assert!(banned["time"].as_str().unwrap().ends_with('Z'));
    std::fs::rename(&file, dir.path().join("log/events.jsonl.1")).unwrap();
    ban(&mut m, &paths.logs_db, "203.0.113.21");
    let second = std::fs::read_to_string(&file).unwrap();
    assert!(second.contains("\"ip\":\"203.0.113.21\"") && !second.contains("203.0.113.20"), "{second}");
    let old = std::fs::read_to_string(dir.path().join("log/events.jsonl.1")).unwrap();
    assert!(!old.contains("203.0.113.21"), "nothing more goes to the moved file");
}

#[test]
fn syslog_messages_are_rfc5424_over_udp_and_tcp_and_tcp_catches_up_after_the_receiver_starts() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(StdDuration::from_secs(10))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, paths) = setup(dir.path(), &format!("syslog = \"udp://{}\"", udp.local_addr().unwrap()));
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    ban(&mut m, &paths.logs_db, "203.0.113.30");
    let mut buf = [0u8; 9000];
    let line = loop {
        let n = udp.recv(&mut buf).unwrap();
        let s = String::from_utf8(buf[..n].to_vec()).unwrap();
        if s.contains(" BANNED ") {
            break s;
        }
    };
    let re_head = line.split(" [").next().unwrap();
    let parts: Vec<&str> = re_head.split(' ').collect();
    assert_eq!(parts[0], "<37>1", "facility auth, severity notice: {line}");
    assert!(parts[1].ends_with('Z') && parts[1].contains('T'), "{line}");
    assert_eq!((parts[3], parts[4].parse::<u32>().is_ok(), parts[5]), ("warden", true, "BANNED"), "{line}");
    assert!(line.contains("[warden@32473 ip=\"203.0.113.30\" rule=\"404\" count=\"20\" threshold=\"20\"] \u{feff}BANNED     203.0.113.30"), "{line}");

    // TCP, with the receiver down at first.
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, paths) = setup(dir.path(), &format!("syslog = \"tcp://127.0.0.1:{port}\""));
    let mut m = Monitor::open(&cfg, &paths).unwrap();
    ban(&mut m, &paths.logs_db, "203.0.113.31");
    let failing = wait_for(StdDuration::from_secs(10), "syslog reported failing", || {
        m.tick(warden::time::now()).into_iter().find(|n| matches!(n, Notice::Source { name, .. } if name == "syslog"))
    });
    assert!(failing.to_string().contains("cannot send to the syslog receiver"), "{failing}");
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(StdDuration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let text = loop {
        let n = conn.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&chunk[..n]);
        let s = String::from_utf8_lossy(&got).to_string();
        if s.contains("203.0.113.31\"") {
            break s;
        }
    };
    // Octet counting: "LEN <PRI>1 ...", LEN the byte length of the message.
    let (len, rest) = text.split_once(' ').unwrap();
    let len: usize = len.parse().unwrap();
    assert!(rest.len() >= len && rest.starts_with('<'), "{text}");
}
