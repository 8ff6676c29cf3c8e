//! Sharing bans through a real CrowdSec LAPI (Debian's `crowdsec`, offline, on loopback): two
//! Warden monitors, A and B, each with its own `logs.db`, share one LAPI.

use std::path::Path;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use warden::config::{Config, Paths};
use warden::monitor::{Monitor, Notice};

use crate::common::lapi::Lapi;
use crate::common::receiver::{Receiver, Reply};
use crate::common::{fresh_logs_db, raw, wait_for};

struct Side {
    _dir: tempfile::TempDir,
    cfg: Config,
    paths: Paths,
}

fn side(lapi_url: &str, creds: Option<&Path>, key: Option<&Path>, extra: &str) -> Side {
    let dir = tempfile::tempdir().unwrap();
    fresh_logs_db(dir.path());
    let mut text = format!("[crowdsec]\nurl = \"{lapi_url}\"\npull_seconds = 1\n");
    match creds {
        Some(c) => text.push_str(&format!("credentials = \"{}\"\n", c.display())),
        None => text.push_str("push = false\n"),
    }
    match key {
        Some(k) => text.push_str(&format!("bouncer_key_file = \"{}\"\n", k.display())),
        None => text.push_str("pull = false\n"),
    }
    text.push_str(extra);
    let cfg = Config::parse(&text, "test").unwrap();
    let paths = Paths {
        logs_db: dir.path().join("logs.db"),
        openalgo_db: None,
        state_db: dir.path().join("state/warden.db"),
        access_logs: vec![],
    };
    Side { _dir: dir, cfg, paths }
}

fn ban_row(logs: &Path, ip: &str) -> Option<(String, String)> {
    raw(logs)
        .query_row("SELECT created_by, ban_reason FROM ip_bans WHERE ip_address = ?1", [ip], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .ok()
}

fn scan(logs: &Path, ip: &str) {
    let mut emu = warden::demo::openalgo::OpenAlgoEmulator::open(logs).unwrap();
    let now = warden::time::now();
    for i in 0..20 {
        emu.track_404(ip, &format!("/x{i}"), now - Duration::seconds(30 - i)).unwrap();
    }
}

/// Ticks every monitor until `f` holds, returning every notice seen.
fn until(monitors: &mut [&mut Monitor], what: &str, secs: u64, mut f: impl FnMut() -> bool) -> Vec<Notice> {
    let mut seen = Vec::new();
    wait_for(StdDuration::from_secs(secs), what, || {
        for m in monitors.iter_mut() {
            seen.extend(m.tick(warden::time::now()));
        }
        f().then_some(())
    });
    seen
}

struct Pair {
    lapi: Lapi,
    a: Side,
    b: Side,
    _keys: tempfile::TempDir,
}

fn pair(extra_b: &str) -> Pair {
    let lapi = Lapi::start();
    let keys = tempfile::tempdir().unwrap();
    let (ca, ka) = (lapi.machine("warden-a", keys.path()), lapi.bouncer("warden-a", keys.path()));
    let (cb, kb) = (lapi.machine("warden-b", keys.path()), lapi.bouncer("warden-b", keys.path()));
    let a = side(&lapi.url, Some(&ca), Some(&ka), "");
    let b = side(&lapi.url, Some(&cb), Some(&kb), extra_b);
    Pair { lapi, a, b, _keys: keys }
}

#[test]
fn a_ban_on_a_reaches_bs_logs_db_and_cscli_decisions_reach_both_and_are_lifted_from_both() {
    let p = pair("");
    let mut a = Monitor::open(&p.a.cfg, &p.a.paths).unwrap();
    let mut b = Monitor::open(&p.b.cfg, &p.b.paths).unwrap();
    scan(&p.a.paths.logs_db, "203.0.113.77");
    let start = Instant::now();
    until(&mut [&mut a, &mut b], "A's ban in B's logs.db", 20, || {
        ban_row(&p.b.paths.logs_db, "203.0.113.77").is_some()
    });
    let took = start.elapsed();
    let (by, reason) = ban_row(&p.b.paths.logs_db, "203.0.113.77").unwrap();
    assert_eq!(by, "warden:crowdsec");
    assert_eq!(reason, "CrowdSec: warden/openalgo-404, from warden@warden-a");
    let view =
        warden::report::bans(&warden::store::logs_db::LogsDb::open(&p.b.paths.logs_db).unwrap(), warden::time::now())
            .unwrap();
    assert_eq!(view[0].origin, "another Warden (warden-a)", "the Banned IPs view says where it came from");
    assert_eq!(
        p.lapi.warden_decisions("203.0.113.77"),
        vec![("warden".to_string(), "warden/openalgo-404".to_string())]
    );
    let policy =
        warden::store::state::StateDb::open(&p.b.paths.state_db).unwrap().policies(warden::time::now()).unwrap();
    assert_eq!(policy[0].created_by, "crowdsec:warden@warden-a:warden/openalgo-404", "B knows which Warden banned it");
    eprintln!("A's ban to B's logs.db: {took:?}");

    p.lapi.cscli(&["decisions", "add", "--ip", "198.51.100.66", "--duration", "1h", "--reason", "manual-test"]);
    until(&mut [&mut a, &mut b], "cscli's decision in both", 20, || {
        ban_row(&p.a.paths.logs_db, "198.51.100.66").is_some() && ban_row(&p.b.paths.logs_db, "198.51.100.66").is_some()
    });
    let (_, reason) = ban_row(&p.a.paths.logs_db, "198.51.100.66").unwrap();
    assert_eq!(warden::report::origin_words(Some("warden:crowdsec"), Some(&reason)), "CrowdSec (manual-test, cscli)");
    p.lapi.cscli(&["decisions", "delete", "--ip", "198.51.100.66"]);
    until(&mut [&mut a, &mut b], "the deleted decision lifted from both", 20, || {
        ban_row(&p.a.paths.logs_db, "198.51.100.66").is_none() && ban_row(&p.b.paths.logs_db, "198.51.100.66").is_none()
    });
    // A's own ban stayed in A's logs.db with A's own origin.
    assert_eq!(ban_row(&p.a.paths.logs_db, "203.0.113.77").map(|r| r.0).as_deref(), Some("warden:404"));
}

/// A network namespace for nftables, removed on drop (the test runs as root, as in CI).
struct Netns(String);

impl Netns {
    fn new() -> Self {
        let name = format!("warden-cs-{}", std::process::id());
        let out = std::process::Command::new("ip").args(["netns", "add", &name]).output().expect("ip");
        assert!(out.status.success(), "cannot create a network namespace (this test needs root, as in CI)");
        Self(name)
    }

    fn nft_list(&self) -> String {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &self.0, "nft", "list", "table", "inet", "warden"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn a_range_decision_reaches_nginx_and_nftables_as_a_range_and_a_protected_address_is_never_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("banned.geo");
    let ns = Netns::new();
    let p = pair(&format!(
        "[enforce.nginx]\ngeo_file = \"{}\"\ncheck = [\"true\"]\nreload = [\"true\"]\nreload_spacing_seconds = 0\n\
         [enforce.nftables]\nports = [8080]\ncommand = [\"ip\", \"netns\", \"exec\", \"{}\", \"nft\"]\n",
        geo.display(),
        ns.0
    ));
    let mut b = Monitor::open(&p.b.cfg, &p.b.paths).unwrap();
    p.lapi.cscli(&["decisions", "add", "--range", "203.0.113.128/25", "--duration", "2h", "--reason", "range-test"]);
    p.lapi.cscli(&["decisions", "add", "--ip", "10.0.0.5", "--duration", "2h", "--reason", "private"]);
    let mut seen = Vec::new();
    wait_for(StdDuration::from_secs(20), "the range in nginx's list", || {
        seen.extend(b.tick(warden::time::now()));
        std::fs::read_to_string(&geo).is_ok_and(|t| t.contains("203.0.113.128/25 1;")).then_some(())
    });
    let more = until(&mut [&mut b], "the protected decision reported", 10, || {
        seen.iter().any(|n| n.to_string().contains("10.0.0.5 is not enforced"))
    });
    let said: Vec<String> =
        seen.iter().chain(&more).map(ToString::to_string).filter(|l| l.contains("10.0.0.5")).collect();
    assert_eq!(said.len(), 1, "reported once: {said:?}");
    assert!(said[0].starts_with("CROWDSEC   a decision for 10.0.0.5 is not enforced: it is"), "{said:?}");
    let text = std::fs::read_to_string(&geo).unwrap();
    assert!(!text.contains("10.0.0.5"), "{text}");
    until(&mut [&mut b], "the range in the kernel", 10, || ns.nft_list().contains("203.0.113.128/25"));
    let kernel = ns.nft_list();
    assert!(!kernel.contains("10.0.0.5"), "{kernel}");
    assert!(ban_row(&p.b.paths.logs_db, "10.0.0.5").is_none());
}

#[test]
fn bans_made_while_the_lapi_is_down_all_arrive_once_it_is_back_even_across_a_restart() {
    let mut p = pair("");
    let mut a = Monitor::open(&p.a.cfg, &p.a.paths).unwrap();
    until(&mut [&mut a], "A connected", 10, || true);
    p.lapi.stop();
    scan(&p.a.paths.logs_db, "203.0.113.1");
    scan(&p.a.paths.logs_db, "203.0.113.2");
    until(&mut [&mut a], "A reporting the LAPI failing", 20, || {
        let s = warden::store::state::StateDb::open(&p.a.paths.state_db).unwrap().sink_statuses().unwrap();
        s.iter().any(|(x, _)| x.name == "crowdsec" && x.error.is_some())
    });
    drop(a); // A restarts while the LAPI is down
    let mut a = Monitor::open(&p.a.cfg, &p.a.paths).unwrap();
    scan(&p.a.paths.logs_db, "203.0.113.3");
    until(&mut [&mut a], "the third ban", 10, || ban_row(&p.a.paths.logs_db, "203.0.113.3").is_some());
    p.lapi.run();
    until(&mut [&mut a], "all three in the LAPI", 30, || {
        ["203.0.113.1", "203.0.113.2", "203.0.113.3"].iter().all(|ip| !p.lapi.warden_decisions(ip).is_empty())
    });
    std::thread::sleep(StdDuration::from_secs(2));
    for _ in 0..10 {
        let _ = a.tick(warden::time::now());
    }
    for ip in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        assert_eq!(p.lapi.warden_decisions(ip).len(), 1, "{ip} pushed exactly once");
    }
}

fn fake_lapi_side(rx: &Receiver, extra: &str) -> (Side, tempfile::TempDir) {
    let keys = tempfile::tempdir().unwrap();
    let creds = keys.path().join("lapi.yaml");
    std::fs::write(&creds, format!("url: {}\nlogin: warden-x\npassword: wrong-password", rx.url())).unwrap();
    let key = keys.path().join("bouncer.key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").unwrap();
    for f in [&creds, &key] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    (side(&rx.url(), Some(&creds), Some(&key), extra), keys)
}

fn crowdsec_notices(m: &mut Monitor, what: &str, mut f: impl FnMut(&str) -> bool) -> String {
    wait_for(StdDuration::from_secs(15), what, || {
        m.tick(warden::time::now()).into_iter().map(|n| n.to_string()).find(|l| f(l))
    })
}

#[test]
fn bad_answers_each_get_one_clear_message_and_nothing_wrong_is_enforced() {
    // Wrong credentials, against the real LAPI.
    let lapi = Lapi::start();
    let keys = tempfile::tempdir().unwrap();
    let creds = lapi.machine("warden-w", keys.path());
    std::fs::write(&creds, format!("url: {}\nlogin: warden-w\npassword: not-the-password", lapi.url)).unwrap();
    let w = side(&lapi.url, Some(&creds), None, "");
    let mut m = Monitor::open(&w.cfg, &w.paths).unwrap();
    scan(&w.paths.logs_db, "203.0.113.40");
    let line = crowdsec_notices(&mut m, "the refused login", |l| l.starts_with("ENFORCE    crowdsec: failing"));
    assert!(line.contains("incorrect Username or Password") && line.contains("check the credentials file"), "{line}");
    assert!(!line.contains("not-the-password"), "{line}");

    // A LAPI that answers 500.
    let rx = Receiver::start(Reply::json(500, r#"{"message":"database is locked"}"#));
    let (s, _k) = fake_lapi_side(&rx, "");
    let mut m = Monitor::open(&s.cfg, &s.paths).unwrap();
    let line = crowdsec_notices(&mut m, "the 500", |l| l.starts_with("ENFORCE    crowdsec: failing"));
    assert!(line.contains("HTTP 500: database is locked"), "{line}");

    // Durations malformed, negative or huge, unknown scopes, null lists.
    let stream = r#"{"deleted":null,"new":[
        {"duration":"1d","id":1,"origin":"crowdsec","scenario":"s","scope":"Ip","type":"ban","value":"203.0.113.50"},
        {"duration":"-3s","id":2,"origin":"crowdsec","scenario":"s","scope":"Ip","type":"ban","value":"203.0.113.51"},
        {"duration":"99999999999h","id":3,"origin":"crowdsec","scenario":"s","scope":"Ip","type":"ban","value":"203.0.113.52"},
        {"duration":"1h","id":4,"origin":"crowdsec","scenario":"s","scope":"Country","type":"ban","value":"FR"},
        {"duration":"1h","id":5,"origin":"crowdsec","scenario":"s","scope":"AS","type":"ban","value":"12345"},
        {"duration":"4h","id":6,"origin":"crowdsec","scenario":"s","scope":"Ip","type":"ban","value":"203.0.113.53"}]}"#;
    let rx = Receiver::start(Reply::json(200, stream));
    let (s, _k) = fake_lapi_side(&rx, "push = false\n");
    let mut m = Monitor::open(&s.cfg, &s.paths).unwrap();
    let line = crowdsec_notices(&mut m, "the skipped decisions", |l| l.contains("decisions skipped"));
    assert!(line.contains("2 with a scope Warden cannot enforce (such as "), "{line}");
    assert!(line.contains("2 with a duration Warden cannot read (such as '"), "{line}");
    assert!(line.contains("1 that were already over"), "{line}");
    until(&mut [&mut m], "the good decision enforced", 10, || ban_row(&s.paths.logs_db, "203.0.113.53").is_some());
    for ip in ["203.0.113.50", "203.0.113.51", "203.0.113.52"] {
        assert!(ban_row(&s.paths.logs_db, ip).is_none(), "{ip} must not be enforced");
    }

    // A plain-HTTP LAPI on another machine: a warning at start.
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("k");
    std::fs::write(&key, "x").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let far = side("http://10.255.255.1:8080", None, Some(&key), "");
    let mut m = Monitor::open(&far.cfg, &far.paths).unwrap();
    let line = crowdsec_notices(&mut m, "the warning", |l| l.contains("warning"));
    assert!(line.contains("plain HTTP on another machine"), "{line}");
}

#[test]
fn warden_crowdsec_test_says_what_works_and_what_does_not() {
    let lapi = Lapi::start();
    let keys = tempfile::tempdir().unwrap();
    let (creds, key) = (lapi.machine("warden-t", keys.path()), lapi.bouncer("warden-t", keys.path()));
    let cfg = keys.path().join("config.toml");
    let write = |key: &Path| {
        std::fs::write(
            &cfg,
            format!(
                "[crowdsec]\nurl = \"{}\"\ncredentials = \"{}\"\nbouncer_key_file = \"{}\"\n",
                lapi.url,
                creds.display(),
                key.display()
            ),
        )
        .unwrap();
    };
    write(&key);
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("--config")
            .arg(&cfg)
            .args(["--state-db", &keys.path().join("s.db").display().to_string(), "crowdsec", "test"])
            .output()
            .unwrap()
    };
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("the machine warden-t can push; the bouncer sees 0 active decision(s)"), "{text}");
    let bad = keys.path().join("bad.key");
    std::fs::write(&bad, "0000000000000000000000000000dead").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
    write(&bad);
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("HTTP 403: access forbidden (check the bouncer key"), "{err}");
    assert!(!err.contains("dead"), "the key is never shown: {err}");
}

#[test]
fn an_unban_deletes_only_wardens_own_decision_and_never_crowdsecs() {
    let p = pair("");
    let mut a = Monitor::open(&p.a.cfg, &p.a.paths).unwrap();
    scan(&p.a.paths.logs_db, "203.0.113.90");
    until(&mut [&mut a], "A's decision in the LAPI", 20, || !p.lapi.warden_decisions("203.0.113.90").is_empty());
    p.lapi.cscli(&["decisions", "add", "--ip", "203.0.113.90", "--duration", "1h", "--reason", "theirs"]);
    let mut logs = warden::store::logs_db::LogsDb::open(&p.a.paths.logs_db).unwrap();
    let state = warden::store::state::StateDb::open(&p.a.paths.state_db).unwrap();
    warden::actions::unban(&mut logs, &state, "203.0.113.90", warden::store::state::Actor::Cli, warden::time::now())
        .unwrap();

    until(&mut [&mut a], "A's own decision deleted", 20, || p.lapi.warden_decisions("203.0.113.90").is_empty());
    let theirs = p.lapi.cscli(&["decisions", "list", "--origin", "cscli", "-o", "json"]);
    assert!(theirs.contains("203.0.113.90") && theirs.contains("theirs"), "CrowdSec's own decision stays: {theirs}");
}
