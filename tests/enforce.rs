//! Enforcement with the real parts: Debian's nginx started by the test on loopback with Warden's
//! snippet, and nftables in a network namespace the test creates. The monitor runs in-process
//! and is driven round by round.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use warden::config::{Config, NftEnforce, NginxEnforce, Paths};
use warden::monitor::{Monitor, Notice};
use warden::store::state::{Actor, StateDb};

use crate::common::{fresh_logs_db, raw};

/// A private nginx: Warden's `geo` in `http {}`, its check and the header clearing in the server,
/// `set_real_ip_from 127.0.0.1; real_ip_header X-Forwarded-For;`, and behind it a loopback
/// upstream standing in for OpenAlgo that answers 200 with the `CF-Connecting-IP` it received.
struct Nginx {
    dir: tempfile::TempDir,
    port: u16,
    conf: PathBuf,
    bin: String,
}

impl Nginx {
    fn start() -> Self {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists());
        assert!(nginx.is_some(), "nginx is not installed: scripts/test.sh installs it (apt-get install nginx)");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let upstream = free_port();
        let geo = d.join("warden/banned.geo");
        let cfg = NginxEnforce { geo_file: geo.clone(), ..NginxEnforce::default() };
        // The two parts the trader pastes, exactly as Warden prints them.
        let http = warden::enforce::nginx::http_snippet(&cfg);
        let server = warden::enforce::nginx::server_snippet();
        let (check, headers) = server.split_at(server.find("\n\n").unwrap());
        warden::enforce::nginx::ensure_geo_file(&geo).unwrap();
        let conf = d.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n\
                 access_log off;\n\
                 client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
                 {http}\n\
                 include {d}/extra.conf;\n\
                 server {{\n  listen 127.0.0.1:{port};\n  set_real_ip_from 127.0.0.1;\n  real_ip_header X-Forwarded-For;\n  {check}\n  \
                 location / {{\n    proxy_set_header X-Real-IP $remote_addr;\n    {headers}\n    proxy_pass http://127.0.0.1:{upstream};\n  }}\n}}\n\
                 server {{\n  listen 127.0.0.1:{upstream};\n  location / {{ return 200 \"openalgo cf=[$http_cf_connecting_ip]\\n\"; }}\n}}\n}}\n",
                d = d.display()
            ),
        )
        .unwrap();
        std::fs::write(d.join("extra.conf"), "").unwrap();
        let out = Command::new(nginx.unwrap()).args(["-p"]).arg(d).arg("-c").arg(&conf).output().unwrap();
        assert!(out.status.success(), "nginx did not start: {}", String::from_utf8_lossy(&out.stderr));
        let n = Self { dir, port, conf, bin: nginx.unwrap().to_string() };
        wait(Duration::from_secs(10), "nginx answering", || n.get(None, &[]).is_some());
        n
    }

    fn enforce(&self) -> NginxEnforce {
        let d = self.dir.path().display().to_string();
        let c = self.conf.display().to_string();
        NginxEnforce {
            geo_file: self.dir.path().join("warden/banned.geo"),
            check: [&self.bin, "-t", "-q", "-p", &d, "-c", &c].map(String::from).to_vec(),
            reload: [&self.bin, "-s", "reload", "-p", &d, "-c", &c].map(String::from).to_vec(),
            reload_spacing_seconds: 0,
        }
    }

    /// The status and body of `GET /` as a client at `client` (sent as `X-Forwarded-For` from
    /// loopback, which nginx trusts), with extra headers.
    fn get(&self, client: Option<&str>, headers: &[(&str, &str)]) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut req = "GET / HTTP/1.1\r\nHost: algo.example.com\r\nConnection: close\r\n".to_string();
        if let Some(c) = client {
            req.push_str(&format!("X-Forwarded-For: {c}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
        Some((status, body))
    }

    fn status(&self, client: &str) -> u16 {
        self.get(Some(client), &[]).map_or(0, |r| r.0)
    }

    /// Whether `client` gets `want` once nginx runs one generation of workers: while a reload is
    /// under way, an old worker may still accept a connection and answer with the old list.
    fn settled(&self, client: &str, want: u16) -> bool {
        self.workers() == 1 && (0..3).all(|_| self.status(client) == want) && self.workers() == 1
    }

    /// How many processes the master runs (one worker, and no other, when no reload is under way).
    fn workers(&self) -> usize {
        let Ok(pid) = std::fs::read_to_string(self.dir.path().join("nginx.pid")) else { return 0 };
        let pid = pid.trim();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("stat")).ok())
            .filter(|stat| {
                // pid (comm) state ppid …: the comm may hold spaces, so split after its ')'.
                stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)) == Some(pid)
            })
            .count()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("nginx.pid")) {
            let _ = Command::new("kill").args(["-QUIT", pid.trim()]).status();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait(limit: Duration, what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Ws {
    _dir: tempfile::TempDir,
    paths: Paths,
}

fn ws() -> Ws {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths {
        logs_db: fresh_logs_db(dir.path()),
        openalgo_db: None,
        state_db: dir.path().join("state/warden.db"),
        access_logs: vec![],
    };
    Ws { _dir: dir, paths }
}

fn ban_row(logs: &Path, ip: &str) {
    raw(logs)
        .execute(
            "INSERT INTO ip_bans (ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, created_by) \
             VALUES (?1, 'test', 1, datetime('now'), datetime('now', '+1 day'), 0, 'test')",
            [ip],
        )
        .unwrap();
}

fn sink_notices(n: &[Notice]) -> Vec<String> {
    n.iter().filter(|n| matches!(n, Notice::Sink { .. })).map(|n| n.to_string()).collect()
}

/// Runs rounds until `ok`, for up to 10 s (a round may put a reload off to its spacing).
fn rounds_until(m: &mut Monitor, what: &str, ok: impl FnMut(&[Notice]) -> bool) -> Vec<Notice> {
    rounds_within(m, Duration::from_secs(10), what, ok)
}

/// [`rounds_until`] with a limit.
fn rounds_within(m: &mut Monitor, limit: Duration, what: &str, mut ok: impl FnMut(&[Notice]) -> bool) -> Vec<Notice> {
    let start = Instant::now();
    let mut all = Vec::new();
    loop {
        all.extend(m.tick(warden::time::now()));
        if ok(&all) {
            return all;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}: {all:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn nginx_refuses_what_warden_bans_and_denies_and_keeps_the_old_list_when_its_check_fails() {
    let n = Nginx::start();
    let w = ws();
    let mut cfg = Config::default();
    cfg.enforce.nginx = Some(n.enforce());
    let mut m = Monitor::open(&cfg, &w.paths).unwrap();
    assert_eq!(n.status("203.0.113.7"), 200);

    // A ban in logs.db (as OpenAlgo's or Warden's) reaches nginx.
    ban_row(&w.paths.logs_db, "203.0.113.7");
    let out = rounds_until(&mut m, "the ban at nginx", |_| n.settled("203.0.113.7", 403));
    assert!(sink_notices(&out).iter().any(|l| l.contains("nginx: working")), "{out:?}");
    assert_eq!(n.status("203.0.113.8"), 200, "others still get in");
    assert_eq!(n.get(None, &[]).unwrap().0, 200, "loopback itself is never refused");

    // A banned client that claims another address in CF-Connecting-IP is still refused, and the
    // header never reaches OpenAlgo.
    let spoof = [("CF-Connecting-IP", "127.0.0.1"), ("True-Client-IP", "198.51.100.1")];
    assert_eq!(n.get(Some("203.0.113.7"), &spoof).unwrap().0, 403);
    let (status, body) = n.get(Some("203.0.113.9"), &spoof).unwrap();
    assert_eq!((status, body.trim()), (200, "openalgo cf=[]"), "the snippet clears the header");

    // A CIDR deny blocks every address inside it; removing it lets them in again.
    let state = StateDb::open(&w.paths.state_db).unwrap();
    let protection = w.paths.protection(&cfg, warden::time::now()).unwrap();
    let now = warden::time::now();
    warden::access::add_policy(
        &state,
        &protection,
        warden::policy::Access::Deny,
        "198.51.100.0/24",
        None,
        None,
        Actor::Cli,
        now,
    )
    .unwrap();
    rounds_until(&mut m, "the range at nginx", |_| n.settled("198.51.100.200", 403));
    assert_eq!(n.status("198.51.100.1"), 403);
    assert_eq!(n.status("198.51.101.1"), 200);
    warden::access::remove_policy(&state, "198.51.100.0/24", Actor::Cli, now).unwrap();
    rounds_until(&mut m, "the range lifted", |_| n.settled("198.51.100.200", 200));
    let geo = std::fs::read_to_string(n.dir.path().join("warden/banned.geo")).unwrap();
    assert!(geo.contains("\n203.0.113.7/32 1;\n") && !geo.contains("198.51.100"), "{geo}");

    // Someone breaks nginx's configuration: the next list fails nginx's check, so Warden puts the
    // previous list back, does not reload, and says the sink is failing. nginx keeps serving.
    std::fs::write(n.dir.path().join("extra.conf"), "this_is_not_a_directive;\n").unwrap();
    ban_row(&w.paths.logs_db, "203.0.113.66");
    let out = rounds_until(&mut m, "the sink failing", |o| sink_notices(o).iter().any(|l| l.contains("failing")));
    let failing = sink_notices(&out).join("\n");
    assert!(failing.contains("nginx's check refused the new ban list") && failing.contains("put back"), "{failing}");
    assert_eq!(std::fs::read_to_string(n.dir.path().join("warden/banned.geo")).unwrap(), geo, "the previous list");
    assert_eq!(n.status("203.0.113.66"), 200, "not reloaded");
    assert_eq!(n.status("203.0.113.7"), 403, "the old list still holds");
    let recorded = state.sink_statuses().unwrap();
    assert_eq!(recorded[0].0.state, warden::enforce::SinkState::Failing, "{recorded:?}");
    // Fixed: Warden retries by itself and recovers.
    std::fs::write(n.dir.path().join("extra.conf"), "").unwrap();
    let limit = warden::enforce::RETRY_EVERY + Duration::from_secs(10);
    let out = rounds_within(&mut m, limit, "the sink recovering", |_| n.settled("203.0.113.66", 403));
    assert!(sink_notices(&out).iter().any(|l| l.contains("nginx: working")), "{out:?}");

    // Allow-list-only mode: only loopback and the allowed addresses get in, through Warden's file
    // alone.
    let now = warden::time::now();
    warden::access::add_policy(
        &state,
        &protection,
        warden::policy::Access::Allow,
        "192.0.2.10",
        None,
        None,
        Actor::Cli,
        now,
    )
    .unwrap();
    warden::access::set_allow_only(&state, true, Actor::Cli, now).unwrap();
    rounds_until(&mut m, "allow-only at nginx", |_| n.settled("203.0.113.200", 403));
    assert_eq!(n.status("192.0.2.10"), 200);
    assert_eq!(n.get(None, &[]).unwrap().0, 200, "loopback is always admitted");
    warden::access::set_allow_only(&state, false, Actor::Cli, now).unwrap();
    rounds_until(&mut m, "allow-only off", |_| n.settled("203.0.113.200", 200));
    assert_eq!(n.status("203.0.113.7"), 403, "bans still hold");
}

/// A named network namespace, removed on drop.
struct Netns(String);

impl Netns {
    fn new() -> Self {
        let name = format!("warden-test-{}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output().expect("ip");
        assert!(
            out.status.success(),
            "cannot create a network namespace (this test needs root, as in CI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ns = Self(name);
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["addr", "add", "192.0.2.10/32", "dev", "lo"],
            vec!["addr", "add", "192.0.2.1/32", "dev", "lo"],
        ] {
            ns.run("ip", &args);
        }
        ns
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]);
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.cmd(program).args(args).output().expect("ip netns exec");
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether a TCP connection from `from` to 192.0.2.1:8080 gets an answer within 1 s.
    fn reaches(&self, from: &str) -> bool {
        self.cmd("curl")
            .args(["-s", "-o", "/dev/null", "-m", "1", "--interface", from, "http://192.0.2.1:8080/"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn nftables_drops_banned_sources_lets_timeouts_expire_in_the_kernel_and_comes_back_after_a_flush() {
    let ns = Netns::new();
    let mut server = ns
        .cmd("python3")
        .args(["-m", "http.server", "8080", "--bind", "0.0.0.0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait(Duration::from_secs(10), "the server in the namespace", || ns.reaches("192.0.2.1"));
    let w = ws();
    let mut cfg = Config::default();
    cfg.enforce.nftables = Some(NftEnforce {
        ports: vec![8080],
        command: ["ip", "netns", "exec", &ns.0, "nft"].map(String::from).to_vec(),
        ..NftEnforce::default()
    });
    let state = StateDb::open(&w.paths.state_db).unwrap();
    let protection = w.paths.protection(&cfg, warden::time::now()).unwrap();
    let deny = |v: &str, ttl: Option<&str>| {
        warden::access::add_policy(
            &state,
            &protection,
            warden::policy::Access::Deny,
            v,
            ttl,
            None,
            Actor::Cli,
            warden::time::now(),
        )
        .unwrap()
    };
    {
        let mut m = Monitor::open(&cfg, &w.paths).unwrap();
        assert!(ns.reaches("192.0.2.10"));
        ban_row(&w.paths.logs_db, "192.0.2.10");
        rounds_until(&mut m, "the ban in the kernel", |_| !ns.reaches("192.0.2.10"));
        assert!(ns.reaches("192.0.2.1"), "another source still connects");
        let set = ns.run("nft", &["list", "set", "inet", "warden", "ban4"]);
        assert!(set.contains("192.0.2.10 timeout"), "{set}");

        // Debian's nftables.service starts with `flush ruleset`: the table comes back.
        ns.run("nft", &["flush", "ruleset"]);
        assert!(ns.reaches("192.0.2.10"), "the flush really removed it");
        let start = Instant::now();
        rounds_until(&mut m, "the table re-created", |_| !ns.reaches("192.0.2.10"));
        assert!(start.elapsed() < Duration::from_secs(8), "{:?}", start.elapsed());

        // A range, with a short time to live.
        let raw_unban = raw(&w.paths.logs_db);
        raw_unban.execute("DELETE FROM ip_bans", []).unwrap();
        rounds_until(&mut m, "the unban in the kernel", |_| ns.reaches("192.0.2.10"));
        deny("192.0.2.8/29", Some("3"));
        rounds_until(&mut m, "the range in the kernel", |_| !ns.reaches("192.0.2.10"));
        assert!(ns.reaches("192.0.2.1"), "outside the range");
    }
    // The monitor is gone: only the element's own timeout can lift the ban now.
    let set = ns.run("nft", &["list", "set", "inet", "warden", "ban4n"]);
    assert!(set.contains("192.0.2.8/29 timeout"), "the element carries its own timeout: {set}");
    wait(Duration::from_secs(6), "the kernel's timeout", || ns.reaches("192.0.2.10"));
    let _ = server.kill();
    let _ = server.wait();
}

fn warden_cli(cfg: &Path, paths: &Paths, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--config")
        .arg(cfg)
        .arg("--logs-db")
        .arg(&paths.logs_db)
        .arg("--state-db")
        .arg(&paths.state_db)
        .args(args)
        .env("XDG_CONFIG_HOME", paths.state_db.parent().unwrap().join("xdg"))
        .env_remove("SSH_CONNECTION")
        .env_remove("SSH_CLIENT")
        .output()
        .expect("run warden")
}

#[test]
fn a_policy_added_from_the_cli_reaches_nginx_within_two_seconds_while_the_monitor_runs() {
    let n = Nginx::start();
    let w = ws();
    let mut cfg = Config::default();
    cfg.enforce.nginx = Some(n.enforce());
    let file = w.paths.state_db.parent().unwrap().join("config.toml");
    cfg.save(&file).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = Monitor::open(&Config { poll_seconds: 3600, ..cfg.clone() }, &w.paths)
        .unwrap()
        .spawn(move |n| {
            let _ = tx.send(n);
        })
        .unwrap();
    // The first round brings nginx to the (empty) state.
    let start = Instant::now();
    loop {
        if let Ok(Notice::Sink { .. }) = rx.recv_timeout(Duration::from_secs(10)) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no first apply");
    }
    let mut took = Vec::new();
    for (i, args) in [
        vec!["policy", "add", "deny", "203.0.113.0/24", "--ttl", "1h"],
        vec!["policy", "rm", "203.0.113.0/24"],
        vec!["ban", "198.51.100.44"],
        vec!["unban", "198.51.100.44"],
    ]
    .iter()
    .enumerate()
    {
        let (probe, want) = match i {
            0 => ("203.0.113.9", 403),
            1 => ("203.0.113.9", 200),
            2 => ("198.51.100.44", 403),
            _ => ("198.51.100.44", 200),
        };
        let t = Instant::now();
        let out = warden_cli(&file, &w.paths, args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        wait(Duration::from_secs(2), &format!("{args:?} at nginx"), || n.settled(probe, want));
        took.push(t.elapsed());
    }
    drop(handle);
    eprintln!("from the CLI to nginx: {took:?}");
}

#[test]
fn bad_enforcement_settings_get_one_clear_line_and_change_nothing() {
    let w = ws();
    let dir = w.paths.state_db.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let fails = |cfg: &Path, args: &[&str]| {
        let out = warden_cli(cfg, &w.paths, args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        err
    };
    for (text, why) in [
        ("[enforce.nftables]\nports = [22, 443]\n", "never blocks SSH"),
        ("[enforce.nftables]\ntable = \"x; flush ruleset\"\n", "letters, digits"),
        ("[enforce.nftables]\nports = []\n", "ports to guard"),
        ("[enforce.nginx]\ngeo_file = \"relative.geo\"\n", "absolute path"),
        ("[enforce.nginx]\ngeo_file = \"/x/a\\\";.geo\"\n", "without quotes"),
        ("[enforce.nginx]\ncheck = []\n", "name a command"),
        ("[enforce.nginx]\nunknown = 1\n", "unknown field"),
    ] {
        let cfg = write("bad.toml", text);
        let err = fails(&cfg, &["enforce", "status"]);
        assert!(err.contains(why), "{text}: {err}");
    }
    // Nothing configured: apply says how to configure, status says off.
    let none = write("none.toml", "");
    assert!(fails(&none, &["enforce", "apply"]).contains("no enforcement is configured"));
    let out = warden_cli(&none, &w.paths, &["enforce", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["state"], "off");
    assert_eq!(v[1]["name"], "nftables");

    // A geo file in a read-only folder, nginx and nft missing: one line each, non-zero, and the
    // recorded status says failing with the reason.
    let ro = dir.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    let geo = ro.join("sub/banned.geo");
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o500)).unwrap();
    let cfg = write(
        "ro.toml",
        &format!("[enforce.nginx]\ngeo_file = \"{}\"\ncheck = [\"true\"]\nreload = [\"true\"]\n", geo.display()),
    );
    // As root, a read-only folder is still writable: test it as nobody in that case.
    if unsafe_is_root() {
        // nobody must reach logs.db and the configuration, and nothing else.
        let open = tempfile::tempdir().unwrap();
        std::fs::set_permissions(open.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let logs = fresh_logs_db(open.path());
        std::fs::set_permissions(&logs, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
        let cfg2 = open.path().join("ro.toml");
        std::fs::copy(&cfg, &cfg2).unwrap();
        std::fs::set_permissions(&cfg2, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let ro2 = open.path().join("ro");
        std::fs::create_dir(&ro2).unwrap();
        std::fs::set_permissions(&ro2, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
        let geo2 = ro2.join("sub/banned.geo");
        std::fs::write(
            &cfg2,
            format!("[enforce.nginx]\ngeo_file = \"{}\"\ncheck = [\"true\"]\nreload = [\"true\"]\n", geo2.display()),
        )
        .unwrap();
        let apply_as_nobody = || {
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", env!("CARGO_BIN_EXE_warden")])
                .arg("--config")
                .arg(&cfg2)
                .arg("--logs-db")
                .arg(&logs)
                .arg("--state-db")
                .arg(open.path().join("nobody/state.db"))
                .args(["enforce", "apply"])
                .env("XDG_CONFIG_HOME", open.path().join("xdg"))
                .output()
                .unwrap()
        };
        let out = apply_as_nobody();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.trim_end().lines().count() == 1, "{err}");
        assert!(err.contains("cannot write the ban list"), "{err}");
        assert!(!geo2.exists(), "nothing half-written");
        // nft without the right to change the ruleset: one line naming nft's refusal.
        std::fs::write(&cfg2, "[enforce.nftables]\ntable = \"warden_unpriv\"\n").unwrap();
        let out = apply_as_nobody();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.trim_end().lines().count() == 1, "{err}");
        assert!(err.contains("nftables") && err.contains("nft") && err.contains("failed"), "{err}");
    } else {
        let err = fails(&cfg, &["enforce", "apply"]);
        assert!(err.contains("cannot write the ban list"), "{err}");
    }
    assert!(!geo.exists(), "nothing half-written");
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let cfg = write(
        "missing.toml",
        &format!(
            "[enforce.nginx]\ngeo_file = \"{}\"\ncheck = [\"/nonexistent/nginx\", \"-t\"]\n\
             [enforce.nftables]\ncommand = [\"/nonexistent/nft\"]\n",
            dir.join("geo/banned.geo").display()
        ),
    );
    let err = fails(&cfg, &["enforce", "apply"]);
    assert!(err.contains("was not found"), "{err}");
    let out = warden_cli(&cfg, &w.paths, &["enforce", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in v.as_array().unwrap() {
        assert_eq!(s["state"], "failing", "{s}");
        assert!(s["error"].as_str().unwrap().contains("was not found"), "{s}");
    }
    assert!(!dir.join("geo/banned.geo").exists(), "a list nginx could not check is not left in place");
}

fn unsafe_is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

#[test]
fn a_denied_address_and_the_addresses_openalgo_saw_inside_a_denied_range_get_ban_rows_until_the_policy_ends() {
    let w = ws();
    let c = raw(&w.paths.logs_db);
    for ip in ["203.0.113.5", "203.0.113.77", "198.51.100.1", "10.0.0.5"] {
        c.execute(
            "INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) \
             VALUES (?1, ?2, 'GET', '/', 200, 1.0, 'algo')",
            rusqlite::params![warden::time::format_db_time(warden::time::now()), ip],
        )
        .unwrap();
    }
    let cfg = Config::default();
    let mut m = Monitor::open(&cfg, &w.paths).unwrap();
    m.tick(warden::time::now());
    let state = StateDb::open(&w.paths.state_db).unwrap();
    let protection = w.paths.protection(&cfg, warden::time::now()).unwrap();
    let now = warden::time::now();
    let range = warden::access::add_policy(
        &state,
        &protection,
        warden::policy::Access::Deny,
        "203.0.113.0/24",
        Some("2h"),
        None,
        Actor::Cli,
        now,
    )
    .unwrap();
    warden::access::add_policy(
        &state,
        &protection,
        warden::policy::Access::Deny,
        "192.0.2.9",
        None,
        None,
        Actor::Cli,
        now,
    )
    .unwrap();
    m.tick(warden::time::now());
    let rows: Vec<(String, String, Option<String>, i64)> = c
        .prepare("SELECT ip_address, created_by, expires_at, is_permanent FROM ip_bans ORDER BY ip_address")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let ips: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(ips, ["192.0.2.9", "203.0.113.5", "203.0.113.77"], "{rows:?}");
    assert!(rows.iter().all(|r| r.1 == "warden:policy"), "{rows:?}");
    assert_eq!(rows[0].3, 1, "a deny with no time to live is permanent");
    let until = warden::time::parse_db_time(rows[1].2.as_deref().unwrap()).unwrap();
    assert!((until - range.expires_at.unwrap()).num_seconds().abs() <= 1, "{until} vs {:?}", range.expires_at);
}

#[test]
fn the_server_install_writes_a_private_configuration_that_loads_a_narrow_sudo_rule_and_the_unit() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("oa/db")).unwrap();
    let logs = fresh_logs_db(&d.path().join("oa/db"));
    let root = d.path().join("root");
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install-server.sh"))
        .arg("--root")
        .arg(&root)
        .arg("--logs-db")
        .arg(&logs)
        .args(["--binary", env!("CARGO_BIN_EXE_warden"), "--no-start"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Three steps for nginx") && text.contains("if ($warden_banned) { return 403; }"), "{text}");
    let cfg_path = root.join("etc/warden/config.toml");
    let cfg = Config::load(Some(&cfg_path)).expect("the written configuration loads");
    assert_eq!(cfg.logs_db.as_deref(), Some(logs.as_path()));
    let nginx = cfg.enforce.nginx.expect("nginx enforcement on, nginx being installed");
    assert_eq!(&nginx.check[..3], ["sudo", "-n", nginx.check[2].as_str()]);
    assert!(nginx.geo_file.exists(), "the empty list nginx will include");
    let mode = |p: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777;
    assert_eq!(mode(&cfg_path), 0o600);
    assert_eq!(mode(&nginx.geo_file), 0o600);
    let sudoers = std::fs::read_to_string(root.join("etc/sudoers.d/warden")).unwrap();
    let rule: Vec<&str> = sudoers.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rule.len(), 1, "{sudoers}");
    assert!(rule[0].starts_with("warden ALL=(root) NOPASSWD: ") && rule[0].ends_with(" -s reload"), "{sudoers}");
    assert_eq!(rule[0].matches(", ").count(), 1, "exactly two commands: {sudoers}");
    assert_eq!(mode(&root.join("etc/sudoers.d/warden")), 0o440);
    let unit = std::fs::read_to_string(root.join("etc/systemd/system/warden.service")).unwrap();
    for line in ["User=warden", "AmbientCapabilities=CAP_NET_ADMIN", "ProtectSystem=strict", "UMask=0077"] {
        assert!(unit.lines().any(|l| l == line), "{line} missing");
    }
    let dropin = std::fs::read_to_string(root.join("etc/systemd/system/warden.service.d/paths.conf")).unwrap();
    assert!(dropin.contains(&format!("ReadWritePaths={}", logs.parent().unwrap().display())), "{dropin}");
    if Path::new("/usr/bin/systemd-analyze").exists() {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(root.join("etc/systemd/system/warden.service"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // The unit names /usr/local/bin/warden, which this test does not install outside its folder.
        let other: Vec<&str> = err.lines().filter(|l| !l.contains("/usr/local/bin/warden")).collect();
        assert!(other.is_empty(), "{err}");
    }
}

#[test]
fn allow_only_mode_is_refused_when_it_would_lock_the_trader_out_and_its_dry_run_names_who_is_cut_off() {
    let w = ws();
    let dir = w.paths.state_db.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("c.toml");
    std::fs::write(&cfg, "").unwrap();
    let c = raw(&w.paths.logs_db);
    for (ip, n) in [("203.0.113.9", 3), ("198.51.100.7", 2)] {
        for _ in 0..n {
            c.execute(
                "INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host) \
                 VALUES (?1, ?2, 'GET', '/', 200, 1.0, 'algo')",
                rusqlite::params![warden::time::format_db_time(warden::time::now()), ip],
            )
            .unwrap();
        }
    }
    let run = |args: &[&str], ssh: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
        cmd.arg("--config").arg(&cfg).arg("--logs-db").arg(&w.paths.logs_db).arg("--state-db").arg(&w.paths.state_db);
        cmd.args(args).env("XDG_CONFIG_HOME", dir.join("xdg")).env_remove("SSH_CONNECTION").env_remove("SSH_CLIENT");
        if let Some(s) = ssh {
            cmd.env("SSH_CONNECTION", s);
        }
        cmd.output().unwrap()
    };
    let out = run(&["whitelist", "enable"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing but loopback is allowed"), "{out:?}");
    assert!(run(&["policy", "add", "allow", "198.51.100.7"], None).status.success());
    let out = run(&["whitelist", "enable"], Some("192.0.2.33 51000 10.0.0.1 22"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("this SSH session comes from 192.0.2.33"), "{err}");
    let out = run(&["whitelist", "enable", "--dry-run"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 address(es) of the last 24 h would be refused")
            && text.contains("203.0.113.9")
            && text.contains("3 request(s)"),
        "{text}"
    );
    assert!(!text.contains("198.51.100.7 "), "the allowed one is not cut off: {text}");
    let out = run(&["whitelist", "status", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["enabled"], false, "a dry run changes nothing");
    let out = run(&["whitelist", "enable"], Some("198.51.100.7 51000 10.0.0.1 22"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&run(&["whitelist", "status", "--json"], None).stdout).unwrap();
    assert_eq!(v["enabled"], true);
    assert!(v["admitted"].as_array().unwrap().iter().any(|a| a == "198.51.100.7"), "{v}");
    assert!(run(&["whitelist", "disable"], None).status.success());
    let audit: serde_json::Value = serde_json::from_slice(&run(&["audit", "--json"], None).stdout).unwrap();
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[..2], ["allow-only-off", "allow-only-on"]);
}
