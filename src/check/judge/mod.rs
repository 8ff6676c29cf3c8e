//! The checklist's judgements: pure functions from [`Facts`] to [`Finding`]s.
//!
//! - `env`: OpenAlgo's `.env`.
//! - `nginx`: nginx's server for OpenAlgo.
//! - here: file modes, listening ports and OpenAlgo's own auto-ban.

mod env;
mod nginx;

use std::net::IpAddr;

use super::env::EnvFile;
use super::facts::{Fact, Facts, FileFacts};
use super::net::Listener;
use super::{one_line, Finding, Report, Status};

pub use env::env_checks;
use nginx::fronts_openalgo;
pub use nginx::nginx_checks;

/// Judges every fact.
pub fn judge(f: &Facts) -> Report {
    let env_path = f.openalgo_dir.as_ref().map_or_else(|| ".env".to_string(), |d| d.join(".env").display().to_string());
    let nginx = f.nginx.as_ref().map(|(c, _)| c);
    let fronted = nginx.ok().map(|c| fronts_openalgo(c, f.env.as_ref().ok()));
    let mut out = Vec::new();
    out.extend(env_checks(&f.env, &env_path, fronted, f.in_docker));
    out.push(env_file_mode(&f.env_file));
    out.push(db_mode(&f.db_files));
    out.push(keys_mode(&f.keys_dir));
    out.extend(nginx_checks(&f.nginx, f.env.as_ref().ok(), &f.readable));
    out.push(exposed_ports(&f.listeners, f.env.as_ref().ok()));
    out.push(auto_ban(&f.settings));
    Report::new(out)
}

fn finding(id: &'static str, title: &'static str, status: Status, why: impl Into<String>) -> Finding {
    Finding { id, title, status, why: why.into(), fix: String::new(), evidence: None, reason: None }
}

impl Finding {
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }

    fn seen(mut self, evidence: impl Into<String>) -> Self {
        self.evidence = Some(one_line(&evidence.into(), 300));
        self
    }

    fn unknown(id: &'static str, title: &'static str, why: &str, reason: &str) -> Self {
        Finding {
            id,
            title,
            status: Status::Unknown,
            why: why.into(),
            fix: String::new(),
            evidence: None,
            reason: Some(one_line(reason, 300)),
        }
    }
}

fn mode_text(f: &FileFacts) -> String {
    format!("{} is {:04o}, owner uid {}, group gid {}", f.path.display(), f.mode, f.uid, f.gid)
}

fn env_file_mode(f: &Fact<FileFacts>) -> Finding {
    let (id, title) = ("files.env_mode", ".env readable only by OpenAlgo");
    match f {
        Err(reason) => Finding::unknown(id, title, ".env holds OpenAlgo's secrets.", reason),
        Ok(f) if f.mode & 0o077 != 0 => finding(
            id,
            title,
            Status::Fail,
            ".env holds APP_KEY and API_KEY_PEPPER, and other accounts on the server can read it.",
        )
        .fix(format!("sudo chmod 600 {}", f.path.display()))
        .seen(mode_text(f)),
        Ok(f) => finding(id, title, Status::Pass, "Only its owner can read .env.").seen(mode_text(f)),
    }
}

fn db_mode(f: &Fact<Vec<FileFacts>>) -> Finding {
    let (id, title) = ("files.db_mode", "OpenAlgo's databases private");
    let files = match f {
        Err(reason) => {
            return Finding::unknown(id, title, "db/ holds your sign-ins, API keys and broker tokens.", reason)
        }
        Ok(f) => f,
    };
    // NOTE: group access is how Warden itself reaches logs.db (the README's set-up): only others count.
    let open: Vec<&FileFacts> = files.iter().filter(|f| f.mode & 0o007 != 0).collect();
    let Some(dir) = files.first() else {
        return Finding::unknown(id, title, "db/ holds your data.", "db/ was not found");
    };
    if open.is_empty() {
        return finding(id, title, Status::Pass, "Other accounts on the server cannot read OpenAlgo's databases.")
            .seen(mode_text(dir));
    }
    let d = dir.path.display();
    finding(
        id,
        title,
        Status::Fail,
        "Other accounts on the server can read OpenAlgo's databases: sign-ins, encrypted broker tokens and the ban list \
         (OpenAlgo's native installer leaves them world-readable).",
    )
    .fix(format!("sudo chmod o-rwx {d} {d}/*.db* (OpenAlgo and its group, Warden included, keep their access)"))
    .seen(open.iter().take(4).map(|f| mode_text(f)).collect::<Vec<_>>().join("; "))
}

fn keys_mode(f: &Fact<Option<FileFacts>>) -> Finding {
    let (id, title) = ("files.keys_mode", "keys/ private");
    match f {
        Err(reason) => {
            Finding::unknown(id, title, "keys/ holds the keys OpenAlgo signs AI clients' tokens with.", reason)
        }
        Ok(None) => finding(id, title, Status::Pass, "There is no keys/ folder."),
        Ok(Some(f)) if f.mode & 0o077 != 0 => finding(
            id,
            title,
            Status::Fail,
            "keys/ holds the keys OpenAlgo signs AI clients' tokens with, and other accounts can open it.",
        )
        .fix(format!("sudo chmod 700 {}", f.path.display()))
        .seen(mode_text(f)),
        Ok(Some(f)) => finding(id, title, Status::Pass, "Only its owner can open keys/.").seen(mode_text(f)),
    }
}

/// OpenAlgo's ports: the app, its WebSocket and its tick feed.
fn openalgo_ports(env: Option<&EnvFile>) -> Vec<(u16, &'static str)> {
    let port = |k: &str, d: u16| env.and_then(|e| e.get(k)).and_then(|v| v.trim().parse().ok()).unwrap_or(d);
    vec![
        (port("FLASK_PORT", 5000), "the app"),
        (port("WEBSOCKET_PORT", 8765), "its WebSocket"),
        (port("ZMQ_PORT", 5555), "its tick feed (ZMQ)"),
    ]
}

fn exposed_ports(listeners: &Fact<Vec<Listener>>, env: Option<&EnvFile>) -> Finding {
    let (id, title) = ("net.exposed_ports", "OpenAlgo's ports closed to the internet");
    let ls = match listeners {
        Ok(l) => l,
        Err(reason) => {
            return Finding::unknown(id, title, "This is judged from the sockets listening on this machine.", reason)
        }
    };
    let ports = openalgo_ports(env);
    let open: Vec<String> = ls
        .iter()
        .filter(|l| !l.loopback_only())
        .filter_map(|l| ports.iter().find(|(p, _)| *p == l.port).map(|(_, what)| format!("{what} on {}", socket(l))))
        .collect();
    if open.is_empty() {
        return finding(id, title, Status::Pass, "None of OpenAlgo's ports listens beyond this machine.").seen(
            format!("checked ports {}", ports.iter().map(|(p, _)| p.to_string()).collect::<Vec<_>>().join(", ")),
        );
    }
    finding(
        id,
        title,
        Status::Fail,
        "OpenAlgo's ports listen on every interface: anyone can reach the app past nginx, its TLS and every ban, and the \
         tick feed has no password at all.",
    )
    .fix(
        "Bind them to 127.0.0.1: in OpenAlgo's .env set FLASK_HOST_IP, WEBSOCKET_HOST and ZMQ_HOST to '127.0.0.1' (with \
         Docker, publish as 127.0.0.1:5000:5000), and close them in the firewall: sudo ufw deny 5000 && sudo ufw deny 8765 && sudo ufw deny 5555",
    )
    .seen(open.join("; "))
}

fn socket(l: &Listener) -> String {
    match l.addr {
        IpAddr::V6(a) => format!("[{a}]:{}", l.port),
        IpAddr::V4(a) => format!("{a}:{}", l.port),
    }
}

fn auto_ban(settings: &Fact<crate::store::SettingsRow>) -> Finding {
    let (id, title) = ("openalgo.auto_ban", "Who bans");
    match settings {
        Err(reason) => Finding::unknown(id, title, "OpenAlgo's own ban settings are in openalgo.db.", reason),
        Ok(s) if s.auto_ban_enabled == Some(true) => finding(
            id,
            title,
            Status::Pass,
            "OpenAlgo bans by itself; Warden warns first, bans from nginx's log too, and makes repeat offenders permanent.",
        )
        .seen(format!("security_auto_ban_enabled = 1, 404 threshold {}, API key threshold {}", opt(s.threshold_404), opt(s.threshold_api))),
        Ok(s) => finding(id, title, Status::Pass, "OpenAlgo's own auto-ban is off: Warden bans for it.")
            .seen(format!("security_auto_ban_enabled = {}", opt(s.auto_ban_enabled.map(i64::from)))),
    }
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "NULL".into(), |n| n.to_string())
}
