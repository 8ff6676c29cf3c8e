//! `warden check` on OpenAlgo install trees the tests make: a risky one and a hardened one, bad
//! input of every kind, real listening sockets, and real nginx reading the test's configurations.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use warden::check::facts::{gather, Where};
use warden::check::judge::judge;
use warden::check::{Report, Status};

use crate::common::copy_fixture;

/// OpenAlgo's native-installer nginx vhost (spec §8), as it proxies to the Unix socket: TLS and
/// HSTS, but `server_tokens` left on and the spoofable address headers passed through.
const INSTALLER_VHOST: &str = r#"
server { listen 80; server_name algo.example.com; location / { return 301 https://$host$request_uri; } }
server {
    listen 443 ssl; server_name algo.example.com;
    ssl_certificate CERT; ssl_certificate_key KEY;
    add_header X-Frame-Options DENY;
    add_header X-Content-Type-Options nosniff;
    add_header Strict-Transport-Security "max-age=63072000" always;
    location / {
        proxy_pass http://unix:/var/python/openalgo/openalgo.sock;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
}
"#;

/// The same, hardened: no version, and the two headers cleared.
const HARDENED_VHOST: &str = r#"
server_tokens off;
server { listen 80; server_name algo.example.com; location / { return 301 https://$host$request_uri; } }
server {
    listen 443 ssl; server_name algo.example.com;
    ssl_certificate CERT; ssl_certificate_key KEY;
    add_header X-Frame-Options DENY;
    add_header X-Content-Type-Options nosniff;
    add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
    access_log /var/log/nginx/access.log combined;
    location / {
        proxy_pass http://unix:/var/python/openalgo/openalgo.sock;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header CF-Connecting-IP "";
        proxy_set_header True-Client-IP "";
    }
}
"#;

const STRONG_KEY: &str = "9f2c4e1ab7d35c60e8f14a92b3c7d5e6f01a2b3c4d5e6f708192a3b4c5d6e7f8";
const STRONG_PEPPER: &str = "4b8e2f61c9a03d75e1b6f4a8c2d9e07f3a5b1c6d8e2f4a7b9c0d1e3f5a6b8c9d";

fn hardened_env() -> String {
    format!(
        "APP_KEY = '{STRONG_KEY}'\nAPI_KEY_PEPPER = '{STRONG_PEPPER}'\nFLASK_DEBUG = 'False'\nFLASK_HOST_IP = '127.0.0.1'\n\
         WEBSOCKET_HOST = '127.0.0.1'\nZMQ_HOST = '127.0.0.1'\nTRUST_PROXY_HEADERS = 'TRUE'\nHOST_SERVER = 'https://algo.example.com'\n\
         CORS_ENABLED = 'TRUE'\nCORS_ALLOWED_ORIGINS = 'https://algo.example.com'\nCSP_ENABLED = 'TRUE'\nCSRF_ENABLED = 'TRUE'\n\
         DISABLE_SESSION_EXPIRY = 'false'\nNGROK_ALLOW = 'FALSE'\nMCP_HTTP_ENABLED = 'False'\nLOGIN_RATE_LIMIT_MIN = \"5 per minute\"\n\
         API_RATE_LIMIT = \"50 per second\"\n"
    )
}

/// What OpenAlgo's own sample and installer leave, with the risky values a trader ends up with.
fn risky_env() -> String {
    "APP_KEY = 'OPENALGO_PLACEHOLDER_APP_KEY_REGENERATE_BEFORE_USE'\n\
     API_KEY_PEPPER = 'a25d94718479b170c16278e321ea6c989358bf499a658fd20c90033cef8ce772'\n\
     FLASK_DEBUG = 'True'\nFLASK_HOST_IP = '0.0.0.0'\nWEBSOCKET_HOST = '127.0.0.1'\nZMQ_HOST = '0.0.0.0'\n\
     TRUST_PROXY_HEADERS = 'FALSE'\nHOST_SERVER = 'http://algo.example.com'\nCORS_ENABLED = 'TRUE'\nCORS_ALLOWED_ORIGINS = '*'\n\
     CSP_ENABLED = 'FALSE'\nCSRF_ENABLED = '1'\nDISABLE_SESSION_EXPIRY = 'true'\nNGROK_ALLOW = 'TRUE'\nMCP_HTTP_ENABLED = 'True'\n\
     MCP_OAUTH_REQUIRE_APPROVAL = 'False'\nLOGIN_RATE_LIMIT_MIN = \"50 per minute\"\n"
        .to_string()
}

struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    openalgo: PathBuf,
    nginx_conf: PathBuf,
    proc_net: PathBuf,
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// An OpenAlgo install tree: `.env`, `db/` with a copy of OpenAlgo's own `openalgo.db` and a
/// `logs.db`, `keys/`, an nginx vhost, and a socket table.
fn tree(env: &str, env_mode: u32, db_mode: u32, vhost: &str, sockets: &str) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let openalgo = root.join("openalgo");
    let db = openalgo.join("db");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(openalgo.join(".env"), env).unwrap();
    chmod(&openalgo.join(".env"), env_mode);
    copy_fixture("openalgo_settings_only.db", &db);
    warden::store::logs_db::create_openalgo_schema(&db.join("logs.db")).unwrap();
    for f in std::fs::read_dir(&db).unwrap() {
        chmod(&f.unwrap().path(), db_mode & 0o666);
    }
    chmod(&db, db_mode);
    std::fs::create_dir(openalgo.join("keys")).unwrap();
    chmod(&openalgo.join("keys"), if db_mode & 0o007 != 0 { 0o755 } else { 0o700 });
    let nginx_conf = root.join("openalgo.conf");
    std::fs::write(&nginx_conf, vhost.replace("CERT", "/etc/ssl/x.pem").replace("KEY", "/etc/ssl/x.key")).unwrap();
    let proc_net = root.join("proc_net");
    std::fs::create_dir(&proc_net).unwrap();
    std::fs::write(proc_net.join("tcp"), sockets).unwrap();
    Tree { _dir: dir, root, openalgo, nginx_conf, proc_net }
}

const HEADER: &str =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

fn sockets(lines: &[&str]) -> String {
    let mut s = HEADER.to_string();
    for (i, l) in lines.iter().enumerate() {
        s.push_str(&format!(
            "   {i}: {l} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 {i} 1\n"
        ));
    }
    s
}

fn check(t: &Tree) -> Report {
    judge(&gather(&Where {
        openalgo_dir: Some(t.openalgo.clone()),
        openalgo_db: Some(t.openalgo.join("db/openalgo_settings_only.db")),
        nginx_config: vec![t.nginx_conf.clone()],
        proc_net: Some(t.proc_net.clone()),
        ..Where::default()
    }))
}

fn status(r: &Report, id: &str) -> Status {
    r.get(id).unwrap_or_else(|| panic!("no finding {id}: {:#?}", r.findings)).status
}

#[test]
fn a_risky_install_names_each_problem_with_the_file_and_the_setting_to_change() {
    // 0.0.0.0:5555 (ZMQ) and 0.0.0.0:5000 listening, 127.0.0.1:8765 fine.
    let t = tree(
        &risky_env(),
        0o644,
        0o755,
        INSTALLER_VHOST,
        &sockets(&["00000000:15B3", "00000000:1388", "0100007F:223D"]),
    );
    let r = check(&t);
    let env = t.openalgo.join(".env").display().to_string();
    for (id, want) in [
        ("env.flask_debug", Status::Fail),
        ("env.app_key", Status::Fail),
        ("env.api_key_pepper", Status::Fail),
        ("env.bind_address", Status::Fail),
        ("env.trust_proxy_headers", Status::Fail),
        ("env.host_server_https", Status::Fail),
        ("env.cors", Status::Fail),
        ("env.csp", Status::Warn),
        ("env.csrf", Status::Fail),
        ("env.session_expiry", Status::Warn),
        ("env.ngrok", Status::Warn),
        ("env.mcp", Status::Fail),
        ("env.rate_limits", Status::Warn),
        ("files.env_mode", Status::Fail),
        ("files.db_mode", Status::Fail),
        ("files.keys_mode", Status::Fail),
        ("nginx.tls", Status::Pass),
        ("nginx.hsts", Status::Pass),
        ("nginx.server_tokens", Status::Warn),
        // TRUST_PROXY_HEADERS is off here, so OpenAlgo ignores the two headers.
        ("nginx.spoofable_ip_headers", Status::Pass),
        ("nginx.access_log_readable", Status::Pass),
        ("net.exposed_ports", Status::Fail),
        ("openalgo.auto_ban", Status::Pass),
    ] {
        assert_eq!(status(&r, id), want, "{id}: {:#?}", r.get(id));
    }
    for id in ["env.flask_debug", "env.trust_proxy_headers", "env.csrf", "env.host_server_https", "env.app_key"] {
        let f = r.get(id).unwrap();
        assert!(f.fix.contains(&env), "{id}'s fix names the file: {}", f.fix);
    }
    assert!(r.get("env.flask_debug").unwrap().fix.contains("FLASK_DEBUG = 'False'"));
    assert!(r.get("env.csrf").unwrap().fix.contains("CSRF_ENABLED = 'TRUE'"));
    assert!(r.get("files.env_mode").unwrap().fix.contains(&format!("chmod 600 {env}")));
    let ports = r.get("net.exposed_ports").unwrap().evidence.clone().unwrap();
    assert!(ports.contains("0.0.0.0:5555") && ports.contains("0.0.0.0:5000") && !ports.contains("8765"), "{ports}");
    // Secrets are masked: neither the placeholder nor the leaked pepper appears whole.
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("a25d94718479b170c16278e321ea6c98"), "the pepper leaked into the report");
    assert!(!json.contains("PLACEHOLDER_APP_KEY"), "the key leaked into the report");
    assert_eq!(r.exit_code(), 3);
    assert!(r.findings.windows(2).all(|w| w[0].status <= w[1].status), "failures first");
}

#[test]
fn with_trust_on_and_the_installers_nginx_a_client_can_fake_its_address() {
    let env = hardened_env();
    let t = tree(&env, 0o600, 0o750, INSTALLER_VHOST, &sockets(&["0100007F:1388"]));
    let r = check(&t);
    assert_eq!(status(&r, "nginx.spoofable_ip_headers"), Status::Fail);
    let f = r.get("nginx.spoofable_ip_headers").unwrap();
    assert!(f.fix.contains("proxy_set_header CF-Connecting-IP \"\""), "{}", f.fix);
    assert!(f.evidence.as_deref().unwrap().contains(&t.nginx_conf.display().to_string()), "{f:?}");
}

#[test]
fn a_hardened_install_passes_every_check() {
    let t = tree(
        &hardened_env(),
        0o600,
        0o750,
        HARDENED_VHOST,
        &sockets(&["0100007F:1388", "0100007F:15B3", "00000000:01BB"]),
    );
    let r = check(&t);
    let not_pass: Vec<_> = r.findings.iter().filter(|f| f.status != Status::Pass).collect();
    assert!(not_pass.is_empty(), "{not_pass:#?}");
    assert_eq!(r.exit_code(), 0);
    assert!(r.one_line().starts_with("server checklist: 0 failing"), "{}", r.one_line());
}

#[test]
fn nginx_on_plain_http_that_proxies_instead_of_redirecting_is_reported() {
    let vhost = "server { listen 80; server_name a.example; location / { proxy_pass http://127.0.0.1:5000; } }";
    let t = tree(
        &hardened_env().replace("https://algo.example.com", "http://a.example"),
        0o600,
        0o750,
        vhost,
        &sockets(&[]),
    );
    let r = check(&t);
    assert_eq!(status(&r, "nginx.tls"), Status::Fail);
    assert_eq!(status(&r, "nginx.hsts"), Status::Fail);
    assert_eq!(status(&r, "env.host_server_https"), Status::Fail);
    let vhost = "server { listen 80; server_name a.example; location / { proxy_pass http://127.0.0.1:5000; } }\n\
                 server { listen 443 ssl; server_name a.example; add_header Strict-Transport-Security max-age=1; \
                 location / { proxy_pass http://127.0.0.1:5000; } }";
    let t = tree(&hardened_env(), 0o600, 0o750, vhost, &sockets(&[]));
    assert_eq!(status(&check(&t), "nginx.tls"), Status::Warn, "HTTPS, but HTTP serves the app too");
}

#[test]
fn bad_env_files_give_unknown_with_the_reason_never_a_pass() {
    let t = tree(&hardened_env(), 0o600, 0o750, HARDENED_VHOST, &sockets(&[]));
    let env = t.openalgo.join(".env");
    type Make<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Make, &str)> = vec![
        ("missing", Box::new(|| ()), "cannot read"),
        (
            "a directory where the file belongs",
            Box::new(|| {
                std::fs::create_dir(&env).unwrap();
            }),
            "cannot read",
        ),
        (
            "broken quoting",
            Box::new(|| std::fs::write(&env, "APP_KEY='abc\nFLASK_DEBUG=True\n").unwrap()),
            "never closed",
        ),
        ("binary", Box::new(|| std::fs::write(&env, b"\x7fELF\x02\x01\x01\x00\x00\x00").unwrap()), "binary"),
        ("huge", Box::new(|| std::fs::write(&env, vec![b'#'; 3 << 20]).unwrap()), "larger"),
    ];
    for (what, make, reason) in cases {
        let _ = std::fs::remove_file(&env);
        let _ = std::fs::remove_dir(&env);
        make();
        let r = check(&t);
        for id in ["env.flask_debug", "env.app_key", "env.api_key_pepper", "env.trust_proxy_headers", "env.csrf"] {
            let f = r.get(id).unwrap();
            assert_eq!(f.status, Status::Unknown, "{what}: {id}: {f:?}");
            assert!(f.reason.as_deref().unwrap_or("").contains(reason), "{what}: {id}: {:?}", f.reason);
        }
    }
}

#[test]
fn nginx_missing_or_failing_gives_unknown_with_the_reason() {
    let t = tree(&hardened_env(), 0o600, 0o750, HARDENED_VHOST, &sockets(&[]));
    let base = Where {
        openalgo_dir: Some(t.openalgo.clone()),
        proc_net: Some(t.proc_net.clone()),
        nginx_bin: Some(t.root.join("no-such-nginx")),
        ..Where::default()
    };
    let r = judge(&gather(&base));
    let f = r.get("nginx.tls").unwrap();
    assert_eq!(f.status, Status::Unknown);
    assert!(f.reason.as_deref().unwrap().contains("not installed"), "{f:?}");
    let failing = t.root.join("failing-nginx");
    std::fs::write(
        &failing,
        "#!/bin/sh\necho 'nginx: [emerg] unknown directive \"bogus\" in /etc/nginx/nginx.conf:3' >&2\nexit 1\n",
    )
    .unwrap();
    chmod(&failing, 0o755);
    let r = judge(&gather(&Where { nginx_bin: Some(failing), ..base.clone() }));
    for id in ["nginx.tls", "nginx.hsts", "nginx.spoofable_ip_headers", "nginx.server_tokens"] {
        let f = r.get(id).unwrap();
        assert_eq!(f.status, Status::Unknown, "{id}");
        assert!(f.reason.as_deref().unwrap().contains("unknown directive"), "{f:?}");
    }
    // With TRUST on and nginx unreadable, the address OpenAlgo trusts cannot be judged either way.
    assert_eq!(status(&r, "env.trust_proxy_headers"), Status::Warn);
    // An nginx that never answers is given up on, and the checklist still comes out.
    let hanging = t.root.join("hanging-nginx");
    std::fs::write(&hanging, "#!/bin/sh\nexec sleep 30\n").unwrap();
    chmod(&hanging, 0o755);
    let start = std::time::Instant::now();
    let w = Where { nginx_bin: Some(hanging), nginx_limit: Some(std::time::Duration::from_millis(300)), ..base };
    let r = judge(&gather(&w));
    assert!(start.elapsed() < std::time::Duration::from_secs(10), "{:?}", start.elapsed());
    let f = r.get("nginx.tls").unwrap();
    assert_eq!(f.status, Status::Unknown);
    assert!(f.reason.as_deref().unwrap().contains("did not finish"), "{f:?}");
}

#[test]
fn a_listener_on_every_interface_on_the_zmq_port_is_exposed_and_one_on_loopback_is_not() {
    let open = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let local = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // All three of OpenAlgo's ports on the test's port, so nothing else on the machine counts.
    let env_for = |port: u16| {
        format!("{}FLASK_PORT = '{port}'\nWEBSOCKET_PORT = '{port}'\nZMQ_PORT = '{port}'\n", hardened_env())
    };
    let t = tree(&env_for(open.local_addr().unwrap().port()), 0o600, 0o750, HARDENED_VHOST, "");
    let real = |t: &Tree| {
        judge(&gather(&Where {
            openalgo_dir: Some(t.openalgo.clone()),
            nginx_config: vec![t.nginx_conf.clone()],
            ..Where::default()
        }))
    };
    let r = real(&t);
    let f = r.get("net.exposed_ports").unwrap();
    assert_eq!(f.status, Status::Fail, "{f:?}");
    assert!(
        f.evidence.as_deref().unwrap().contains(&format!("0.0.0.0:{}", open.local_addr().unwrap().port())),
        "{f:?}"
    );
    let t = tree(&env_for(local.local_addr().unwrap().port()), 0o600, 0o750, HARDENED_VHOST, "");
    let r = real(&t);
    assert_eq!(status(&r, "net.exposed_ports"), Status::Pass, "{:?}", r.get("net.exposed_ports"));
}

/// A private nginx in the test's folder: `nginx -T` of a configuration that includes the vhost,
/// with a self-signed certificate the test makes.
fn real_nginx(vhost: &str) -> (tempfile::TempDir, PathBuf) {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().map(PathBuf::from).find(|p| p.exists());
    let nginx = nginx.expect("nginx is not installed: scripts/test.sh installs it (apt-get install nginx)");
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let ok = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=algo.example.com"])
        .arg("-keyout")
        .arg(p.join("x.key"))
        .arg("-out")
        .arg(p.join("x.pem"))
        .output()
        .expect("openssl");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let vhost = vhost
        .replace("CERT", &p.join("x.pem").display().to_string())
        .replace("KEY", &p.join("x.key").display().to_string());
    std::fs::write(p.join("openalgo.conf"), vhost).unwrap();
    std::fs::write(
        p.join("nginx.conf"),
        format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 16; }}\nhttp {{\n  access_log {d}/access.log;\n  \
             client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n  \
             include {d}/openalgo.conf;\n}}\n",
            d = p.display()
        ),
    )
    .unwrap();
    let wrapper = p.join("nginx-wrapper");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec {} -p {d} -c {d}/nginx.conf \"$@\"\n", nginx.display(), d = p.display()),
    )
    .unwrap();
    chmod(&wrapper, 0o755);
    (d, wrapper)
}

#[test]
fn real_nginx_t_shows_whether_the_spoofable_headers_are_cleared_with_and_without_tls() {
    let env = hardened_env();
    let t = tree(&env, 0o600, 0o750, HARDENED_VHOST, &sockets(&[]));
    let run = |vhost: &str| {
        let (_d, wrapper) = real_nginx(vhost);
        judge(&gather(&Where {
            openalgo_dir: Some(t.openalgo.clone()),
            proc_net: Some(t.proc_net.clone()),
            nginx_bin: Some(wrapper),
            ..Where::default()
        }))
    };
    let installer = run(INSTALLER_VHOST);
    assert_eq!(status(&installer, "nginx.spoofable_ip_headers"), Status::Fail);
    assert_eq!(status(&installer, "nginx.tls"), Status::Pass);
    assert_eq!(status(&installer, "nginx.hsts"), Status::Pass);
    assert_eq!(status(&installer, "nginx.server_tokens"), Status::Warn);
    let hardened = run(&HARDENED_VHOST.replace("server_tokens off;", ""));
    assert_eq!(status(&hardened, "nginx.spoofable_ip_headers"), Status::Pass);
    let plain = run("server { listen 127.0.0.1:18099; server_name algo.example.com; location / { proxy_pass http://unix:/run/openalgo.sock; } }");
    assert_eq!(status(&plain, "nginx.tls"), Status::Fail);
    assert_eq!(status(&plain, "nginx.hsts"), Status::Fail);
    assert_eq!(status(&plain, "nginx.spoofable_ip_headers"), Status::Fail);
}
